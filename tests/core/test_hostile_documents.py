"""Hostile or non-feed bodies are refused (or defused) quickly, without expanding anything."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.core.articles import clean_text
from bot.core.errors import FetchError, ParseError
from bot.core.htmltext import title_to_text
from bot.core.models import ParsedFeed
from bot.core.parsing import MAX_BODY_BYTES, parse_feed

URL = "https://feeds.example.org/feed.xml"

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><link>https://example.org/a</link><description>&lol9;</description></item>
</channel></rss>"""


@contextmanager
def finishes_within(seconds: float) -> Iterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s"


def _all_text(feed: ParsedFeed) -> str:
    parts = [feed.title or ""]
    for e in feed.entries:
        parts += [e.title, e.summary, e.content, e.link or "", e.guid or "", e.author or ""]
    return "\n".join(parts)


def test_billion_laughs_is_not_expanded() -> None:
    """Entity declarations are dropped: the reference stays literal, nothing grows."""
    with finishes_within(0.5):
        feed = parse_feed(LAUGHS, url=URL)
    assert len(feed.entries) == 1
    assert "lollol" not in _all_text(feed)
    assert len(_all_text(feed)) < 1000
    assert feed.warning is not None and "DTD" in feed.warning


def test_billion_laughs_outside_a_feed_is_refused() -> None:
    """The classic <lolz> document is not a feed: refused by its root, not expanded."""
    doc = LAUGHS.replace(b"DOCTYPE rss", b"DOCTYPE lolz").split(b"<rss")[0] + b"<lolz>&lol9;</lolz>"
    with finishes_within(0.5), pytest.raises(ParseError, match="not a feed"):
        parse_feed(doc, url=URL)


@pytest.mark.parametrize(
    "dtd",
    [
        b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p; <!ENTITY xxe "&#37;p;">]>',
        b'<!DOCTYPE rss SYSTEM "file:///etc/passwd" [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ],
    ids=["general-entity", "parameter-entity", "external-dtd"],
)
@pytest.mark.parametrize("broken", [False, True], ids=["fast-path", "fallback-path"])
def test_external_entities_never_read_local_files(dtd: bytes, broken: bool) -> None:
    """An XXE reference to file:///etc/passwd stays a literal; the file never appears,
    also when the document is broken enough to go through the tolerant fallback."""
    tail = b"</channel></rss>" if not broken else b""  # truncated: forces the fallback
    doc = (
        b'<?xml version="1.0"?>\n'
        + dtd
        + b'\n<rss version="2.0"><channel><title>t &xxe;</title>'
        + b"<item><title>x &xxe; y</title><link>https://example.org/a</link>"
        + b"<description>&xxe;</description></item>"
        + b"<item><title>second</title><link>https://example.org/b</link></item>"
        + tail
    )
    with finishes_within(0.5):
        feed = parse_feed(doc, url=URL)
    text = _all_text(feed)
    passwd = Path("/etc/passwd")
    if passwd.exists():
        first_line = passwd.read_text(errors="replace").splitlines()[0]
        assert first_line not in text
    assert "root:" not in text
    assert feed.entries[0].title.startswith("x ")


def test_deeply_nested_elements_refused_quickly() -> None:
    """100k nested elements inside an item are refused without a slow fallback."""
    doc = (
        b'<rss version="2.0"><channel><item><title>a</title>'
        + b"<x>" * 100_000
        + b"</x>" * 100_000
        + b"</item></channel></rss>"
    )
    with finishes_within(0.5), pytest.raises(ParseError, match="nested too deeply"):
        parse_feed(doc, url=URL)


@pytest.mark.parametrize(
    "body",
    [
        b'<rss version="2.0"><channel><item><title>a</title>' + b"<x>" * 100_000,
        b'<rss version="2.0"><channel><item><title>a</title><description>' + b"<d>" * 100_000,
    ],
    ids=["unclosed-elements", "unclosed-markup-in-description"],
)
def test_truncated_deep_nesting_never_reaches_the_slow_parser(body: bytes) -> None:
    """100k unclosed tags in a truncated body: refused or answered by the fast parser,
    never handed to feedparser (which needs seconds for this)."""
    with finishes_within(0.5):
        try:
            feed = parse_feed(body, url=URL)
        except ParseError as exc:
            assert "refused" in exc.reason or "truncated" in exc.reason
        else:
            assert feed.parser == "fast" and "not retried" in (feed.warning or "")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * 100_000,
    ],
    ids=["nested-arrays", "truncated-nested-items"],
)
def test_deeply_nested_json_refused_quickly(body: bytes) -> None:
    """100k nested JSON arrays raise ParseError, not RecursionError."""
    with finishes_within(0.5), pytest.raises(ParseError):
        parse_feed(body, url=URL)


def test_deeply_nested_html_in_description_is_cheap() -> None:
    """100k nested <div>s as item markup parse fast; cleaning the text is linear."""
    doc = (
        b'<rss version="2.0"><channel><item><title>a</title><description>'
        + b"<div>" * 100_000
        + b"deep"
        + b"</div>" * 100_000
        + b"</description></item></channel></rss>"
    )
    with finishes_within(1.0):
        feed = parse_feed(doc, url=URL)
        assert [clean_text(e.summary) for e in feed.entries] in ([], ["deep"], [""])


def test_many_cdata_sections_and_ampersands_stay_linear() -> None:
    """A document with 50k CDATA sections each holding '&' does not go quadratic, and
    50k items are capped at the first 10,000 instead of falling back to the slow parser."""
    items = b"<item><title><![CDATA[a & b]]></title></item>" * 50_000
    doc = b'<rss version="2.0"><channel>' + items + b"</channel></rss>"
    with finishes_within(3.0):
        feed = parse_feed(doc, url=URL)
    assert len(feed.entries) == 10_000
    assert feed.parser == "fast"
    assert "item limit" in (feed.warning or "")


def test_unbalanced_quotes_in_html_do_not_go_quadratic() -> None:
    """clean_text on 300 KB of tags with stray quotes finishes fast."""
    with finishes_within(1.0):
        assert clean_text("<a title='x>word " * 20_000).startswith("word")


def test_body_over_20_mb_is_refused_before_parsing() -> None:
    """The size guard is independent of the fetcher's cap."""
    with finishes_within(0.5), pytest.raises(ParseError, match="too large"):
        parse_feed(b" " * (MAX_BODY_BYTES + 1), url=URL)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n\t ", "empty body"),
        (b"<!DOCTYPE html><html><head><title>Hi</title></head><body></body></html>", "HTML page"),
        (b"\n<html lang='en'><body><p>Not found</p></body></html>", "HTML page"),
        (b"<?xml version='1.0'?><!-- c --><HTML><body/></HTML>", "HTML page"),
        (b"<head><meta charset='utf-8'><title>Moved</title></head>", "HTML page"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "root element <svg>"),
        (b'{"results": [], "count": 0}', "not a JSON Feed"),
        (b"[1, 2, 3]", "not an object"),
        (b'{"version": "https://jsonfeed.org/version/1", "ti', "truncated JSON"),
        (b"{nope}", "invalid JSON"),
        (b"https://example.org/feed.xml", "neither XML nor JSON"),
        (b"Service Unavailable", "neither XML nor JSON"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>', "truncated XML"),
        (b"<?xml version='1.0'?>", "no XML root element"),
        (
            b'<rss version="2.0"><channel><item><title>a</ti<<<tle></item></channel></rss>',
            "malformed",
        ),
    ],
)
def test_non_feed_bodies_get_a_clear_reason(body: bytes, reason: str) -> None:
    """Each non-feed body raises ParseError whose reason says what it is."""
    with finishes_within(0.5), pytest.raises(ParseError) as caught:
        parse_feed(body, url=URL)
    assert reason in caught.value.reason


def test_str_bodies_are_rejected_so_nothing_is_fetched() -> None:
    """A str that looks like a URL is never handed to a parser that would fetch it."""
    with pytest.raises(TypeError):
        parse_feed("https://example.org/feed.xml", url=URL)  # type: ignore[arg-type]


FEEDBURNER = b' xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'
BING = b' xmlns:News="https://www.bing.com/news/search?q=x&amp;format=rss"'
RUN = b" " * 200_000


@pytest.mark.parametrize(
    ("doc", "first_link"),
    [
        # an empty element's run of spaces (the repair of self-closed elements)
        (
            b'<rss version="2.0"><channel><title>t</title><item><title></title>'
            b"<link>https://a.example/1</link><dc:creator" + RUN + b"></dc:creator></item>"
            b"</channel></rss>",
            "https://a.example/1",
        ),
        # a title's run of spaces with a nested title (the nested-title check)
        (
            b'<rss version="2.0"><channel><title>t</title><item><title>a' + RUN + b"b<title>c"
            b"</title></title><link>https://a.example/1</link></item></channel></rss>",
            "https://a.example/1",
        ),
        # a guid's run of spaces beside an origLink (FeedBurner's items)
        (
            b'<rss version="2.0"' + FEEDBURNER + b"><channel><title>t</title><item><title>x"
            b"</title><guid>a" + RUN + b"b</guid><feedburner:origLink>https://a.example/x"
            b"</feedburner:origLink></item></channel></rss>",
            "https://a.example/x",
        ),
        # thousands of items never closed (FeedBurner's and Bing's per-item reads)
        (
            b'<rss version="2.0"'
            + FEEDBURNER
            + BING
            + b"><channel><title>t</title>"
            + b"<item><title>x</title><link>https://a.example/</link>" * 10_000
            + b"</channel></rss>",
            "https://a.example/",
        ),
        # an intranet link (the fast parser drops it) between runs of spaces, and an Atom
        # style link tag whose attributes are runs of spaces
        (
            b'<rss version="2.0"><channel><title>t</title><item><title>x</title><link>'
            + RUN
            + b"http://wiki.desk.local/1"
            + RUN
            + b"</link></item><item><title>y</title><link>"
            + RUN
            + b"</link><link"
            + RUN
            + b"href='http://h.local/"
            + RUN
            + b"'/></item></channel></rss>",
            "http://wiki.desk.local/1",
        ),
    ],
    ids=["empty element", "nested title", "origLink guid", "unclosed items", "local link"],
)
def test_the_feed_repairs_stay_linear_on_hostile_text(doc: bytes, first_link: str) -> None:
    """Each repair reads untrusted text with patterns that cannot backtrack: a run of
    200,000 spaces where a lazy pattern met a greedy one took minutes at 8,000."""
    with finishes_within(10.0):
        feed = parse_feed(doc, url=URL)
    assert feed.entries[0].link == first_link


@pytest.mark.parametrize("tail", ["", "'"], ids=["no quote", "a quote"])
def test_a_tag_never_closed_over_a_long_run_stays_linear(tail: str) -> None:
    """'<a' and a million letters with no '>' (a cut-off summary, or a hostile one):
    the tag patterns' name part once handed its letters back one at a time (8 s for
    80,000 letters, 44 s with a quote after them). A summary drops the cut-off tag; a
    title keeps it as text."""
    text = "Tariffs <a" + "b" * 1_000_000 + tail
    with finishes_within(5.0):
        cleaned = clean_text(text)
        title = title_to_text(text)
    assert cleaned == "Tariffs" and title.startswith("Tariffs <abbb")


def test_a_cjk_headline_with_a_huge_number_stays_linear() -> None:
    """A CJK headline's durations ("90天") are read from each run of digits once: a
    search from every digit of a 10,000-digit run took 1.3 s; a million now."""
    from bot.core.stories import story_features

    with finishes_within(5.0):
        huge = story_features("美国关税延长" + "9" * 1_000_000 + "天", "")
    assert "tariff" in huge.terms and "us" in huge.terms
    assert "d90day" in story_features("美国关税延长90天", "").terms


def test_a_body_of_countless_gzip_members_is_refused_at_once() -> None:
    """Ten megabytes of empty gzip members: a worker decoding the whole body handed the
    rest of it to each member, quadratic (minutes of CPU, the output never reaching the
    size cap). It is read in slices now, and more than 1,000 members are refused; a body
    of a few hundred real members still decodes."""
    import gzip

    from bot.core.bodies import MAX_GZIP_MEMBERS, decode_body

    hostile = gzip.compress(b"") * 500_000
    with finishes_within(5.0), pytest.raises(FetchError) as refused:
        decode_body(hostile, "gzip", 20 * 1024 * 1024)
    assert f"more than {MAX_GZIP_MEMBERS} gzip members" in str(refused.value)
    members = [gzip.compress(f"<p>part {n}</p>".encode()) for n in range(900)]
    body, _ = decode_body(b"".join(members), "gzip", 20 * 1024 * 1024)
    assert body.startswith(b"<p>part 0</p>") and body.endswith(b"<p>part 899</p>")
