"""Google News: old links decoded offline, current ones identified without a request,
publisher names taken out of summaries."""

from __future__ import annotations

from base64 import urlsafe_b64encode
from datetime import UTC, datetime

import pytest

from bot.core.articles import article_from_entry, canonical_url
from bot.core.decide import fresh_indexes
from bot.core.googlenews import article_url, publisher_id, summary_html
from bot.core.models import Article, FeedEntry
from bot.core.parsing import parse_feed
from tests.support import TEST_FEEDS

GN_FEED = "https://news.google.com/rss/search?q=%22trade+talks%22&hl=en-US&gl=US&ceid=US:en"
SEEN_AT = datetime(2026, 11, 25, tzinfo=UTC)
ARTICLE = "https://www.harbordaily.example/world/2026/11/24/us-china-trade-talks-kuala-lumpur"


def token(*fields: tuple[int, bytes]) -> str:
    """A Google News token: base64url of protobuf fields (1: varint 19, then ours)."""
    message = b"\x08\x13"
    for number, value in fields:
        message += bytes([number << 3 | 2]) + _varint(len(value)) + value
    return urlsafe_b64encode(message).decode().rstrip("=")


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


@pytest.mark.parametrize("path", ["/rss/articles/", "/articles/", "/__i/rss/rd/articles/"])
def test_old_format_links_decode_to_the_article(path: str) -> None:
    """The URL inside an old token comes out, whichever article path wraps it."""
    link = f"https://news.google.com{path}{token((4, ARTICLE.encode()))}?oc=5"
    assert link.split("articles/")[1].startswith("CBMi")
    assert article_url(link) == ARTICLE


def test_old_format_link_with_an_amp_url_gives_the_article_url() -> None:
    """Tokens that also carry the AMP page's URL give the article's own URL, the first."""
    amp = ARTICLE.replace("/world/", "/amp/world/").encode()
    link = f"https://news.google.com/rss/articles/{token((4, ARTICLE.encode()), (26, amp))}"
    assert article_url(link) == ARTICLE


def test_long_urls_with_two_byte_lengths_decode() -> None:
    """A URL over 127 bytes (its length a two-byte varint) decodes whole."""
    long_url = ARTICLE + "?" + "&".join(f"p{n}=v{n}" for n in range(30))
    assert len(long_url) > 200
    assert article_url(f"https://news.google.com/rss/articles/{token((4, long_url.encode()))}") == (
        long_url
    )


@pytest.mark.parametrize(
    "link",
    [
        # A current token: an opaque id only Google's servers resolve.
        f"https://news.google.com/rss/articles/{token((4, b'AU_yqLPkgjwN7GM6bkL34fQ49DTO0FOo6'))}",
        # A token cut short: its length says 43 bytes, 8 follow.
        "https://news.google.com/rss/articles/CBMiK2h0dHBzOi8v?oc=5",
        "https://news.google.com/rss/articles/not*base64",
        "https://news.google.com/rss/articles/",
        f"https://example.org/rss/articles/{token((4, ARTICLE.encode()))}",
        "https://news.google.com/topics/CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx1YlY4U0FtVnVHZ0pWVXlnQVAB",
    ],
    ids=["opaque", "truncated", "not-base64", "empty", "other-host", "not-an-article"],
)
def test_anything_else_is_left_alone(link: str) -> None:
    """Opaque, damaged or foreign links decode to nothing, and canonical_url keeps them."""
    assert article_url(link) is None
    assert canonical_url(link).startswith(link.split("?")[0][:30])


def test_canonical_url_unwraps_old_google_news_links_then_cleans_them() -> None:
    """The decoded article URL is canonicalised like any other (tracking removed)."""
    inner = (ARTICLE + "?utm_source=google&id=7").encode()
    link = f"https://news.google.com/rss/articles/{token((4, inner))}?oc=5"
    assert canonical_url(link) == ARTICLE + "?id=7"


@pytest.mark.parametrize(
    ("source_url", "source_name", "expected"),
    [
        ("https://www.capitalwire.example", "Capital Wire", "capitalwire.example"),
        ("https://WWW3.NHK.example/", "NHK", "www3.nhk.example"),
        (None, "  The Bay   Chronicle ", "the bay chronicle"),
        ("not a url", "Capital Wire", "capital wire"),
        (None, None, None),
    ],
)
def test_publisher_id_is_the_source_domain_else_the_name(
    source_url: str | None, source_name: str | None, expected: str | None
) -> None:
    """<source url> gives the domain (no www.); without one, the folded name."""
    assert publisher_id(source_url, source_name) == expected


def test_summary_html_drops_publishers_and_the_full_coverage_link() -> None:
    """Grey publisher names after headlines, the small one under an old thumbnail, and the
    Full Coverage link go; the headlines stay, one ' · ' apart."""
    html = (
        '<ol><li><a href="https://news.google.com/rss/articles/A">First</a>&nbsp;&nbsp;'
        '<font color="#6f6f6f">Harbor Daily</font></li>'
        '<li><a href="https://news.google.com/rss/articles/B">Second</a>&nbsp;&nbsp;'
        '<font color="#6f6f6f">Capital Wire</font></li>'
        '<li><strong><a href="https://news.google.com/stories/CAAq?oc=5">View Full Coverage on'
        " Google News</a></strong></li></ol>"
        '<font size="-2">Pacific Ledger</font>'
    )
    cleaned = summary_html(html)
    for gone in ("Harbor Daily", "Capital Wire", "Pacific Ledger", "Full Coverage"):
        assert gone not in cleaned
    assert "First</a>&nbsp;&nbsp;</li> · <li>" in cleaned


# --- Google News items as articles ---------------------------------------------------------


def gn_articles() -> list[Article]:
    feed = parse_feed((TEST_FEEDS / "google-news-search.rss").read_bytes(), url=GN_FEED)
    articles = [
        article_from_entry(e, feed_url=GN_FEED, feed_title=feed.title, seen_at=SEEN_AT)
        for e in feed.entries
    ]
    assert None not in articles
    return [a for a in articles if a is not None]


def test_google_news_articles_show_the_real_publisher_link_and_a_clean_summary() -> None:
    """The outlet is the <source>; an old-format link leads to the article itself; the
    summary loses the glued publisher and the repeated headline, keeping related ones."""
    first, second, third, _, fifth = gn_articles()
    assert (first.source, first.url) == ("Harbor Daily", ARTICLE)
    assert first.title == "Bessent and He Lifeng open trade talks in Kuala Lumpur"
    assert first.summary == (
        "U.S., China negotiators meet in Malaysia ahead of summit · "
        "Trade talks resume as tariff deadline nears"
    )
    assert (
        second.url == "https://www.pacificledger.example/markets/rare-earth-export-controls-widen"
    )
    assert second.summary == ""  # it only repeated the title
    assert third.source == "Capital Wire"
    assert third.url.startswith("https://news.google.com/rss/articles/CBMi")  # opaque: kept
    # A publisher whose name holds a separator still comes off the title whole.
    assert (fifth.title, fifth.source) == (
        "Soybean farmers look to Beijing & the summit",
        "The Bay Chronicle - Farm Desk",
    )


def test_a_re_encoded_google_news_link_is_the_same_article() -> None:
    """Google gives Capital Wire's article a new token and guid: the two copies share an
    identity key (publisher domain, title, day), so the second is not new."""
    articles = gn_articles()
    copies = [a for a in articles if a.source == "Capital Wire"]
    assert len(copies) == 2 and copies[0].url != copies[1].url and copies[0].guid != copies[1].guid
    assert set(copies[0].identity_keys) & set(copies[1].identity_keys)
    fresh = fresh_indexes([a.identity_keys for a in articles], set())
    assert [articles[i].source for i in fresh] == [
        "Harbor Daily",
        "Pacific Ledger",
        "Capital Wire",
        "The Bay Chronicle - Farm Desk",
    ]


def test_two_outlets_with_the_same_syndicated_headline_stay_two_articles() -> None:
    """An agency headline carried word for word by two outlets in one Google News feed
    is two articles (one story), not one item seen twice."""

    def entry(token_: str, outlet: str, domain: str) -> FeedEntry:
        return FeedEntry(
            guid=token_,
            link=f"https://news.google.com/rss/articles/{token_}?oc=5",
            title=f"Port strike ends after three days - {outlet}",
            published=SEEN_AT,
            source_name=outlet,
            source_url=f"https://www.{domain}",
        )

    a, b = (
        article_from_entry(e, feed_url=GN_FEED, feed_title=None, seen_at=SEEN_AT)
        for e in (entry("CBMiAAA", "Harbor Daily", "harbordaily.example"),
                  entry("CBMiBBB", "Capital Wire", "capitalwire.example"))
    )  # fmt: skip
    assert a is not None and b is not None
    assert a.title == b.title == "Port strike ends after three days"
    assert not set(a.identity_keys) & set(b.identity_keys)
