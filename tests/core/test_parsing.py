"""parse_feed on small synthetic documents: formats, repairs, fallback and dates; and the
parser gaps found by running feedparser's own test corpus, each on one of our documents
in tests/data/feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.core.articles import article_from_entry, clean_text
from bot.core.errors import ParseError
from bot.core.models import ParsedFeed
from bot.core.parsing import parse_date, parse_feed
from tests.support import TEST_FEEDS

URL = "https://feeds.example.org/news/rss.xml"


def rss(
    items: str, *, decl: str = '<?xml version="1.0" encoding="utf-8"?>', head: str = ""
) -> bytes:
    return (
        f'{decl}<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"'
        f' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        f' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        f' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>News</title><link>https://www.example.org/</link>{head}{items}"
        f"</channel></rss>"
    ).encode()


def item(n: int, extra: str = "") -> str:
    return (
        f"<item><title>Story {n}</title><link>https://www.example.org/s/{n}</link>"
        f"<guid isPermaLink='false'>id-{n}</guid>"
        f"<pubDate>Mon, 06 May 2024 10:0{n % 10}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Body {n}&lt;/p&gt;</description>{extra}</item>"
    )


def test_clean_rss_takes_the_fast_path_with_all_fields() -> None:
    """A clean RSS 2.0 document is read by the fast parser, nothing repaired."""
    extra = (
        "<dc:creator>Ann Author</dc:creator>"
        "<content:encoded><![CDATA[<p>Full text</p>]]></content:encoded>"
        "<media:content url='https://img.example.org/1.jpg' medium='image'/>"
    )
    feed = parse_feed(rss(item(1, extra) + item(2)), url=URL)
    assert feed.parser == "fast" and feed.warning is None
    assert feed.title == "News" and feed.link == "https://www.example.org/"
    first = feed.entries[0]
    assert first.guid == "id-1"
    assert first.link == "https://www.example.org/s/1"
    assert first.title == "Story 1"
    assert first.summary == "<p>Body 1</p>"
    assert first.content == "<p>Full text</p>"
    assert first.published == datetime(2024, 5, 6, 10, 1, tzinfo=UTC)
    assert first.author == "Ann Author"
    assert first.image_url == "https://img.example.org/1.jpg"


def test_raw_ampersand_item_is_kept_not_dropped() -> None:
    """A raw '&' (which makes the fast parser drop the item) is escaped first."""
    bad = "<item><title>Q&A: rates</title><link>https://www.example.org/q?a=1&b=2</link></item>"
    feed = parse_feed(rss(item(1) + bad + item(2)), url=URL)
    assert [e.title for e in feed.entries] == ["Story 1", "Q&A: rates", "Story 2"]
    assert feed.entries[1].link == "https://www.example.org/q?a=1&b=2"
    assert "raw '&'" in (feed.warning or "")


def test_html_entities_outside_cdata_become_characters() -> None:
    """&nbsp; &eacute; &rsquo; outside CDATA are converted; CDATA is left untouched."""
    odd = (
        "<item><title>Caf&eacute;&nbsp;culture&rsquo;s return</title>"
        "<link>https://www.example.org/c</link>"
        "<description><![CDATA[<p>keep &nbsp; & raw</p>]]></description></item>"
    )
    feed = parse_feed(rss(odd), url=URL)
    entry = feed.entries[0]
    assert entry.title == "Café\u00a0culture’s return"
    assert entry.summary == "<p>keep &nbsp; & raw</p>"


def test_ampersands_only_inside_cdata_need_no_repair() -> None:
    """'&' and '&nbsp;' inside CDATA are legal XML: no repair, no warning."""
    doc = rss("<item><title><![CDATA[A & B&nbsp;C]]></title><link>https://e.org/1</link></item>")
    feed = parse_feed(doc, url=URL)
    assert feed.warning is None
    assert feed.entries[0].title == "A & B&nbsp;C"


def test_wrong_encoding_declaration_is_overridden_by_valid_utf8() -> None:
    """UTF-8 bytes labelled ISO-8859-1 are read as UTF-8 (no mojibake)."""
    doc = rss(
        item(1).replace("Story 1", "Zürich – naïve"),
        decl='<?xml version="1.0" encoding="ISO-8859-1"?>',
    )
    feed = parse_feed(doc, url=URL)
    assert feed.entries[0].title == "Zürich – naïve"
    assert "declared iso-8859-1 but bytes are UTF-8" in (feed.warning or "")


def test_cp1252_bytes_labelled_utf8_are_decoded_as_cp1252() -> None:
    """cp1252 bytes that claim UTF-8 are detected and decoded as cp1252."""
    text = rss(item(1).replace("Story 1", "Déjà vu – “quoted” café"))
    doc = text.decode("utf-8").encode("cp1252")
    feed = parse_feed(doc, url=URL)
    assert feed.entries[0].title == "Déjà vu – “quoted” café"
    assert "cp1252" in (feed.warning or "")


def test_declared_legacy_encodings_decode() -> None:
    """windows-1251, GB2312 and Shift_JIS declarations are honoured."""
    for label, title in (
        ("windows-1251", "Новости дня"),
        ("GB2312", "中国新闻"),
        ("Shift_JIS", "日本のニュース"),
    ):
        doc = rss(
            item(1).replace("Story 1", title), decl=f'<?xml version="1.0" encoding="{label}"?>'
        )
        feed = parse_feed(doc.decode("utf-8").encode(label), url=URL)
        assert feed.entries[0].title == title, label


def test_http_charset_used_when_no_declaration() -> None:
    """Without a declaration, the Content-Type charset decides."""
    doc = rss(item(1).replace("Story 1", "Привет"), decl="").decode().encode("koi8-r")
    feed = parse_feed(doc, url=URL, content_type="application/rss+xml; charset=KOI8-R")
    assert feed.entries[0].title == "Привет"


def test_utf16_with_bom_is_read() -> None:
    """A UTF-16 document with BOM parses like its UTF-8 twin."""
    doc = rss(item(1), decl='<?xml version="1.0" encoding="UTF-16"?>').decode().encode("utf-16")
    assert parse_feed(doc, url=URL).entries[0].title == "Story 1"


def test_fallback_recovers_items_the_fast_parser_loses() -> None:
    """When the fast parser reads fewer items than the document has, feedparser reads
    the same bytes and the result with more items wins."""
    odd = (
        "<item><title>A</title><link>https://e.org/a</link><slash:comments /></item>"
        "<item><title>B</title><link>https://e.org/b</link></item>"
        "<item><title>C</title><link>https://e.org/c</link></item>"
    )
    doc = rss(odd, head="").replace(
        b"<rss ", b'<rss xmlns:slash="http://purl.org/rss/1.0/modules/slash/" ', 1
    )
    feed = parse_feed(doc, url=URL)
    assert [e.title for e in feed.entries] == ["A", "B", "C"]


def test_truncated_document_yields_recovered_items_with_warning() -> None:
    """A body cut after two complete items still gives those items."""
    doc = rss(item(1) + item(2) + item(3))
    cut = doc[: doc.index(b"<item>", doc.index(b"Story 2"))] + b"<item><title>Sto"
    feed = parse_feed(cut, url=URL)
    assert [e.title for e in feed.entries][:2] == ["Story 1", "Story 2"]
    assert "truncated XML" in (feed.warning or "")


def test_empty_channel_is_a_feed_with_no_items() -> None:
    """A valid feed with zero items is not an error."""
    feed = parse_feed(rss(""), url=URL)
    assert feed.entries == () and feed.title == "News"


def test_atom_with_relative_links_and_html_title() -> None:
    """Atom 1.0: alternate link resolved against the feed URL, updated used as date."""
    doc = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
<link rel="alternate" href="/blog/"/>
<entry><id>urn:uuid:1</id><title type="html">A &lt;b&gt;bold&lt;/b&gt; claim</title>
<link rel="alternate" href="posts/1.html"/><updated>2024-05-06T10:00:00.123456789+02:00</updated>
<author><name>Bea</name></author><summary>S</summary>
<content type="html">&lt;p&gt;C&lt;/p&gt;</content>
</entry></feed>"""
    feed = parse_feed(doc, url="https://blog.example.org/atom.xml")
    entry = feed.entries[0]
    assert feed.link == "https://blog.example.org/blog/"
    assert entry.link == "https://blog.example.org/blog/posts/1.html"
    assert entry.guid == "urn:uuid:1"
    assert entry.published == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)  # whole seconds
    assert entry.author == "Bea"
    assert entry.content == "<p>C</p>"


def test_atom_03_and_rss_091_and_rdf_are_read() -> None:
    """Older dialects still give items."""
    atom03 = b"""<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title>Old</title><entry><title>E1</title>
<link rel="alternate" type="text/html" href="https://e.org/1"/>
<id>tag:e.org,2004:1</id><issued>2004-05-06T10:00:00Z</issued><modified>2004-05-06T10:00:00Z</modified></entry></feed>"""
    rss091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>T</title>
<item><title>I1</title><link>https://e.org/i1</link></item></channel></rss>"""
    rdf = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://e.org/"><title>R</title></channel>
<item rdf:about="https://e.org/r1"><title>R1</title><link>https://e.org/r1</link></item></rdf:RDF>"""
    assert parse_feed(atom03, url=URL).entries[0].title == "E1"
    assert parse_feed(rss091, url=URL).entries[0].link == "https://e.org/i1"
    assert parse_feed(rdf, url=URL).entries[0].title == "R1"


def test_json_feed_minimal_and_relative_urls() -> None:
    """JSON Feed 1.1: items with relative url, content_text, authors, image."""
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "home_page_url": "https://j.example.org/",
        "items": [
            {
                "id": "1",
                "url": "/p/1",
                "content_text": "hello",
                "date_published": "2024-05-06T10:00:00Z",
                "authors": [{"name": "Cy"}],
                "image": "/i/1.png",
            },
            {"id": "2"},  # nothing usable besides an id: kept (guid) but has no link
        ],
    }
    feed = parse_feed(json.dumps(doc).encode(), url="https://j.example.org/feed.json")
    first = feed.entries[0]
    assert feed.parser == "json"
    assert first.link == "https://j.example.org/p/1"
    assert first.content == "hello"
    assert first.author == "Cy"
    assert first.image_url == "https://j.example.org/i/1.png"
    assert first.published == datetime(2024, 5, 6, 10, tzinfo=UTC)


def test_ttl_and_syndication_period() -> None:
    """<ttl> in minutes wins; else sy:updatePeriod / sy:updateFrequency."""
    assert parse_feed(rss(item(1), head="<ttl>30</ttl>"), url=URL).ttl_seconds == 1800
    sy = "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
    assert parse_feed(rss(item(1), head=sy), url=URL).ttl_seconds == 6 * 3600
    assert parse_feed(rss(item(1)), url=URL).ttl_seconds is None


def test_google_news_source_element() -> None:
    """<source url=...>Publisher</source> fills source_name and source_url."""
    extra = '<source url="https://www.reuters.com">Reuters</source>'
    entry = parse_feed(rss(item(1, extra)), url=URL).entries[0]
    assert (entry.source_name, entry.source_url) == ("Reuters", "https://www.reuters.com")


def test_image_from_enclosure_and_thumbnail() -> None:
    """An image enclosure or media:thumbnail supplies image_url; audio does not."""
    enc = "<enclosure url='https://e.org/a.jpg' type='image/jpeg' length='1'/>"
    thumb = "<media:thumbnail url='https://e.org/t.jpg'/>"
    audio = "<enclosure url='https://e.org/a.mp3' type='audio/mpeg' length='1'/>"
    feed = parse_feed(rss(item(1, enc) + item(2, thumb) + item(3, audio)), url=URL)
    assert [e.image_url for e in feed.entries] == [
        "https://e.org/a.jpg",
        "https://e.org/t.jpg",
        None,
    ]


def test_whitespace_padded_links_are_trimmed() -> None:
    """Prettified feeds pad links and guids with newlines; they come back trimmed."""
    doc = rss(
        "<item><title>\n  T\n</title><link>\n   https://e.org/x\n  </link>"
        "<guid>\n g \n</guid></item>"
    )
    entry = parse_feed(doc, url=URL).entries[0]
    assert (entry.link, entry.guid, entry.title) == ("https://e.org/x", "g", "T")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mon, 06 May 2024 10:00:00 GMT", datetime(2024, 5, 6, 10, tzinfo=UTC)),
        ("Mon, 06 May 2024 12:00:00 +0200", datetime(2024, 5, 6, 10, tzinfo=UTC)),
        ("Thu, 15 May 2014 02:11:21 Z", datetime(2014, 5, 15, 2, 11, 21, tzinfo=UTC)),
        ("Mon, 29 Jul 2019 13:55 GMT", datetime(2019, 7, 29, 13, 55, tzinfo=UTC)),
        ("Sun, 10 Dec 17 13:01:36 -0800", datetime(2017, 12, 10, 21, 1, 36, tzinfo=UTC)),
        ("2020/1/10 14:33:00", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
        ("2022-07-28T03:40:34.000000000Z", datetime(2022, 7, 28, 3, 40, 34, tzinfo=UTC)),
        ("2024-05-06T10:00:00+05:30", datetime(2024, 5, 6, 4, 30, tzinfo=UTC)),
        ("2024-05-06 10:00:00", datetime(2024, 5, 6, 10, tzinfo=UTC)),
        ("2024-05-06", datetime(2024, 5, 6, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:25:00 -0300", datetime(2018, 9, 24, 22, 25, tzinfo=UTC)),
        ("Di, 03 Mär 2026 08:00:00 +0100", datetime(2026, 3, 3, 7, tzinfo=UTC)),
        ("mar., 5 févr. 2026 10:00:00 +0100", datetime(2026, 2, 5, 9, tzinfo=UTC)),
        ("Lun, 14 Dic 2026 10:00 GMT", datetime(2026, 12, 14, 10, tzinfo=UTC)),
        ("gio, 1 ott 2026 12:00:00 +0200", datetime(2026, 10, 1, 10, tzinfo=UTC)),
        ("vr, 1 mei 2026 12:00:00 +0200", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("Wed, 31 Feb 2018 10:00:00 GMT", None),
        ("Seg, 24 Xyz 2018 19:25:00 -0300", None),
        ("", None),
        ("yesterday", None),
        ("2024-13-45T99:00:00Z", None),
    ],
)
def test_parse_date_formats(raw: str, expected: datetime | None) -> None:
    """Feed date strings in the wild become aware UTC datetimes (or None)."""
    assert parse_date(raw) == expected


def test_json_body_that_is_an_rss_in_json_without_channel_is_refused() -> None:
    """RSS-in-JSON without a channel is not a feed."""
    with pytest.raises(ParseError, match="without a channel"):
        parse_feed(b'{"rss": {"version": "2.0"}}', url=URL)


def test_text_printed_before_the_document_is_skipped() -> None:
    """A PHP notice before <?xml ...?> costs nothing but a warning."""
    notice = b"<br />\n<b>Warning</b>: Undefined index in feed.php on line 3<br />\n"
    for junk in (b"PHP " + notice, notice):
        feed = parse_feed(junk + rss(item(1)), url=URL)
        assert [e.title for e in feed.entries] == ["Story 1"]
        assert "removed text before the XML document" in (feed.warning or "")


# --- gaps found by feedparser's own test corpus ------------------------------------------

SEEN_AT = datetime(2030, 1, 1, tzinfo=UTC)


def parse_file(name: str, url: str = URL) -> ParsedFeed:
    return parse_feed((TEST_FEEDS / name).read_bytes(), url=url)


def test_items_whose_text_is_only_in_body_elements_are_kept() -> None:
    """Text only in <body>, <xhtml:body> or <fullitem> (which the fast parser skips) is
    read by the fallback; such an item becomes an article titled by its text."""
    feed = parse_file("text-only-in-body-elements.rss")
    assert feed.parser == "feedparser"
    assert "<body> or <fullitem>" not in (feed.warning or "")  # a choice, not a loss
    texts = [clean_text(e.content) for e in feed.entries]
    assert texts == [
        "Port fees at Long Beach rise in January, the harbor board said.",
        "Customs brokers expect longer queues for rare-earth magnets.",
        "Freight forwarders warn of a tariff surcharge in December.",
        "The board also approved a study of shore power for container ships.",
    ]
    article = article_from_entry(
        feed.entries[0], feed_url=URL, feed_title=feed.title, seen_at=SEEN_AT
    )
    assert article is not None
    assert article.title == "Port fees at Long Beach rise in January, the harbor board said."
    assert feed.entries[3].title == "Harbor board minutes"


def test_dcterms_dates_are_read() -> None:
    """dcterms:modified, dcterms:issued and dcterms:created give the item its date."""
    feed = parse_file("dcterms-dates.rss")
    assert [e.published for e in feed.entries] == [
        datetime(2026, 11, 24, 9, 15, tzinfo=UTC),
        datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 20, tzinfo=UTC),
    ]


def test_namespace_prefixed_rss_and_atom_elements_are_read() -> None:
    """<r:rss>/<r:item> and <a:feed>/<a:entry> (every element prefixed) give their items."""
    rss_feed = parse_file("prefixed-rss-2.0-elements.rss")
    assert [e.title for e in rss_feed.entries] == [
        "Dockworkers ratify new contract",
        "Container rates slip",
    ]
    assert rss_feed.entries[0].published == datetime(2026, 11, 24, 12, tzinfo=UTC)
    atom = parse_file("prefixed-atom-entries.atom")
    assert [(e.title, e.link) for e in atom.entries] == [
        ("Quarterly export figures published", "https://prefixlog.example/2026/q3-exports")
    ]


def test_items_no_parser_can_read_are_reported_not_silently_lost() -> None:
    """In a prefixed dialect, an item in a namespace neither parser knows costs a warning
    that counts it, or, when no item at all could be read, a ParseError that says so."""
    doc = (
        b'<?xml version="1.0"?><r:rss version="2.0" xmlns:r="http://backend.userland.com/rss2"'
        b' xmlns:x="urn:example:unknown"><r:channel><r:title>T</r:title>%s</r:channel></r:rss>'
    )
    known = b"<r:item><r:title>A</r:title><r:link>https://e.org/a</r:link></r:item>"
    unknown = b"<x:item><x:title>B</x:title><x:link>https://e.org/b</x:link></x:item>"
    feed = parse_feed(doc % (known + unknown), url=URL)
    assert [e.title for e in feed.entries] == ["A"]
    assert "read 1 of 2 items" in (feed.warning or "")
    with pytest.raises(ParseError, match="none of its 1 items could be read"):
        parse_feed(doc % unknown, url=URL)


def test_an_xhtml_doctype_before_rss_does_not_refuse_the_feed() -> None:
    """A CMS template's XHTML DOCTYPE before <rss> is dropped; the root decides."""
    feed = parse_file("xhtml-doctype-before-rss.rss")
    assert [e.title for e in feed.entries] == ["Shipping insurers raise war-risk premiums"]
    assert clean_text(feed.entries[0].summary) == "Premiums doubled for some routes — brokers say."
    page = b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd"><html><body/></html>'
    with pytest.raises(ParseError, match="HTML page"):
        parse_feed(page, url=URL)


def test_relative_links_resolve_against_xml_base() -> None:
    """xml:base on the feed, an entry, <rss> or an item is the base for relative links."""
    atom = parse_file("xml-base-relative-links.atom", "https://feeds.example.org/journal.atom")
    assert [e.link for e in atom.entries] == [
        "https://basejournal.example/journal/2026/11/port-hearing.html",
        "https://basejournal.example/journal/reading-list.html",
    ]
    rss_feed = parse_file("xml-base-relative-links.rss", "https://feeds.example.org/journal.rss")
    assert [e.link for e in rss_feed.entries] == [
        "https://static.basejournal.example/posts/port-hearing.html",
        "https://archive.basejournal.example/2025/older-note.html",
    ]


@pytest.mark.parametrize("name", ["markup-as-text-in-titles.atom", "markup-as-text-in-titles.rss"])
def test_escaped_markup_in_a_plain_text_title_stays_as_words(name: str) -> None:
    """ "&lt;dialog&gt;" in a title is the word "<dialog>", not a tag to delete; markup
    beyond doubt (<b>..</b>, <em>..</em>) still goes."""
    feed = parse_file(name)
    titles = []
    for entry in feed.entries:
        article = article_from_entry(entry, feed_url=URL, feed_title=feed.title, seen_at=SEEN_AT)
        assert article is not None
        titles.append(article.title)
    assert titles[0] == "Use the <dialog> element for modals"
    if name.endswith(".atom"):
        assert titles[1] == "A bold plan for <select> styling"
    else:
        assert titles[1:] == [
            "Is 3 < 5? Comparing <input type=number> quirks",
            "Breaking: popover ships everywhere",
        ]
