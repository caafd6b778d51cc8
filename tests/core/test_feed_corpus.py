"""Our own feed documents (tests/data/feeds) each yield their items or fail with a reason.

Each file reproduces one oddity met in real feeds (tests/data/feeds/README.md says which);
they are small, written for this project, and always present, so these tests run on any
clone. The table below is the contract, one line per file.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.api import Caller
from bot.core.articles import SUMMARY_MAX_CHARS, article_from_entry, clean_text
from bot.core.errors import ParseError
from bot.core.models import Article, FeedHealth, ParsedFeed
from bot.core.parsing import parse_feed
from tests.feedserver import FeedServer
from tests.support import TEST_FEEDS, FakeClock, core_for, feed_bytes, make_settings

SEEN_AT = datetime(2030, 1, 1, tzinfo=UTC)
ARTICLE_URL = "https://www.harbordaily.example/world/2026/11/24/us-china-trade-talks-kuala-lumpur"

# filename -> number of items, or "fails: <substring of the ParseError reason>".
EXPECTED: dict[str, int | str] = {
    "api-json-not-a-feed.json": "fails: not a feed: JSON document is not a JSON Feed",
    "atom-namespace-odd-prefix.rss": 1,
    "atom-no-declaration.atom": 2,
    "bing-news-search.rss": 2,
    "blank-lines-before-declaration.rss": 1,
    "bogus-prolog.rss": 2,
    "cdata-whitespace-no-guid.rss": 2,
    "dcterms-dates.rss": 3,
    "default-namespace-on-rss.rss": 2,  # the same story twice: both parsed, deduped later
    "double-escaped-titles.rss": 2,
    "empty-self-closed-elements.rss": 3,
    "empty-body.xml": "fails: empty body",
    "empty-channel.rss": 0,
    "feedburner-origlink.atom": 1,
    "feedburner-origlink.rss": 4,
    "full-text-in-description.rss": 1,
    "gb2312-slash-dates.rss": 2,
    "google-alerts.atom": 2,
    "google-news-legacy-2012.rss": 2,
    "google-news-search.rss": 5,
    "google-news-top.atom": 2,
    "gzip-compressed.rss.gz": 5,
    "html-entity-no-prolog.rss": 1,
    "html-page-not-a-feed.html": "fails: not a feed: looks like an HTML page",
    "illegally-nested-empty-items.rss": 3,  # 6 <item> tags, 3 are empty nested <item />
    "intranet-links.atom": 2,
    "intranet-links.rss": 4,
    "invalid-character-reference-z-date.rss": 2,
    "iso-8859-1-declared-self-closed.rss": 4,
    "iso-8859-1-undeclared-no-prolog.rss": 3,  # 4 <item>s, one has nothing in it
    "json-feed-1.0.json": 2,
    "json-feed-1.1-escaped-slashes.json": 2,
    "json-feed-truncated.json": 2,  # cut mid-string: the 2 complete items before the cut
    "localized-month-names.rss": 4,
    "markup-as-text-in-titles.atom": 2,
    "markup-as-text-in-titles.rss": 3,
    "nested-titles-in-items.rss": 2,
    "pheedo-advert-items.rss": 4,  # 2 of them adverts: see ADVERTS
    "php-warning-before-xml.rss": 1,
    "prefixed-atom-entries.atom": 1,
    "prefixed-rss-2.0-elements.rss": 2,
    "raw-ampersand.rss": 4,
    "raw-control-character.rss": 3,
    "relative-links-two-digit-year.rss": 2,
    "rss-0.90-rdf-no-dates.rdf": 2,
    "rss-0.91-netscape-doctype.rss": 1,
    "rss-1.0-rdf.rdf": 2,
    "rss-in-json.json": 2,
    "rss2-clean.rss": 3,
    "shift-jis-undeclared.atom": 2,
    "syndication-module-hourly.rss": 1,
    "text-only-in-body-elements.rss": 4,
    "truncated-after-two-items.rss": 2,
    "truncated-server-error.rss": "fails: truncated XML: no items recovered",
    "utf-16-bom.rss": 2,
    "utf-16be-undeclared-no-bom.rss": 2,
    "utf-8-bom.rss": 2,
    "utf-8-labelled-iso-8859-1.rss": 1,
    "utf-8-with-stray-latin-1-byte.rss": 2,
    "windows-1251-declared.rss": 3,
    "windows-1252-smart-quotes.rss": 2,
    "xhtml-doctype-before-rss.rss": 1,
    "xml-base-relative-links.atom": 2,
    "xml-base-relative-links.rss": 2,
}


def _parse(name: str, url: str | None = None) -> ParsedFeed:
    return parse_feed(feed_bytes(TEST_FEEDS / name), url=url or f"https://feeds.example.org/{name}")


def _articles(name: str, url: str) -> list[Article | None]:
    """Each item of a test feed as the poller cleans it (None: no article)."""
    feed = _parse(name, url)
    return [
        article_from_entry(e, feed_url=url, feed_title=feed.title, seen_at=SEEN_AT)
        for e in feed.entries
    ]


def test_table_covers_every_file_in_tests_data_feeds() -> None:
    """The expectation table names exactly the documents present (the README aside)."""
    present = {p.name for p in TEST_FEEDS.iterdir() if p.name != "README.md"}
    assert present == set(EXPECTED)


# filename -> items that are an ad server's adverts (parsed, but no article).
ADVERTS = {"pheedo-advert-items.rss": 2}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_yields_its_items_or_fails_with_reason(name: str) -> None:
    """Each file yields the stated number of usable items, or a ParseError with the
    stated reason; every item but an advert becomes an article with identity keys and a
    UTC date."""
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(ParseError) as caught:
            _parse(name)
        assert expected.removeprefix("fails: ") in caught.value.reason
        return
    feed = _parse(name)
    assert len(feed.entries) == expected
    adverts = 0
    for entry in feed.entries:
        assert entry.published is None or entry.published.tzinfo is not None
        article = article_from_entry(
            entry,
            feed_url=f"https://feeds.example.org/{name}",
            feed_title=feed.title,
            seen_at=SEEN_AT,
        )
        if article is None:
            adverts += 1
            continue
        assert article.identity_keys
        assert article.title
        assert article.published.tzinfo is not None
    assert adverts == ADVERTS.get(name, 0)


async def test_an_article_carried_whole_in_its_description_matches_on_every_paragraph(
    tmp_path: Path,
) -> None:
    """The trade-talks article sits whole (2,500 characters) in <description>: watches on
    words from its first paragraph to its last all alert, while the alert's summary stays
    a short display cut."""
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    watches = ["Bessent", '"He Lifeng"', "soybeans", "Greer", '"rare earth"', "yuan"]
    watches += ["Rotterdam", '"joint statement"']  # the last two paragraphs
    async with FeedServer() as server:
        name = "full-text-in-description.rss"
        server.set_feed(f"/{name}", feed_bytes(TEST_FEEDS / name))
        settings = make_settings(
            tmp_path, feeds=[server.url(f"/{name}")], watches=watches, poll={"backfill": 1}
        )
        async with core_for(settings, clock=clock) as core:
            report = await core.poll(due_only=False)
            alerts = await core.store.alerts_by_ids(report.alert_ids)
    assert sorted(a.watch_query for a in alerts) == sorted(watches)
    assert {a.title for a in alerts} == {"U.S. and China open trade talks in Kuala Lumpur"}
    assert all(len(a.summary) <= SUMMARY_MAX_CHARS for a in alerts)
    assert alerts[0].summary.startswith("KUALA LUMPUR — Senior U.S. and Chinese negotiators")


async def test_google_news_alerts_once_per_article_with_the_real_outlet_and_link(
    tmp_path: Path,
) -> None:
    """A Google News search feed: an old-format link alerts with the article's own URL, the
    outlet comes from <source>, and Capital Wire's article alerts once although Google
    lists it twice, and again under a fresh token on the next poll."""
    clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    name = "google-news-search.rss"
    body = feed_bytes(TEST_FEEDS / name)
    async with FeedServer() as server:
        settings = make_settings(
            tmp_path,
            feeds=[server.url(f"/{name}")],
            watches=['"trade talks"', "Greer"],
            poll={"backfill": 10},
        )
        server.set_feed(f"/{name}", body)
        async with core_for(settings, clock=clock) as core:
            report = await core.poll(due_only=False)
            alerts = await core.store.alerts_by_ids(report.alert_ids)
            # Google re-encodes the Capital Wire link (new token, new guid).
            token = parse_feed(body, url=server.url(f"/{name}")).entries[2].guid or ""
            server.set_feed(
                f"/{name}", body.replace(token.encode(), token[:-6].encode() + b"Zz9Yy8")
            )
            clock.advance(minutes=10)
            again = await core.poll(due_only=False)
    by_watch = {a.watch_query: a for a in alerts}
    assert sorted(a.watch_query for a in alerts) == ['"trade talks"', "Greer"]
    talks = by_watch['"trade talks"']
    assert (talks.source, talks.url) == ("Harbor Daily", ARTICLE_URL)
    assert talks.title == "Bessent and He Lifeng open trade talks in Kuala Lumpur"
    assert "Harbor Daily" not in talks.summary
    greer = by_watch["Greer"]
    assert (greer.source, greer.title) == (
        "Capital Wire",
        "Greer says chip export rules are 'not a bargaining chip'",
    )
    assert again.alert_ids == []


@pytest.mark.parametrize("workers", [0, 1], ids=["in the loop", "in a worker"])
async def test_one_poll_of_every_file_marks_the_broken_ones_and_stores_the_rest(
    tmp_path: Path, workers: int
) -> None:
    """Served from a local server and polled together, each unreadable document marks only
    its own feed failing (with the parser's reason); every other feed is healthy. The same
    parsed in the event loop and in a worker process (which gets the bodies as sent)."""
    clock = FakeClock()
    async with FeedServer() as server:
        urls = {}
        for path in sorted(TEST_FEEDS.iterdir()):
            if path.name == "README.md":
                continue
            kind = {".json": "application/json", ".html": "text/html"}.get(
                path.suffix, "application/xml"
            )
            server.set_feed(
                f"/{path.name}", feed_bytes(path), content_type=kind, gzip=path.suffix == ".gz"
            )
            urls[path.name] = server.url(f"/{path.name}")
        settings = make_settings(
            tmp_path, feeds=list(urls.values()), poll={"failing_after": 1, "workers": workers}
        )
        async with core_for(settings, clock=clock) as core:
            core.poller.pool_min_feeds = 0  # a test's few feeds, as a big install's many
            await core.poll(due_only=False)
            assert core.poller.prepare_pool.running is (workers > 0)
            feeds = {f.url: f for f in await core.api.list_feeds(Caller.console())}
            stored = await core.api.latest(Caller.console(), limit=500)
    for name, url in urls.items():
        expected = EXPECTED[name]
        if isinstance(expected, str):
            assert feeds[url].health is FeedHealth.FAILING, name
            assert expected.removeprefix("fails: ") in (feeds[url].last_error or ""), name
        else:
            assert feeds[url].health is FeedHealth.OK, (name, feeds[url].last_error)
    stored_feeds = {a.feed_url for a in stored.articles}
    with_items = {urls[n] for n, e in EXPECTED.items() if isinstance(e, int) and e}
    assert stored_feeds == with_items


# --- encodings ---------------------------------------------------------------------


def test_declared_windows_1251_and_gb2312_decode() -> None:
    """Declared legacy encodings come out as proper Cyrillic and Chinese."""
    assert _parse("windows-1251-declared.rss").entries[0].title == (
        "Пошлины на сталь обсудят в Пекине"
    )
    entry = _parse("gb2312-slash-dates.rss").entries[0]
    assert entry.title == "关税谈判进入第二轮，双方表示乐观"
    assert entry.published == datetime(2026, 11, 20, 9, 45, tzinfo=UTC)  # '2026/11/20 09:45:00'


def test_undeclared_shift_jis_is_sniffed() -> None:
    """Shift_JIS without any declaration is recognised by its kana."""
    feed = _parse("shift-jis-undeclared.atom")
    assert feed.entries[0].title == "ブログの記事が反映されないときの確認ポイント"
    assert feed.warning is not None and "cp932" in feed.warning


def test_undeclared_latin1_is_not_read_as_utf8() -> None:
    """Latin-1 bytes without a prolog keep their accents instead of U+FFFD."""
    titles = [e.title for e in _parse("iso-8859-1-undeclared-no-prolog.rss").entries]
    assert "La criminalité liée surtout à... l'ennui ?" in titles
    assert "Où dîner près du vieux port ?" in titles
    assert not any("\ufffd" in t for t in titles)


def test_declared_latin1_with_a_self_closed_element_recovers_all_items() -> None:
    """ISO-8859-1 with <slash:comments /> (the fast parser stops after it) keeps all four
    items, through the tolerant fallback, umlauts intact."""
    feed = _parse("iso-8859-1-declared-self-closed.rss")
    assert len(feed.entries) == 4
    assert feed.parser == "feedparser"
    assert "wünschen" in feed.entries[0].summary
    assert feed.entries[2].title == "Zölle: Brüssel prüft Gegenmaßnahmen"


def test_windows_1252_smart_quotes_and_euro_sign() -> None:
    """cp1252's curly quotes, dash, ellipsis and euro sign (not in Latin-1) decode."""
    entry = _parse("windows-1252-smart-quotes.rss").entries[0]
    assert entry.title == "“Déjà vu” on tariffs – markets shrug at the €2bn levy"
    assert entry.summary == "Traders say they’ve seen this before… twice."


def test_utf8_bytes_under_a_latin1_label_stay_utf8() -> None:
    """A wrong ISO-8859-1 declaration on UTF-8 bytes is overridden, and said so."""
    feed = _parse("utf-8-labelled-iso-8859-1.rss")
    assert feed.entries[0].title == "Zürich bankers wary of naïve optimism on trade"
    assert "declared iso-8859-1 but bytes are UTF-8" in (feed.warning or "")


def test_utf8_with_a_stray_legacy_byte_stays_utf8() -> None:
    """One Latin-1 byte pasted into UTF-8 costs that byte's reading, not every accent in
    the document (which a wholesale legacy decode would garble)."""
    feed = _parse("utf-8-with-stray-latin-1-byte.rss")
    assert [e.title for e in feed.entries] == [
        "Malmö shipyard wins Chinese ferry order",
        "Tromsø salmon exports hit by new Chinese inspections",
    ]
    assert feed.entries[0].summary.endswith("the yard said. Café talk.")
    assert "1 stray non-UTF-8 bytes read as cp1252" in (feed.warning or "")


@pytest.mark.parametrize(
    "name", ["utf-16-bom.rss", "utf-16be-undeclared-no-bom.rss", "utf-8-bom.rss"]
)
def test_utf16_and_byte_order_marks(name: str) -> None:
    """UTF-16 with a BOM or without one (and without a declaration), and UTF-8 with a
    BOM, read like plain UTF-8."""
    feed = _parse(name)
    assert len(feed.entries) == 2
    assert all(e.title and "\ufeff" not in e.title for e in feed.entries)
    if name.startswith("utf-16"):
        assert feed.entries[0].summary == "Volumes rose 9 % year on year — the best November yet."


# --- malformed documents -------------------------------------------------------------


def test_raw_ampersand_feed_keeps_every_item_with_images() -> None:
    """Raw '&' in media URLs and a title: all items kept, each with its image URL."""
    feed = _parse("raw-ampersand.rss")
    assert len(feed.entries) == 4
    assert all(e.image_url and "&quality=85&auto=format" in e.image_url for e in feed.entries)
    assert feed.entries[3].title == "Q&A: what the new chip rules mean"
    assert feed.warning is not None and "raw '&'" in feed.warning


def test_html_entities_invalid_references_and_control_characters_are_repaired() -> None:
    """&nbsp;/&mdash; (undefined in XML) and &#x1F; are repaired; a raw 0x10 byte costs
    no item and never reaches cleaned text."""
    nbsp = _parse("html-entity-no-prolog.rss")
    assert "repaired HTML entities" in (nbsp.warning or "")
    assert clean_text(nbsp.entries[0].title) == "November ranking: three engines swap places"
    charref = _parse("invalid-character-reference-z-date.rss")
    assert "repaired invalid character references" in (charref.warning or "")
    assert clean_text(charref.entries[0].summary) == "Le régulateur a tranché après deux ans."
    control = _parse("raw-control-character.rss")
    assert len(control.entries) == 3
    assert clean_text(control.entries[1].summary) == "Log line: readyset"


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("blank-lines-before-declaration.rss", "whitespace before the XML declaration"),
        ("php-warning-before-xml.rss", "removed text before the XML document"),
        ("bogus-prolog.rss", None),
    ],
)
def test_junk_before_the_document_costs_no_item(name: str, warning: str | None) -> None:
    """Blank lines before <?xml?>, a PHP warning printed before it, or a mangled
    '<?phpxml ...?>' prolog: every item is still read."""
    feed = _parse(name)
    assert len(feed.entries) == EXPECTED[name]
    assert feed.warning == warning


def test_truncated_documents_keep_their_complete_items_with_a_warning() -> None:
    """XML cut inside the third item and a JSON Feed cut mid-string keep what came
    before the cut, and say so."""
    xml = _parse("truncated-after-two-items.rss")
    assert [e.title for e in xml.entries] == ["Markets live, part 1", "Markets live, part 2"]
    assert xml.warning == "truncated XML: recovered 2 items"
    json = _parse("json-feed-truncated.json")
    assert json.entries[0].title == "Last thoughts on modifier keys"
    assert json.warning == "truncated JSON: recovered 2 items"


def test_illegally_nested_empty_items_are_not_counted_as_lost() -> None:
    """<item /> nested inside each real item is no item, and no reason for a fallback."""
    feed = _parse("illegally-nested-empty-items.rss")
    assert [e.link for e in feed.entries] == [f"https://columns.example/{n}" for n in (1, 2, 3)]
    assert feed.parser == "fast" and feed.warning is None


# --- fields --------------------------------------------------------------------------


def test_google_news_source_publisher_and_title_suffix() -> None:
    """<source url=...> fills source_name/url; the article drops ' - Publisher'."""
    url = "https://news.google.com/rss/search?q=%22trade+talks%22"
    feed = _parse("google-news-search.rss", url)
    entry = feed.entries[2]
    assert entry.source_name == "Capital Wire"
    assert entry.source_url == "https://www.capitalwire.example"
    article = article_from_entry(entry, feed_url=url, feed_title=feed.title, seen_at=SEEN_AT)
    assert article is not None
    assert article.title == "Greer says chip export rules are 'not a bargaining chip'"
    assert article.source == "Capital Wire"
    assert article.url.startswith("https://news.google.com/rss/articles/CBMi")


def test_legacy_google_news_redirect_unwrapped_and_suffix_split() -> None:
    """2012 Google News: no <source>, so the suffix names the publisher; url= is unwrapped."""
    url = "https://news.google.com/news?topic=b&output=rss"
    feed = _parse("google-news-legacy-2012.rss", url)
    article = article_from_entry(
        feed.entries[0], feed_url=url, feed_title=feed.title, seen_at=SEEN_AT
    )
    assert article is not None
    assert article.title == "Steelmakers 'outraged' as duty ruling slips again"
    assert article.source == "Harbor Daily"
    assert (
        article.url == "http://www.harbordaily.example/business/steel/2012/03/10/duty-ruling.html"
    )


def test_google_alerts_links_unwrapped_and_bold_stripped() -> None:
    """Google Alerts: google.com/url?...&url= links lead to the article; <b> is gone."""
    url = "https://www.google.com/alerts/feeds/00000000000000000000/1111111111111111111"
    articles = _articles("google-alerts.atom", url)
    assert articles[0] is not None and articles[1] is not None
    assert (
        articles[0].url
        == "https://www.pacificledger.example/industry/magnets-rare-earth-curbs?ref=alerts"
    )
    assert articles[0].title == "Magnet makers scramble as rare earth curbs bite"
    assert articles[1].title == "The rare-earth garden: a mineral collector's story"
    # The alert feed only relays: each article's publisher is where its link leads.
    assert [a.source for a in articles] == ["pacificledger.example", "hobbyrocks.example"]


def test_feedburner_and_pheedo_items_link_the_publishers_own_url() -> None:
    """``feedburner:origLink`` (and Pheedo's) replaces the click-tracking link, matched to
    its item by guid when every item repeats the channel's link; an item without one
    keeps its link."""
    links = [(e.title, e.link) for e in _parse("feedburner-origlink.rss").entries]
    site = "https://pacificledger.example/markets"
    assert links == [
        ("Copper climbs as smelters cut output", f"{site}/copper-climbs?src=rss&ref=fb"),
        ("Yuan steadies after central bank fixing", f"{site}/yuan-steadies"),
        ("Port volumes hold near record", f"{site}/port-volumes"),
        ("Sponsored: a webinar on freight hedging", "https://ads.pacificledger.example/click?s=41"),
    ]
    [entry] = _parse("feedburner-origlink.atom").entries
    assert entry.link == "https://harbournotes.example/2026/11/strait.html"


def test_adverts_a_feed_relay_inserted_are_not_articles() -> None:
    """ "Featured Advertiser" items that link only to an ad server (Pheedo's, a FeedBurner
    ad feed's) become no article; the relayed article beside them is its publisher's."""
    url = "https://feeds.harbordaily.example/wellness.rss"
    articles = _articles("pheedo-advert-items.rss", url)
    assert [(a.title, a.url) for a in articles if a is not None] == [
        (
            "Clinics brace for a long flu season",
            "https://www.harbordaily.example/wellness/2026/11/24/flu-season-clinics",
        ),
        (
            "Walking an hour a day: what the new study found",
            "https://www.harbordaily.example/wellness/2026/11/23/walking-study",
        ),
    ]


def test_links_to_private_and_local_hosts_are_kept() -> None:
    """An intranet feed (an operator's, with private addresses allowed): the fast parser
    drops every link to a private or local host (``*.local``, ``10.x``, ``*.internal``,
    ``192.168.x``, ``*.lan``); each item keeps its own, an Atom entry its alternate."""
    rss = _parse("intranet-links.rss", "http://wiki.tradedesk.local/feed.rss")
    assert [e.link for e in rss.entries] == [
        "http://wiki.tradedesk.local/pages/rare-earth-licences?rev=41",
        "http://10.20.0.15/desk/notes/tariff-schedule",
        "https://docs.corp.internal/briefings/export-controls?id=3&view=deck",
        "https://www.mofcom.example/notice/2026/117",
    ]
    atom = _parse("intranet-links.atom", "http://tracker.desk.lan/feed.atom")
    assert [e.link for e in atom.entries] == [
        "http://tracker.desk.lan/tickets/5521",
        "http://192.168.40.7/tickets/5522",
    ]


def test_bing_news_links_lead_to_the_article_and_name_its_publisher() -> None:
    """Bing News: the click counter is unwrapped (tracking dropped), and each article is
    its publisher's as ``<News:Source>`` names it, not "port fees - BingNews"."""
    url = "https://www.bing.com/news/search?q=port+fees&format=rss"
    articles = _articles("bing-news-search.rss", url)
    assert [(a.url, a.source) for a in articles if a is not None] == [
        (
            "https://www.harbordaily.example/business/2026/11/port-fees-take-effect.html",
            "Harbor Daily",
        ),
        ("https://pacificledger.example/shipping/reroute", "Pacific Ledger"),
    ]


def test_relative_links_resolve_against_feed_link_and_url() -> None:
    """Relative channel and item links become absolute on the feed's host (an item link
    relative to the channel link's directory too); 'Thu, 26 Nov 26 ...' is 2026."""
    url = "https://www.northwind.example/en/games/northwind/news/rss"
    feed = _parse("relative-links-two-digit-year.rss", url)
    assert feed.link == "https://www.northwind.example/en/games/northwind/news"
    assert [e.link for e in feed.entries] == [
        "https://www.northwind.example/en/games/northwind/news/detail/10743874-winter-event",
        "https://www.northwind.example/en/games/northwind/detail/10743870-maintenance",
    ]
    assert feed.entries[0].title == "Winter event & patch 7.2"
    assert feed.entries[0].published == datetime(2026, 11, 26, 18, 0, 29, tzinfo=UTC)


def test_month_and_day_names_in_another_language_are_dates() -> None:
    """Portuguese RFC 822 dates are read ("Qua, 02 Dez 2026"), so a years-old item is
    known to be old; a day the month does not have stays undated."""
    entries = _parse("localized-month-names.rss").entries
    assert [e.published for e in entries] == [
        datetime(2026, 12, 2, 12, 15, tzinfo=UTC),
        datetime(2026, 10, 31, 21, 40, tzinfo=UTC),
        datetime(2026, 9, 25, 10, 5, tzinfo=UTC),
        None,  # 31 Fev
    ]


def test_missing_dates_stay_none_and_article_uses_seen_at() -> None:
    """RSS 0.90 has no dates: entries say None, articles say seen_at, not known."""
    feed = _parse("rss-0.90-rdf-no-dates.rdf")
    assert all(e.published is None for e in feed.entries)
    assert feed.entries[0].title == "Außenminister reist nach Peking"
    article = article_from_entry(
        feed.entries[0], feed_url="https://tagesbote.example/rss", feed_title=feed.title,
        seen_at=SEEN_AT,
    )  # fmt: skip
    assert article is not None
    assert article.published == SEEN_AT and not article.published_known
    assert article.url == "https://tagesbote.example/ausland/peking-reise-100.html"


def test_odd_date_formats() -> None:
    """'... 02:11:21 Z', a date inside CDATA, a bare dc:date day and nanosecond ISO all
    parse to UTC."""
    assert _parse("invalid-character-reference-z-date.rss").entries[0].published == datetime(
        2026, 5, 15, 2, 11, 21, tzinfo=UTC
    )
    assert _parse("cdata-whitespace-no-guid.rss").entries[0].published == datetime(
        2026, 11, 23, 13, 12, tzinfo=UTC
    )
    assert _parse("rss-1.0-rdf.rdf").entries[0].published == datetime(2026, 11, 20, tzinfo=UTC)
    assert _parse("google-news-top.atom").entries[1].published == datetime(
        2026, 11, 24, 6, 12, 45, tzinfo=UTC
    )


def test_cdata_padded_with_whitespace_is_trimmed() -> None:
    """Titles and descriptions whose CDATA sits between newlines and indentation come
    back trimmed; tracking parameters leave the article URL."""
    feed = _parse("cdata-whitespace-no-guid.rss")
    entry = feed.entries[0]
    assert entry.title == "India, China hold talks on trade deficit"
    assert clean_text(entry.summary) == "Officials met in New Delhi on Monday."
    article = article_from_entry(entry, feed_url="https://southernpost.example/rss",
                                 feed_title=feed.title, seen_at=SEEN_AT)  # fmt: skip
    assert article is not None
    assert (
        article.url
        == "https://southernpost.example/business/india-china-trade-deficit/article8801.ece"
    )


def test_namespaced_dialects_read_like_plain_rss() -> None:
    """A default namespace on <rss>, Atom under an odd prefix inside RSS, RSS 1.0 and a
    Netscape RSS 0.91 DOCTYPE all give their items."""
    assert _parse("default-namespace-on-rss.rss").entries[0].title == (
        "Grain terminal expands rail link to the border"
    )
    odd = _parse("atom-namespace-odd-prefix.rss").entries[0]
    assert odd.title == "Dazi, verso un accordo tra Washington e Pechino"
    assert odd.published == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert _parse("rss-1.0-rdf.rdf").entries[1].author == "R. Mendes"
    assert _parse("rss-0.91-netscape-doctype.rss").entries[0].link == (
        "https://courtbulletin.example/decisions/4410"
    )


def test_ttl_from_rss_ttl_and_syndication_module() -> None:
    """<ttl> minutes and sy:updatePeriod/Frequency become seconds."""
    assert _parse("rss2-clean.rss").ttl_seconds == 15 * 60
    assert _parse("syndication-module-hourly.rss").ttl_seconds == 3600
    assert _parse("windows-1252-smart-quotes.rss").ttl_seconds is None


def test_double_escaped_titles_read_naturally() -> None:
    """'Trump&amp;apos;s' in the bytes reads "Trump's" after cleaning."""
    titles = [clean_text(e.title) for e in _parse("double-escaped-titles.rss").entries]
    assert titles == [
        "Steel workers gear up for strike, potentially derailing Trump's steel resurgence",
        "Why it's a bad week for soybean farmers",
    ]


def test_json_feed_fields() -> None:
    """JSON Feed: url, content_html/content_text, dates with offsets, authors, escaped '/'."""
    feed = _parse("json-feed-1.0.json")
    first = feed.entries[0]
    assert first.link == "https://brightlines.example/linked/2026/11/24/trade-podcast"
    assert first.published == datetime(2026, 11, 25, 1, 54, 17, tzinfo=UTC)
    assert first.content == "<p>Guests on the <em>rare-earth</em> rules.</p>"
    assert first.author == "Noor Ellis"
    escaped = _parse("json-feed-1.1-escaped-slashes.json").entries
    assert escaped[0].link == "https://dorny.example/updates/new-font"
    assert escaped[0].author == "Lu Dorny"
    assert escaped[1].published == datetime(2026, 11, 18, 10, tzinfo=UTC)  # date_modified


def test_rss_in_json_items_read() -> None:
    """RSS-in-JSON: items with link, description, pubDate and an image enclosure."""
    feed = _parse("rss-in-json.json")
    assert feed.title == "Morning Notes" and feed.ttl_seconds == 1800
    first, second = feed.entries
    assert first.link == "http://morningnotes.example/2026/11/24.html#a080605"
    assert first.published == datetime(2026, 11, 24, 12, 20, 5, tzinfo=UTC)
    assert second.image_url == "http://morningnotes.example/images/tariffs.png"


def test_media_and_enclosure_images() -> None:
    """Images come from media:content, an image enclosure or media:thumbnail; an audio
    enclosure is no image."""
    entries = _parse("rss2-clean.rss").entries
    assert [e.image_url for e in entries] == [
        "https://img.harbordaily.example/2026/11/entity-list.jpg",
        "https://img.harbordaily.example/2026/11/soybeans.jpg",
        "https://img.harbordaily.example/pod/cover-2026-11-23.png",
    ]


def test_gzip_file_as_the_fetcher_hands_it_on() -> None:
    """A gzip-compressed document (decompressed as the fetcher would) reads normally."""
    feed = _parse("gzip-compressed.rss.gz")
    assert [e.title for e in feed.entries][:2] == [
        "Swift tip #1: result builders",
        "Swift tip #2: result builders",
    ]


@pytest.mark.parametrize("workers", [0, 1], ids=["in the loop", "in a worker"])
async def test_a_gzip_file_served_without_content_encoding_is_still_the_feed(
    tmp_path: Path, workers: int
) -> None:
    """An object store serving a pre-compressed feed without ``Content-Encoding`` (its
    upload's metadata missing) sends gzip bytes as the body: the feed is read, healthy,
    and says how it came."""
    raw = (TEST_FEEDS / "gzip-compressed.rss.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    async with FeedServer() as server:
        server.set_feed("/feed.xml", raw, content_type="application/xml")
        settings = make_settings(
            tmp_path, feeds=[server.url("/feed.xml")], poll={"workers": workers}
        )
        async with core_for(settings, clock=FakeClock()) as core:
            core.poller.pool_min_feeds = 0
            await core.poll(due_only=False)
            [feed] = await core.api.list_feeds(Caller.console())
            listed = await core.api.latest(Caller.console(), limit=10)
    assert feed.health is FeedHealth.OK, feed.last_error
    assert "Swift tip #1: result builders" in [a.title for a in listed.articles]
    assert "inflated a gzip body" in (_parse_raw(raw).warning or "")


def _parse_raw(body: bytes) -> ParsedFeed:
    return parse_feed(body, url="https://feeds.example.org/feed.xml")


def test_a_corrupt_or_oversized_gzip_body_fails_with_its_reason() -> None:
    """A gzip file cut short, or one inflating past the body cap (a bomb: 21 MB of
    spaces in 21 KB), is refused with a reason a person can act on."""
    raw = (TEST_FEEDS / "gzip-compressed.rss.gz").read_bytes()
    with pytest.raises(ParseError, match="corrupt gzip"):
        _parse_raw(raw[:2] + b"\x00" * 40)
    bomb = gzip.compress(b"<rss>" + b" " * (21 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024
    with pytest.raises(ParseError, match="too large"):
        _parse_raw(bomb)


def test_empty_self_closed_elements_do_not_swallow_the_next_field() -> None:
    """The fast parser gives the text of the element after an empty self-closed one
    (``<category/>``, ``<dc:creator />``, ``<guid isPermaLink="false"/>``) to the empty
    one: a title and dates vanished, a link became the guid's, a byline a date. Each
    item reads whole, and CDATA (``<br/>`` in a description) is left as it was."""
    feed = _parse("empty-self-closed-elements.rss")
    assert feed.parser == "fast" and "opened 6 empty self-closed elements" in (feed.warning or "")
    got = [(e.title, e.link, e.published, e.author) for e in feed.entries]
    site = "https://harbourledger.example/trade"
    assert got == [
        (
            "Dockers vote on new contract as tariff backlog clears",
            f"{site}/dockers-vote",
            datetime(2026, 11, 24, 8, 15, tzinfo=UTC),
            None,
        ),
        (
            "Rare earth shipments resume at the southern terminal",
            f"{site}/rare-earth-shipments",
            datetime(2026, 11, 24, 6, 40, tzinfo=UTC),
            None,
        ),
        (
            "Freight rates ease for a third week",
            f"{site}/freight-rates",
            datetime(2026, 11, 23, 17, 5, tzinfo=UTC),
            "Ines Varga",
        ),
    ]
    assert feed.entries[0].summary == "<p>Ballots close Friday.<br/>Results next week.</p>"
    assert feed.entries[1].image_url == "https://harbourledger.example/img/2211.jpg"


def test_an_author_block_or_og_block_inside_an_item_does_not_replace_its_title() -> None:
    """Google's blogs put an author block (name and job title) and an Open Graph block in
    every item; the fast parser took the last ``<title>`` (the job title, or an empty
    one) for the item's. Such a document is read by the tolerant parser."""
    feed = _parse("nested-titles-in-items.rss")
    assert [(e.title, e.author) for e in feed.entries] == [
        ("Export licences for AI chips: what our customers need to know", "Mara Quint"),
        ("Last month today: November on Lighthouse", "The Lighthouse blog team"),
    ]
    assert "New US export controls" in feed.entries[0].summary


def test_a_nested_title_repeating_the_items_own_keeps_the_fast_parser() -> None:
    """An ``<image>`` block inside the item repeating its title (a Slovak news site does
    this) reads right already: no second parse."""
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Správy</title>'
        "<item><title>Ceny medi rastú</title><link>https://spravy.example/1</link>"
        "<image><url>https://spravy.example/1.jpg</url><title><![CDATA[ Ceny medi rastú ]]>"
        "</title></image><pubDate>Tue, 24 Nov 2026 18:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    ).encode()
    feed = parse_feed(doc, url="https://spravy.example/rss")
    assert feed.parser == "fast" and feed.entries[0].title == "Ceny medi rastú"


def test_huge_feed_keeps_every_item_on_the_fast_path() -> None:
    """2,000 items with full content (about 5 MB, more than any one real feed we hold) are
    all read by the fast parser, nothing dropped and nothing handed to the fallback."""
    body = "<p>" + "Port volumes, tariffs and freight rates, hour by hour. " * 40 + "</p>"
    items = "".join(
        f"<item><title>Live blog entry {n}</title>"
        f"<link>https://bigfeed.example/live/{n}</link><guid>live-{n}</guid>"
        f"<pubDate>Tue, 24 Nov 2026 12:00:00 GMT</pubDate>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        for n in range(2000)
    )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Big</title><link>https://bigfeed.example/</link>{items}</channel></rss>"
    ).encode()
    assert len(doc) > 4 * 1024 * 1024
    feed = parse_feed(doc, url="https://bigfeed.example/rss")
    assert len(feed.entries) == 2000
    assert feed.parser == "fast" and feed.warning is None
    assert feed.entries[-1].link == "https://bigfeed.example/live/1999"
