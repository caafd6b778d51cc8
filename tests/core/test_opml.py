"""OPML import/export: what an importer reads from real-shaped files, and what it refuses
(entity bombs, external entities, oversized and deeply nested files) without expanding or
fetching anything."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.errors import ParseError
from bot.core.opml import OpmlFeed, parse_opml, render_opml

FOLDERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My   subscriptions</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Reuters" xmlUrl="https://reuters.test/rss"/>
      <outline text="Markets">
        <outline type="rss" title="FT &amp; markets" text="ignored" xmlUrl="https://ft.test/feed"/>
      </outline>
    </outline>
    <outline type="rss" text="Reuters again" xmlUrl="https://reuters.test/rss"/>
    <outline type="link" text="Just a link" url="https://example.test/"/>
    <outline type="rss" XMLURL="https://lower.test/atom" TEXT="Upper-case attributes"/>
  </body>
</opml>"""


def test_folders_are_flattened_and_each_feed_is_listed_once() -> None:
    doc = parse_opml(FOLDERS)
    assert doc.title == "My subscriptions"
    assert doc.feeds == (
        OpmlFeed("https://reuters.test/rss", "Reuters"),
        OpmlFeed("https://ft.test/feed", "FT & markets"),
        OpmlFeed("https://lower.test/atom", "Upper-case attributes"),
    )


def test_export_reads_back_as_the_same_feeds() -> None:
    feeds = [
        OpmlFeed("https://a.test/rss?x=1&y=2", 'Quotes " and <angles> & ampersands'),
        OpmlFeed("https://b.test/feed", None),
        OpmlFeed("https://c.test/atom", "Control\x07 character"),
    ]
    data = render_opml("Wirewatch feeds", feeds, created=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert b"<dateCreated>Fri, 02 Jan 2026 03:04:00 +0000</dateCreated>" in data
    doc = parse_opml(data)
    assert doc.title == "Wirewatch feeds"
    assert [f.url for f in doc.feeds] == [f.url for f in feeds]
    assert [f.title for f in doc.feeds] == [
        'Quotes " and <angles> & ampersands',
        "https://b.test/feed",  # an untitled feed is labelled with its URL
        "Control character",
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<opml version="2.0"><head><title>&lol4;</title></head><body/></opml>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.test/rss"/></body></opml>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/evil.dtd">
<opml version="2.0"><body/></opml>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<opml version="2.0"><body/></opml>"""


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "xxe-file", "external-dtd", "parameter-entity"],
)
def test_a_doctype_is_refused_before_anything_expands(document: bytes) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_opml(document)


def test_an_undeclared_entity_is_an_error_not_text() -> None:
    with pytest.raises(ParseError, match="undefined entity"):
        parse_opml(b'<opml><body><outline text="&secret;" xmlUrl="https://x.test/"/></body></opml>')


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "empty"),
        (b"<html><body>Not found</body></html>", "root element is <html>"),
        (b"<opml><body><outline xmlUrl='https://x.test/'>", "no element found"),
        (b'{"feeds": []}', "not an OPML file"),
    ],
)
def test_what_is_not_opml_says_why(document: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_opml(document)


def test_size_feed_count_and_depth_are_capped() -> None:
    with pytest.raises(ParseError, match="too large"):
        parse_opml(b"<opml>" + b" " * 2000 + b"</opml>", max_bytes=1000)
    many = b"".join(b'<outline xmlUrl="https://f%d.test/"/>' % i for i in range(30))
    with pytest.raises(ParseError, match="more than 20 feeds"):
        parse_opml(b"<opml><body>" + many + b"</body></opml>", max_feeds=20)
    deep = b"<outline>" * 40 + b"</outline>" * 40
    with pytest.raises(ParseError, match="deeper than"):
        parse_opml(b"<opml><body>" + deep + b"</body></opml>")


def test_outlines_outside_the_body_are_not_feeds() -> None:
    doc = parse_opml(
        b'<opml><head><outline xmlUrl="https://head.test/"/></head>'
        b'<body><outline xmlUrl="https://body.test/"/></body></opml>'
    )
    assert [f.url for f in doc.feeds] == ["https://body.test/"]
