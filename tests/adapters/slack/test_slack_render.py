"""Block Kit rendering: escaping of feed text, mentions, Slack limits, listings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.adapters.slack.render import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_OPTION_TEXT,
    MAX_SECTION_TEXT,
    MAX_SELECT_OPTIONS,
    alert_metadata,
    clip,
    escape_text,
    highlight,
    link,
    mention_markup,
    render_alert,
    render_alerts,
    render_articles,
    safe_url,
    story_menu,
)
from bot.core.models import (
    Alert,
    ArticleView,
)

PUBLISHED = datetime(2025, 3, 1, 14, 3, tzinfo=UTC)


def make_alert(**overrides: Any) -> Alert:
    data: dict[str, Any] = {
        "id": 11,
        "destination": "slack:C1",
        "watch_id": 3,
        "watch_query": '"rare earth"',
        "watch_name": None,
        "title": "China curbs rare earth exports",
        "url": "https://reuters.test/rare-earth?a=1&b=2",
        "source": "Reuters",
        "summary": "Beijing tightened rare earth export rules on Tuesday.",
        "published": PUBLISHED,
        "matched": ("rare earth",),
        "story_key": "s1",
        "feed_url": "https://reuters.test/rss",
        "created_at": PUBLISHED,
    }
    data.update(overrides)
    return Alert(**data)


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every string anywhere in the blocks, for "does X appear" checks."""
    return json.dumps(blocks, ensure_ascii=False)


def assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert len(element["text"]) <= MAX_SECTION_TEXT
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for element in block["elements"]:
                if element["type"] == "static_select":
                    assert 1 <= len(element["options"]) <= MAX_SELECT_OPTIONS
                    for option in element["options"]:
                        assert 1 <= len(option["text"]["text"]) <= MAX_OPTION_TEXT
                        assert len(option["value"]) <= 150
                    continue
                assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT
                assert len(element.get("url", "")) <= 3000


def test_alert_has_linked_headline_source_date_snippet_context_and_buttons() -> None:
    """One alert renders as the issue describes: link, source + Slack date, bold terms, buttons."""
    message = render_alert(make_alert())
    head, source, snippet, ctx, actions = message.blocks
    assert (
        head["text"]["text"]
        == "*<https://reuters.test/rare-earth?a=1&amp;b=2|China curbs rare earth exports>*"
    )
    assert source["elements"][0]["text"] == (
        "*Reuters* · <!date^1740837780^{date_short_pretty} at {time}|2025-03-01 14:03 UTC>"
    )
    assert "tightened *rare earth* export" in snippet["text"]["text"]
    assert ctx["elements"][0]["text"] == "matched: rare earth · watch #3"
    open_button, story, irrelevant, pause, mute_button = actions["elements"]
    assert open_button["url"] == "https://reuters.test/rare-earth?a=1&b=2"
    alert_id = str(make_alert().id)
    assert (story["action_id"], story["value"]) == (f"wirewatch_story:{alert_id}", alert_id)
    assert irrelevant["action_id"] == f"wirewatch_irrelevant:{alert_id}"
    assert (pause["action_id"], pause["value"]) == ("wirewatch_pause:3", "3")
    assert mute_button["action_id"] == "wirewatch_mute:3" and mute_button["value"] == "3"
    assert message.text == "China curbs rare earth exports — Reuters"


def test_also_reported_by_appears_in_the_context_line() -> None:
    """Other outlets with the same story are named once, in the context block."""
    message = render_alert(make_alert(also_reported_by=("AP", "BBC")))
    assert "also reported by AP, BBC" in all_text(message.blocks)


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> markets crash",
        "<!here|here> wake up",
        "<!everyone>",
        "ping <@U123ABC> now",
        "see <#C999|general>",
        "<https://evil.test|click me>",
        "<!subteam^S123>",
    ],
)
def test_feed_text_cannot_produce_mentions_or_links(hostile: str) -> None:
    """Angle brackets in headlines and summaries are escaped, so no mention or link survives."""
    message = render_alert(make_alert(title=hostile, summary=hostile, source=hostile))
    rendered = all_text(message.blocks) + message.text
    for dangerous in (
        "<!channel",
        "<!here",
        "<!everyone",
        "<@U123",
        "<#C999",
        "<https://evil",
        "<!subteam",
    ):
        assert dangerous not in rendered


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Channel"])
def test_bare_broadcast_words_get_a_zero_width_joiner(word: str) -> None:
    """Plain "@channel" text from a feed is defused too (a ZWJ after the @)."""
    escaped = escape_text(f"attention {word} please")
    assert word not in escaped
    assert "@\u200d" + word[1:] in escaped


def test_only_the_configured_user_group_is_mentioned() -> None:
    """Alert.mention becomes <!subteam^ID> in blocks and text; junk mentions are dropped."""
    message = render_alert(make_alert(mention="S0ANALYSTS"))
    assert message.blocks[0]["text"]["text"].startswith("<!subteam^S0ANALYSTS> ")
    assert message.text.startswith("<!subteam^S0ANALYSTS> ")
    assert mention_markup("<!subteam^S0X|@ops>") == "<!subteam^S0X>"
    assert mention_markup("channel") is None
    assert mention_markup("<!channel>") is None
    assert "<!channel>" not in all_text(render_alert(make_alert(mention="<!channel>")).blocks)


def test_escaping_keeps_ampersands_and_pipes_from_breaking_links() -> None:
    """Titles with & and | and URLs with spaces still make one well-formed link."""
    assert link("https://x.test/a b|c", "Q&A | live") == "<https://x.test/a%20b%7Cc|Q&amp;A ∣ live>"
    assert link("javascript:alert(1)", "x") == "x"


def test_highlight_bolds_the_spellings_the_matcher_matched() -> None:
    """Matched terms are bolded as written in the text: any case, hyphenated, plural."""
    text = "Rare  Earth and Rare-Earths; lithium-ion batteries, not lithiumite"
    out = highlight(text, ["rare earth", "battery", "lithium"])
    assert out == ("*Rare  Earth* and *Rare-Earths*; *lithium*-ion *batteries*, not lithiumite")


def test_huge_title_and_summary_fit_slack_limits() -> None:
    """A 20k-character title and summary full of & still fit every limit."""
    huge = "&<>" * 7000
    message = render_alert(
        make_alert(title=huge, summary=huge, source=huge, also_reported_by=(huge,) * 50)
    )
    assert_within_limits(message.blocks)
    assert len(message.text) <= 3000
    assert "&am…" not in all_text(message.blocks)


def test_batch_of_ten_is_one_condensed_listing() -> None:
    """A burst batch becomes one listing: a heading, one section per alert, mute buttons."""
    alerts = [
        make_alert(id=i, title=f"Story {i}", watch_id=3 + i % 2, story_key=f"s{i}")
        for i in range(10)
    ]
    message = render_alerts(alerts)
    assert_within_limits(message.blocks)
    assert message.blocks[0]["text"]["text"] == "*10 new stories*"
    assert sum(1 for b in message.blocks if b["type"] == "section") == 11
    menu, *buttons = message.blocks[-1]["elements"]
    assert menu["action_id"] == "wirewatch_story_pick"
    assert menu["placeholder"]["text"] == "Mute a story…"
    assert [(o["text"]["text"], o["value"]) for o in menu["options"]] == [
        (f"Story {i}", str(i)) for i in range(10)
    ]
    mute_ids = [e["action_id"] for e in buttons]
    assert mute_ids == ["wirewatch_mute:3", "wirewatch_mute:4"]
    assert message.text.startswith("10 new stories: Story 0; Story 1")


def test_a_batch_larger_than_fifty_blocks_is_cut_with_a_count() -> None:
    """Even 200 alerts in one batch stay within 50 blocks and say how many were left out."""
    alerts = [make_alert(id=i, title="T" * 900, watch_id=i) for i in range(200)]
    message = render_alerts(alerts)
    assert_within_limits(message.blocks)
    assert "more_" in all_text(message.blocks)


def test_a_listings_menu_holds_at_most_slacks_100_stories_of_75_characters() -> None:
    """Each story once (by its first alert), headlines cut to Slack's 75 characters, never
    more than 100 options (a listing shows fewer; the menu is capped on its own)."""
    alerts = [make_alert(id=i, title=f"{i} " + "word " * 40, story_key=f"s{i}") for i in range(150)]
    alerts.insert(1, make_alert(id=999, story_key="s0"))  # another watch's alert of story s0
    menu = story_menu(alerts)
    assert menu is not None and len(menu["options"]) == MAX_SELECT_OPTIONS
    assert [o["value"] for o in menu["options"][:2]] == ["0", "1"]
    for option in menu["options"]:
        assert len(option["text"]["text"]) <= MAX_OPTION_TEXT
        assert option["text"]["text"].endswith("…")


def test_metadata_carries_the_first_alert_id() -> None:
    """chat.postMessage metadata lets a resend find the message by alert id."""
    meta = alert_metadata([make_alert(id=5), make_alert(id=6)])
    assert meta == {
        "event_type": "wirewatch_alert",
        "event_payload": {"alert_id": 5, "alert_ids": [5, 6]},
    }


def test_article_listing_is_escaped_and_bolds_matches() -> None:
    """`latest` output escapes feed text and bolds matched terms like alerts do."""
    article = ArticleView(
        1,
        "https://x.test/1",
        "<!here> lithium news",
        "cheap lithium",
        "X",
        PUBLISHED,
        "https://x.test/rss",
        "s",
        ("lithium",),
    )
    blocks = render_articles([article], "*Latest*").blocks
    text = all_text(blocks)
    assert "<!here>" not in text and "|&lt;!here&gt; lithium news>" in text
    assert "cheap *lithium*" in text


def test_alert_without_url_scheme_or_date_still_renders() -> None:
    """A non-http link and a missing date degrade gracefully (no link, no date, no button)."""
    message = render_alert(replace(make_alert(), url="ftp://x.test/a", published=None, summary=""))
    assert_within_limits(message.blocks)
    actions = message.blocks[-1]["elements"]
    assert [a["action_id"].split(":")[0] for a in actions] == [
        "wirewatch_story",
        "wirewatch_irrelevant",
        "wirewatch_pause",
        "wirewatch_mute",
    ]


def test_a_catastrophic_regex_term_renders_at_once_and_bolds_what_matched() -> None:
    """The regex that froze the Discord renderer is run only by RE2 here too."""
    summary = "China says aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh and more words here"
    message = render_alert(make_alert(summary=summary, matched=("/china|(\\w+\\s?)+zzz/",)))
    assert "*China* says aaaaa bbbbb" in all_text(message.blocks)


def test_slack_bolds_the_same_spans_as_discord() -> None:
    """Both renderers take their spans from the core: plurals and hyphens bold on both."""
    from bot.adapters.discord import render as discord_render

    summary = "Rare-earth magnets and rare earths; tariffs on U.S. chips"
    matched = ("rare earth", "tariff", "US", "chip")
    slack = highlight(summary, matched)
    discord = discord_render.highlighted(summary, matched, 500)
    assert slack == "*Rare-earth* magnets and *rare earths*; *tariffs* on *U.S.* *chips*"
    assert discord.replace("**", "*").replace("\\", "") == slack


def test_bidi_overrides_and_control_characters_are_dropped() -> None:
    """U+202E and raw control characters never reach blocks or the notification text."""
    message = render_alert(
        make_alert(title="Invoice \u202egpj.exe\u202c\x1b[0m", summary="a\u2066b\x00c")
    )
    rendered = all_text(message.blocks) + message.text
    assert "\u202e" not in rendered and "\u2066" not in rendered
    assert "\x1b" not in rendered and "\x00" not in rendered
    assert "Invoice gpj.exe" in rendered


def test_links_are_percent_encoded() -> None:
    """Spaces, brackets and non-ASCII in a link are encoded; the label stays readable."""
    assert safe_url("https://news.test/a [b]/ü?q=x y") == (
        "https://news.test/a%20%5Bb%5D/%C3%BC?q=x%20y"
    )


def test_webhook_messages_carry_no_buttons_that_cannot_work() -> None:
    """An incoming webhook reaches no app: its alerts lose the action buttons."""
    from bot.adapters.slack.render import without_buttons

    message = without_buttons(render_alert(make_alert()))
    assert message.blocks and all(b["type"] != "actions" for b in message.blocks)


def test_the_storys_news_of_its_own_is_named_by_headline_and_defused() -> None:
    """Articles of the story that are news of their own show by headline, linked, with
    their outlet; feed text in them mentions no one."""
    message = render_alert(
        make_alert(
            further=(
                ("AP", "Niron raises $100 million <!channel>", "https://ap.test/niron"),
                ("<!here>", "Second item @everyone", "https://x.test/2"),
            )
        )
    )
    text = all_text(message.blocks)
    assert "more on this story: <https://ap.test/niron|Niron raises $100 million" in text
    assert "(AP)" in text
    for dangerous in ("<!channel", "<!here", "@everyone"):
        assert dangerous not in text


def test_a_latest_line_names_its_storys_news_of_its_own() -> None:
    """A story's line in `latest` carries its headlines that are news of their own, as its
    alert does ("more on this story")."""
    article = ArticleView(
        1, "https://reuters.test/1", "China curbs rare earth exports", "Beijing acts.",
        "Reuters", PUBLISHED, "https://reuters.test/rss", "s1",
        also_reported_by=("AP",), coverage=(("AP", "https://ap.test/1"),),
        further=(("Reuters", "Holmium joins the list", "https://reuters.test/2"),),
    )  # fmt: skip
    text = all_text(render_articles([article], "*Latest*").blocks)
    assert "also reported by <https://ap.test/1|AP>" in text
    assert "more on this story: <https://reuters.test/2|Holmium joins the list> (Reuters)" in text


def test_a_latest_line_says_when_its_story_last_grew() -> None:
    """A story listed by its latest coverage, led by an older first report, says when that
    coverage came (each reader's own time); a story that did not grow says nothing."""
    grown = ArticleView(
        1, "https://reuters.test/1", "China curbs rare earth exports", "Beijing acts.",
        "Reuters", PUBLISHED, "https://reuters.test/rss", "s1",
        latest_at=PUBLISHED + timedelta(hours=2),
    )  # fmt: skip
    alone = replace(grown, id=2, story_key="s2", latest_at=None)
    text = all_text(render_articles([grown], "*Latest*").blocks)
    stamp = int((PUBLISHED + timedelta(hours=2)).timestamp())
    assert f"latest coverage <!date^{stamp}^{{ago}}|" in text
    assert "latest coverage" not in all_text(render_articles([alone], "*Latest*").blocks)


@pytest.mark.parametrize(
    "tail",
    [
        "<https://reuters.test/a-long-article-address|China curbs rare earth exports>",
        "<!date^1767225600^{date_short_pretty} at {time}|2026-01-01 00:00 UTC>",
        '`watch add "rare earth" AND (magnet OR export) --name magnets`',
        "```(tariff OR\n         ^```",
        "&amp;",
    ],
)
def test_clipping_never_leaves_a_token_or_code_span_open(tail: str) -> None:
    """A long answer cut to Slack's 3,000 characters stops before a link, date token, code
    span or entity it would cut open (cut open, the rest shows as raw markup or code)."""
    for lead in range(2900, 3000, 7):
        text = "x" * lead + " " + tail + " and more words after it" * 20
        out = clip(text, 3000)
        assert len(out) <= 3000 and out.endswith("…")
        body = out.removesuffix("…")
        assert body.count("<") == body.count(">")
        assert body.count("```") % 2 == 0
        assert body.replace("```", "").count("`") % 2 == 0
        assert not re.search(r"&[a-z]*$", body)
