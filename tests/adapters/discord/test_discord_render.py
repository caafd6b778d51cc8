"""Alert and article embeds: content, Discord's limits, and feed text that must not ping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from bot.adapters.discord import render
from bot.core.models import Alert, ArticleView

PUBLISHED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def make_alert(alert_id: int = 1, **overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "id": alert_id,
        "destination": "discord:1300000000000000001",
        "watch_id": 3,
        "watch_query": '"rare earth"',
        "watch_name": None,
        "title": "China tightens rare earth export rules",
        "url": f"https://reuters.test/rare-earth-{alert_id}",
        "source": "Reuters",
        "summary": "Beijing said on Monday that rare-earth exports need licences. Rare earth "
        "prices rose.",
        "published": PUBLISHED,
        "matched": ("rare earth",),
        "story_key": f"s{alert_id}",
        "feed_url": "https://reuters.test/feed",
        "created_at": PUBLISHED,
    }
    values.update(overrides)
    return Alert(**values)


def test_alert_embed_has_linked_title_source_time_colour_and_footer() -> None:
    """The embed carries what a reader needs: link, publisher, time, watch and its terms."""
    embed = render.render_alert(make_alert())
    assert embed.title == "China tightens rare earth export rules"
    assert embed.url == "https://reuters.test/rare-earth-1"
    assert embed.author.name == "Reuters"
    assert embed.timestamp == PUBLISHED
    assert embed.footer.text == "matched: rare earth · watch #3"
    assert embed.colour == render.watch_colour(3)
    assert embed.thumbnail.url is None
    assert embed.fields == []


def test_matched_terms_are_bold_in_the_description_including_folded_forms() -> None:
    """Matched terms are bolded where they occur, also hyphenated or capitalised."""
    description = render.render_alert(make_alert()).description
    assert description == (
        "Beijing said on Monday that **rare-earth** exports need licences. "
        "**Rare earth** prices rose."
    )


def test_watch_colour_is_stable_and_differs_between_neighbouring_watches() -> None:
    """The same watch always gets the same colour; watches 1..6 all look different."""
    assert render.watch_colour(7) == render.watch_colour(7)
    assert len({render.watch_colour(i).value for i in range(1, 7)}) == 6


def test_thumbnail_name_and_also_reported_by_appear_when_present() -> None:
    """Image -> thumbnail; a named watch shows its name; other outlets get a field."""
    alert = make_alert(
        image_url="https://img.test/a.jpg",
        watch_name="minerals",
        also_reported_by=("SCMP", "Nikkei"),
    )
    embed = render.render_alert(alert)
    assert embed.thumbnail.url == "https://img.test/a.jpg"
    assert embed.footer.text == "matched: rare earth · watch #3 (minerals)"
    assert [(f.name, f.value) for f in embed.fields] == [("Also reported by", "SCMP, Nikkei")]


def test_feed_markdown_is_escaped_and_mentions_are_broken() -> None:
    """Markdown and @everyone / role / user mentions in feed text are shown, never acted on."""
    alert = make_alert(
        title="**Breaking** @everyone <@&150000000000000001>",
        summary="Ask @here or <@140000000000000001> about __rare earth__ `now`",
        source="@everyone News",
    )
    embed = render.render_alert(alert)
    assert embed.title is not None and embed.description is not None
    assert "\\*\\*Breaking\\*\\*" in embed.title
    for text in (embed.title, embed.description, embed.author.name or ""):
        assert "@everyone" not in text
        assert "@here" not in text
        assert "<@&1" not in text
        assert "<@1" not in text
    assert "@\u200beveryone" in embed.title
    assert "\\`now\\`" in embed.description


def test_huge_fields_are_cut_to_discords_limits() -> None:
    """A 10,000-character title, summary, source and outlet list fit their limits."""
    big = "rare earth " * 1000
    alert = make_alert(
        title=big,
        summary=big,
        source="S" * 1000,
        watch_name="n" * 3000,
        also_reported_by=tuple(f"Outlet {i}" for i in range(500)),
    )
    embed = render.render_alert(alert, summary_limit=render.DESCRIPTION_LIMIT)
    assert embed.title is not None and embed.description is not None
    assert render.utf16_len(embed.title) <= render.TITLE_LIMIT
    assert render.utf16_len(embed.description) <= render.DESCRIPTION_LIMIT
    assert render.utf16_len(embed.author.name or "") <= render.AUTHOR_LIMIT
    assert render.utf16_len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert render.utf16_len(embed.fields[0].value or "") <= render.FIELD_VALUE_LIMIT
    assert embed.description.endswith("…")
    assert embed.description.count("**") % 2 == 0  # never a half-bolded term


def test_astral_characters_count_double_towards_the_limit() -> None:
    """Emoji count two UTF-16 units, as Discord counts them, so a title of emoji is cut
    at 128 of them, not 256."""
    title = render.fit("🦀" * 300, render.TITLE_LIMIT)
    assert render.utf16_len(title) <= render.TITLE_LIMIT
    assert title.count("🦀") == 127


def test_default_summary_is_a_short_snippet() -> None:
    """A long summary shows a readable snippet; the link has the rest."""
    embed = render.render_alert(make_alert(summary="word " * 2000))
    assert embed.description is not None
    assert render.utf16_len(embed.description) <= render.DEFAULT_SUMMARY_CHARS


def test_ten_huge_alerts_share_one_message_within_6000_characters() -> None:
    """A burst of ten maximal alerts becomes ten embeds totalling at most 6000."""
    big = "rare earth " * 1000
    alerts = [
        make_alert(i, title=big, summary=big, source="S" * 300, also_reported_by=("X" * 2000,))
        for i in range(1, 11)
    ]
    embeds = render.render_alerts(alerts)
    assert len(embeds) == 10
    assert sum(render.embed_size(e) for e in embeds) <= render.EMBED_TOTAL_LIMIT
    assert [e.url for e in embeds] == [a.url for a in alerts]


def test_mid_sized_batch_keeps_every_summary_by_sharing_the_budget() -> None:
    """Ten alerts with 1,500-character summaries keep a (shorter) summary each."""
    alerts = [make_alert(i, summary="x " * 750) for i in range(1, 11)]
    embeds = render.render_alerts(alerts)
    assert sum(render.embed_size(e) for e in embeds) <= render.EMBED_TOTAL_LIMIT
    assert all(e.description for e in embeds)


def test_more_than_ten_alerts_list_the_rest_in_a_tenth_embed() -> None:
    """Fourteen alerts: nine full embeds and a tenth linking the other five."""
    alerts = [make_alert(i, title=f"Story {i}") for i in range(1, 15)]
    embeds = render.render_alerts(alerts)
    assert len(embeds) == render.EMBEDS_PER_MESSAGE
    assert embeds[-1].title == "5 more alerts"
    assert embeds[-1].description is not None
    for i in range(10, 15):
        assert f"[Story {i}](https://reuters.test/rare-earth-{i})" in embeds[-1].description


def test_alert_message_pings_nobody_by_default() -> None:
    """Without a configured role there is no content and allowed_mentions parses nothing."""
    message = render.alert_message([make_alert(summary="@everyone look")])
    assert message.content is None
    assert message.allowed_mentions.to_dict() == {"parse": []}


def test_configured_role_is_the_only_mention_allowed() -> None:
    """A watch's role goes in the content and is the one id allowed_mentions lets through."""
    role = "150000000000000001"
    alerts = [make_alert(1, mention=role), make_alert(2, mention=f"<@&{role}>")]
    message = render.alert_message(alerts)
    assert message.content == f"<@&{role}>"
    assert message.allowed_mentions.to_dict() == {"parse": [], "roles": [int(role)]}


def test_role_ids_are_read_from_the_usual_spellings() -> None:
    """``123``, ``<@&123>`` and ``role:123`` are one role; anything else is no role."""
    assert render.role_id("123") == render.role_id("<@&123>") == render.role_id("role:123") == 123
    assert render.role_id("@everyone") is None
    assert render.role_id("<@123>") is None
    assert render.role_id(None) is None


def test_notice_text_is_defused_and_within_2000() -> None:
    """Operational notices cannot ping and fit a message's content."""
    text = render.notice_text("Feed @everyone failing " + "x" * 3000)
    assert "@everyone" not in text
    assert render.utf16_len(text) <= render.CONTENT_LIMIT


def test_articles_for_latest_fit_one_message() -> None:
    """Ten stored articles with huge fields render as at most ten embeds within 6000."""
    article = ArticleView(
        1, "https://a.test/1", "T" * 5000, "S " * 5000, "Src" * 200, PUBLISHED,
        "https://a.test/feed", "k", ("s",), "s", 1,
    )  # fmt: skip
    embeds = render.render_articles([replace(article, id=i) for i in range(12)])
    assert 0 < len(embeds) <= 10
    assert sum(render.embed_size(e) for e in embeds) <= render.EMBED_TOTAL_LIMIT


def test_a_latest_embed_names_its_storys_news_of_its_own() -> None:
    """A story's embed in `/latest` carries its headlines that are news of their own, as
    its alert does ("More on this story")."""
    article = ArticleView(
        1, "https://reuters.test/1", "China curbs rare earth exports", "Beijing acts.",
        "Reuters", PUBLISHED, "https://reuters.test/rss", "s1",
        also_reported_by=("AP",), coverage=(("AP", "https://ap.test/1"),),
        further=(("Reuters", "Holmium joins the list", "https://reuters.test/2"),),
    )  # fmt: skip
    [embed] = render.render_articles([article])
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Also reported by"] == "[AP](<https://ap.test/1>)"
    assert fields["More on this story"] == (
        "[Holmium joins the list](<https://reuters.test/2>) · Reuters"
    )


def test_naive_published_time_is_read_as_utc() -> None:
    """A naive datetime is UTC (discord.py would otherwise take it as local time)."""
    embed = render.render_alert(make_alert(published=datetime(2025, 3, 1, 9, 30)))
    assert embed.timestamp == PUBLISHED


def test_non_http_links_and_images_are_left_out() -> None:
    """A javascript: link or data: image from a feed never becomes a clickable URL."""
    alert = make_alert(url="javascript:alert(1)", image_url="data:image/png;base64,xx")
    embed = render.render_alert(alert)
    assert embed.url is None
    assert embed.thumbnail.url is None
    assert isinstance(embed, discord.Embed)


CATASTROPHIC = "/china|(\\w+\\s?)+zzz/"


def test_a_catastrophic_regex_term_renders_at_once_and_bolds_what_matched() -> None:
    """The regex that froze the bot (Python's re backtracks for minutes on this sentence)
    is only ever run by RE2: the test just has to finish."""
    summary = "China says aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh and more words here"
    embed = render.render_alert(make_alert(summary=summary, matched=(CATASTROPHIC,)))
    assert embed.description == (
        "**China** says aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh and more words here"
    )


def test_every_masked_link_form_is_escaped_not_only_the_first() -> None:
    """``[a](url)`` after the first, ``[a](<url>)``, nested brackets: none stays a link."""
    hostile = (
        "[one](https://a.test) then [two](https://evil.test) and [three](<https://evil.test>) "
        "[[four]](https://evil.test) **bold** ||spoiler|| <t:0:R> # heading"
    )
    embed = render.render_alert(make_alert(title=hostile, summary=hostile, matched=()))
    for text in (embed.title or "", embed.description or ""):
        unescaped = [i for i, ch in enumerate(text) if ch in "[]*|<#" and text[i - 1 : i] != "\\"]
        assert unescaped == [], text
    assert render.clean("- list item").startswith("\\-")
    assert render.clean("1. list item").startswith("1\\.")


def test_bidi_overrides_and_control_characters_never_reach_an_embed() -> None:
    """U+202E and friends, and raw control characters, are gone from every field."""
    alert = make_alert(
        title="Invoice \u202egpj.exe\u202c ready\x1b[31m\x00",
        summary="a\u2066b\u2067c\u2068d\u2069e\u200ff\x07g",
        source="Evil\u202e News\r\n",
        also_reported_by=("X\u202eY",),
    )
    embed = render.render_alert(alert)
    texts = [
        embed.title or "",
        embed.description or "",
        embed.author.name or "",
        embed.footer.text or "",
        *(f.value or "" for f in embed.fields),
    ]
    bad = {chr(c) for c in (*range(0x20), 0x7F, 0x200F, *range(0x202A, 0x202F))}
    bad |= {chr(c) for c in range(0x2066, 0x206A)}
    for text in texts:
        assert not bad & set(text), repr(text)
    assert embed.title == "Invoice gpj.exe ready \\[31m"


def test_links_and_thumbnails_are_percent_encoded() -> None:
    """A link with spaces, brackets or non-ASCII becomes a well-formed URL Discord takes."""
    alert = make_alert(
        url="https://news.test/a story [live]?q=rare earth#top part",
        image_url="https://img.test/ünïcode pic.jpg",
    )
    embed = render.render_alert(alert)
    assert embed.url == "https://news.test/a%20story%20%5Blive%5D?q=rare%20earth#top%20part"
    assert embed.thumbnail.url == "https://img.test/%C3%BCn%C3%AFcode%20pic.jpg"
    listing = render.render_alerts([make_alert(i, url="https://n.test/a (b) c") for i in range(11)])
    assert "(https://n.test/a%20%28b%29%20c)" in (listing[-1].description or "")


def test_the_storys_news_of_its_own_is_a_field_of_linked_headlines() -> None:
    """Articles of the story that are news of their own: one field, headline links with
    their outlet, mentions broken."""
    alert = make_alert(
        further=(
            ("AP", "Niron raises $100 million @everyone", "https://ap.test/niron"),
            ("Reuters", "Second item", "javascript:alert(1)"),
        )
    )
    embed = render.render_alert(alert)
    (field,) = [f for f in embed.fields if f.name == "More on this story"]
    assert field.value is not None
    assert "(<https://ap.test/niron>)" in field.value and "· AP" in field.value
    assert "@everyone" not in field.value
    assert "Second item · Reuters" in field.value and "javascript" not in field.value
    assert not [f for f in render.render_alert(alert, compact=True).fields]


def test_a_digest_page_of_long_stories_fits_one_message() -> None:
    """Ten stories of ten watches, with 80-character names and outlets, long headlines
    and long links, under a long heading: the page measured 6,133 characters, which
    Discord refuses whole (it then went out a story per message). Its lines shrink, a
    headline going unlinked before a link is cut, until the page fits."""
    from bot.core import templates

    alerts = [
        replace(
            templates.SAMPLE,
            id=n,
            destination="discord:1",
            watch_id=100 + n,
            watch_name="N" * 70 + f" watch {n:02d}",
            title="Headline " + "x" * 400,
            url="https://news.example/" + "p" * 278,
            source="S" * 80,
            digest="Daily digest for this channel " + "d" * 170,
            template=None,
        )
        for n in range(10)
    ]
    embeds = render.alert_message(alerts).embeds
    assert len(embeds) == 10
    assert sum(render.embed_size(e) for e in embeds) <= render.EMBED_TOTAL_LIMIT
    for embed in embeds:
        for line in (embed.description or "").splitlines():
            assert line.count("](") == line.count(")") or "](" not in line


def test_a_listings_menu_holds_at_most_discords_25_stories_of_100_characters() -> None:
    """Each story once, its headline as a plain label cut to 100 characters, never more
    than 25 options; none under one story's message (it has its buttons)."""
    alerts = [make_alert(i, title=f"**{i}** " + "word " * 40) for i in range(30)]
    alerts.insert(1, make_alert(99, story_key="s0"))  # another watch's alert of story s0
    menu = render.story_menu(alerts)
    assert len(menu) == render.MENU_OPTIONS_LIMIT
    assert [value for _, value in menu[:2]] == ["0", "1"]
    for label, _ in menu:
        assert len(label) <= render.MENU_LABEL_LIMIT and label.endswith("…")
    assert menu[0][0].startswith("**0** word"), "a label shows no markdown: nothing escaped"
    assert render.story_menu(alerts[:1]) == []


def test_a_latest_embed_says_when_its_story_last_grew() -> None:
    """The embed's time is its first report's; a story listed by later coverage has a
    "Latest coverage" field in Discord's relative-time markup, a story that did not grow
    none."""
    grown = ArticleView(
        1, "https://reuters.test/1", "China curbs rare earth exports", "Beijing acts.",
        "Reuters", PUBLISHED, "https://reuters.test/rss", "s1",
        latest_at=PUBLISHED + timedelta(hours=2),
    )  # fmt: skip
    [embed] = render.render_articles([grown])
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Latest coverage"] == f"<t:{int((PUBLISHED + timedelta(hours=2)).timestamp())}:R>"
    assert embed.timestamp == PUBLISHED
    [alone] = render.render_articles([replace(grown, latest_at=None)])
    assert "Latest coverage" not in {f.name for f in alone.fields}
