"""Every real feed in ../shared/feeds either yields items or fails with a plain reason.

The corpus lives beside the repository, not in it: on a clone without it every test here
is skipped with the reason (``shared_feeds`` fixture), and tests/core/test_feed_corpus.py
checks the same oddities on the project's own documents in tests/data/feeds.

The table below is the contract, one line per file. Counts are exact: they were checked
against the documents (``<item>``/``<entry>`` tags, and feedparser's own count) and the
notes say where a count differs from the raw tag count and why.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.articles import article_from_entry, clean_text
from bot.core.errors import ParseError
from bot.core.models import ParsedFeed
from bot.core.parsing import parse_feed
from tests.support import SHARED_FEEDS, feed_bytes

pytestmark = pytest.mark.usefixtures("shared_feeds")

SEEN_AT = datetime(2030, 1, 1, tzinfo=UTC)

# filename -> number of items, or "fails: <substring of the ParseError reason>".
EXPECTED: dict[str, int | str] = {
    "adactio-journal.json": 10,  # JSON Feed 1.0, newline before '{'
    "aktuality-sk-news.rss": 30,
    "aljazeera-america-final.rss": 50,
    "allthis-truncated.json": 2,  # cut mid-string: the 2 complete items before the cut
    "bbc-urdu-rtl.rss": 26,
    "biorxiv-rss10-no-decl.rdf": 30,
    "blogger-feedburner.atom": 25,
    "braingle-guid-dupes.rss": 1,
    "cnbc-finance-2019-0723.rss": 30,
    "cnbc-finance-2019-0729.rss": 30,
    "craigslist-rss10.rdf": 25,
    "cre-podcast-large.rss": 30,
    "dailymail-mediacontent-dupes.rss": 1,
    "daringfireball-atom-named-rss.atom": 47,
    "daringfireball.json": 48,
    "dbengines-nbsp-entity.rss": 1,  # &nbsp; repaired, item kept whole
    "donthitsave-bom.rss": 10,
    "fboes-jsonfeed11-german.json": 20,
    "fcutrecht-bogus-prolog.rss": 20,
    "federalregister-api-bears-ears.json": "fails: not a feed: JSON document is not a JSON Feed",
    "geekpark-chinese-utf8.rss": 30,
    "giantbomb-podcast-large.rss": 730,
    "golem-de-iso8859-1.rss": 40,  # fast parser stops after item 1; fallback reads all 40
    "google-alerts-slack.atom": 20,
    "google-blog-blogger.atom": 25,
    "google-cloudblog-large.rss": 20,
    "google-news-2012-putin-topic.rss": 10,
    "google-news-japan-top-prettified.rss": 30,
    "google-news-top-2022.atom": 38,
    "google-news-top-2022.rss": 38,
    "google-news-us-bears-ears.rss": 92,
    "guardian-us.rss": 55,
    "guardian-world-raw-ampersand.rss": 54,  # raw '&' in attributes: all 54, none dropped
    "heise-atom-150-entries.atom": 150,
    "heise-developer.atom": 15,
    "heise-rss090-rdf.rdf": 60,
    "huffpost-canada-ws-cdata.rss": 2,
    "ibash-ru-windows1251.rss": 50,
    "ilgiornale-a10-prefix.rss": 1,
    "ilmessaggero-mondo-mojibake.rss": 1,
    "japanese-blog-shiftjis-undeclared.atom": 1,
    "jn-pt-iso8859-1.rss": 40,
    "kc0011-chinese-gb2312.rss": 20,
    "lagrange-atom-no-decl.atom": 34,
    "lecerclepsy-no-decl-latin1.rss": 9,  # 10 <item>s, one has empty title/link/description
    "lemonde-fr.rss": 21,
    "lincolnloop-control-char.rss": 10,
    "livemint-india-business.rss": 25,
    "londonist-huge-leading-newline.rss": 40,
    "lukedorny-jsonfeed11-escaped.json": 30,
    "macworld-leading-whitespace.rss": 30,
    "nbc-newyork.rss": 1,
    "neverwinter-relative-urls.rss": 2,
    "nextinpact-fr-huge-invalid-charref.rss": 45,
    "nshipster-invalid-chars.rss.gz": 25,  # gzip: decompressed here as the fetcher would
    "onefoottsunami.atom": 25,
    "pcmag-dvorak-illegally-nested.rss": 10,  # 20 <item> tags, 10 are empty nested <item />
    "reddit-frontpage.rss": 24,
    "resorts-21-blank-lines.rss": 1,
    "reuters-mostread-truncated.rss": "fails: truncated XML: no items recovered",
    "reuters-topnews-2017.rss": 10,
    "ru-oren-yandex-windows1251.rss": 10,
    "rue89-fr-news.rss": 25,
    "scattered-thoughts-leading-newline.atom": 1,
    "sciencemag-rss10.rdf": 69,
    "scriptingnews-rss-in-json.json": 50,  # RSS-in-JSON is read, not refused
    "slashdot-rss10-iso8859.rdf": 15,
    "suspilne-ukrainian-default-ns.rss": 20,
    "suwa-wordpress-podcast-ns.rss": 10,
    "tagesschau-rss090-latin1.rdf": 3,
    "talkingpointsmemo-politics.atom": 20,
    "techcrunch-leading-newline.rss": 20,
    "thehindu-511-items-cdata-dates.rss": 511,
    "tjrs-court-rss091-latin1.rss": 1,
    "topix-search-london.rss": 2,
    "universfreebox-iso8859-1.rss": 30,
    "uol-noticias-no-decl-latin1.rss": 15,
    "washingtonpost-wellness.rss": 29,
    "xakep-ru-windows1251.rss": 25,
    "yahoo-finance-2018-double-escaped.rss": 50,
}


def _parse(name: str, url: str | None = None) -> ParsedFeed:
    return parse_feed(
        feed_bytes(SHARED_FEEDS / name), url=url or f"https://feeds.example.org/{name}"
    )


def test_table_covers_every_file_in_the_corpus() -> None:
    """The expectation table names exactly the files present (SOURCES.tsv aside)."""
    present = {p.name for p in SHARED_FEEDS.iterdir() if p.name != "SOURCES.tsv"}
    assert present == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_yields_its_items_or_fails_with_reason(name: str) -> None:
    """Each file yields the stated number of usable items, or a ParseError with the
    stated reason; every item becomes an article or is skipped."""
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(ParseError) as caught:
            _parse(name)
        assert expected.removeprefix("fails: ") in caught.value.reason
        return
    feed = _parse(name)
    assert len(feed.entries) == expected
    for entry in feed.entries:
        assert entry.published is None or entry.published.tzinfo is not None
        article = article_from_entry(
            entry,
            feed_url=f"https://feeds.example.org/{name}",
            feed_title=feed.title,
            seen_at=SEEN_AT,
        )
        if article is not None:
            assert article.identity_keys
            assert article.published.tzinfo is not None


# --- encodings ---------------------------------------------------------------------


def test_windows_1251_cyrillic_titles_decode() -> None:
    """Declared windows-1251 feeds come out as proper Cyrillic."""
    assert _parse("xakep-ru-windows1251.rss").entries[0].title == (
        "Руководители разведки США шутят об убийстве Сноудена"
    )
    assert _parse("ibash-ru-windows1251.rss").entries[0].title == "Цитата #17703"
    assert _parse("ru-oren-yandex-windows1251.rss").entries[0].title.startswith("В Бузулуке")


def test_gb2312_chinese_title_and_slash_date() -> None:
    """GB2312 bytes decode to Chinese; '2020/1/10 14:33:00' becomes a UTC datetime."""
    entry = _parse("kc0011-chinese-gb2312.rss").entries[0]
    assert entry.title == "建国35周年纪念，华表，和平鸽"
    assert entry.published == datetime(2020, 1, 10, 14, 33, tzinfo=UTC)


def test_undeclared_shift_jis_is_sniffed() -> None:
    """Shift_JIS without any declaration is recognised (feedparser guesses ISO-8859-2)."""
    feed = _parse("japanese-blog-shiftjis-undeclared.atom")
    assert feed.entries[0].title == "DrecomRSSに記事投稿が反映されない…"
    assert feed.warning is not None and "cp932" in feed.warning


def test_undeclared_latin1_is_not_read_as_utf8() -> None:
    """Latin-1 bytes without a prolog keep their accents instead of U+FFFD."""
    titles = [e.title for e in _parse("lecerclepsy-no-decl-latin1.rss").entries]
    assert "La criminalité liée surtout à... l'ennui ?" in titles
    assert not any("\ufffd" in t for t in titles)
    uol = _parse("uol-noticias-no-decl-latin1.rss").entries[0].title
    assert "simulações de 2º turno" in uol


def test_declared_latin1_with_odd_elements_recovers_all_items() -> None:
    """golem.de (ISO-8859-1, self-closed <slash:comments />) keeps all 40 items and umlauts."""
    feed = _parse("golem-de-iso8859-1.rss")
    assert len(feed.entries) == 40
    assert "wünschen" in feed.entries[0].summary


# --- malformed documents -------------------------------------------------------------


def test_raw_ampersand_feed_keeps_every_item_with_images() -> None:
    """The Guardian's raw '&' in media URLs: all 54 items, each with its image URL."""
    feed = _parse("guardian-world-raw-ampersand.rss")
    assert len(feed.entries) == 54
    assert all(e.image_url and "&quality=85" in e.image_url for e in feed.entries)
    assert feed.warning is not None and "raw '&'" in feed.warning


def test_html_entity_and_control_characters_are_repaired() -> None:
    """&nbsp; (undefined in XML) is repaired; a raw 0x10 byte costs no item and never
    reaches cleaned text."""
    assert "repaired HTML entities" in (_parse("dbengines-nbsp-entity.rss").warning or "")
    feed = _parse("lincolnloop-control-char.rss")
    assert len(feed.entries) == 10
    assert all("\x10" not in clean_text(e.summary) for e in feed.entries)


def test_leading_whitespace_and_bom_are_tolerated() -> None:
    """Whitespace or a BOM before the XML declaration does not cost any item."""
    assert len(_parse("resorts-21-blank-lines.rss").entries) == 1
    assert len(_parse("donthitsave-bom.rss").entries) == 10
    assert len(_parse("techcrunch-leading-newline.rss").entries) == 20


def test_truncated_json_feed_keeps_complete_items_with_warning() -> None:
    """A JSON Feed cut mid-download yields its complete items and says so."""
    feed = _parse("allthis-truncated.json")
    assert feed.entries[0].title == "Last thoughts on modifier keys"
    assert feed.warning == "truncated JSON: recovered 2 items"


# --- fields --------------------------------------------------------------------------


def test_google_news_source_publisher_and_title_suffix() -> None:
    """<source url=...> fills source_name/url; the article drops ' - Publisher'."""
    url = "https://news.google.com/rss/search?q=bears+ears"
    feed = _parse("google-news-us-bears-ears.rss", url)
    entry = feed.entries[0]
    assert entry.source_name == "The Washington Post"
    assert entry.source_url == "https://www.washingtonpost.com"
    article = article_from_entry(entry, feed_url=url, feed_title=feed.title, seen_at=SEEN_AT)
    assert article is not None
    assert article.title == "Trump again shrinks two national monuments in Utah"
    assert article.source == "The Washington Post"
    assert article.url.startswith("https://news.google.com/rss/articles/CBMi")


def test_legacy_google_news_redirect_unwrapped_and_suffix_split() -> None:
    """2012 Google News: no <source>, so the suffix names the publisher; url= is unwrapped."""
    url = "https://news.google.com/news?topic=putin&output=rss"
    feed = _parse("google-news-2012-putin-topic.rss", url)
    article = article_from_entry(
        feed.entries[0], feed_url=url, feed_title=feed.title, seen_at=SEEN_AT
    )
    assert article is not None
    assert (
        article.title == "Russia election loser 'outraged' as Putin loses patience with protesters"
    )
    assert article.source == "Telegraph.co.uk"
    assert article.url.startswith("http://www.telegraph.co.uk/news/worldnews/vladimir-putin/")


def test_google_alerts_links_unwrapped_and_bold_stripped() -> None:
    """Google Alerts: google.com/url?...&url= links lead to the article; <b> is gone."""
    url = "https://www.google.com/alerts/feeds/123/456"
    feed = _parse("google-alerts-slack.atom", url)
    article = article_from_entry(
        feed.entries[0], feed_url=url, feed_title=feed.title, seen_at=SEEN_AT
    )
    assert article is not None
    assert article.url.startswith("https://www.aglobalmarketresearch.com/report-offers-prediction")
    assert article.title.startswith("Report offers Prediction of Automotive Slack Market")


def test_relative_links_resolve_against_feed_link_and_url() -> None:
    """neverwinter: relative channel and item links become absolute on the feed's host;
    the two-digit year 'Thu, 07 Dec 17 10:00:29 -0800' is 2017."""
    url = "https://www.arcgames.com/en/games/neverwinter/news/rss"
    feed = _parse("neverwinter-relative-urls.rss", url)
    assert feed.link == "https://www.arcgames.com/en/games/neverwinter/news"
    first = feed.entries[0]
    assert first.link is not None
    assert first.link.startswith(
        "https://www.arcgames.com/en/games/neverwinter/news/detail/10743874"
    )
    assert first.published == datetime(2017, 12, 7, 18, 0, 29, tzinfo=UTC)


def test_missing_dates_stay_none_and_article_uses_seen_at() -> None:
    """heise RSS 0.90 has no dates: entries say None, articles say seen_at, not known."""
    feed = _parse("heise-rss090-rdf.rdf")
    assert all(e.published is None for e in feed.entries)
    article = article_from_entry(
        feed.entries[0], feed_url="https://www.heise.de/rss", feed_title=feed.title, seen_at=SEEN_AT
    )
    assert article is not None
    assert article.published == SEEN_AT and not article.published_known


def test_odd_date_formats() -> None:
    """'... 02:11:21 Z', pubDate without seconds and nanosecond ISO all parse to UTC."""
    assert _parse("nextinpact-fr-huge-invalid-charref.rss").entries[0].published == datetime(
        2014, 5, 15, 0, 1, 24, tzinfo=UTC
    )
    assert _parse("cnbc-finance-2019-0729.rss").entries[0].published == datetime(
        2019, 7, 29, 13, 55, tzinfo=UTC
    )
    assert _parse("google-news-top-2022.atom").entries[0].published == datetime(
        2022, 7, 28, 2, 43, tzinfo=UTC
    )


def test_ttl_from_rss_ttl_and_syndication_module() -> None:
    """<ttl> minutes and sy:updatePeriod/Frequency become seconds."""
    assert _parse("bbc-urdu-rtl.rss").ttl_seconds == 15 * 60
    assert _parse("aktuality-sk-news.rss").ttl_seconds == 3600  # sy: hourly, 1
    assert _parse("guardian-us.rss").ttl_seconds is None


def test_double_escaped_yahoo_titles_read_naturally() -> None:
    """'Trump&amp;apos;s' in the bytes reads "Trump's" after cleaning."""
    titles = [clean_text(e.title) for e in _parse("yahoo-finance-2018-double-escaped.rss").entries]
    assert (
        "Steel workers gear up for strike, potentially derailing Trump's steel resurgence" in titles
    )
    assert not any("&apos;" in t or "&#39;" in t for t in titles)


def test_json_feed_fields() -> None:
    """JSON Feed: url/external_url, content_html, dates, authors[] and images."""
    feed = _parse("daringfireball.json")
    first = feed.entries[0]
    assert first.link == "https://daringfireball.net/linked/2017/06/26/the-talk-show-195"
    assert first.published == datetime(2017, 6, 27, 0, 54, 17, tzinfo=UTC)
    assert first.content and first.author == "John Gruber"
    escaped = _parse("lukedorny-jsonfeed11-escaped.json").entries[0]
    assert escaped.link == "https://lukedorny.com/updates/new-font"


def test_rss_in_json_items_read() -> None:
    """Scripting News' RSS-in-JSON: items with link, description and pubDate."""
    feed = _parse("scriptingnews-rss-in-json.json")
    assert feed.title == "Scripting News"
    first = feed.entries[0]
    assert first.link == "http://scripting.com/2017/06/26.html#a080605"
    assert first.published == datetime(2017, 6, 26, 12, 20, 5, tzinfo=UTC)


def test_media_and_enclosure_images() -> None:
    """Images come from media:content, media:thumbnail or an image enclosure."""
    assert (_parse("lemonde-fr.rss").entries[0].image_url or "").endswith(".jpg")
    assert (_parse("bbc-urdu-rtl.rss").entries[0].image_url or "").startswith(
        "http://c.files.bbci.co.uk/"
    )
    assert _parse("guardian-us.rss").entries[0].image_url is not None
