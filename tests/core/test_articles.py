"""Article cleaning: plain text, canonical URLs, publisher suffixes and identity keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.articles import (
    CONTENT_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    article_from_entry,
    canonical_url,
    clean_text,
    entry_identity_keys,
    identity_keys,
    split_publisher_suffix,
)
from bot.core.models import FeedEntry

FEED = "https://feeds.example.org/world.xml"
SEEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

# --- clean_text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("rare <b>earth</b>", "rare earth"),
        ("<p>One</p><p>Two</p>", "One Two"),
        ("line<br/>break", "line break"),
        ("a&nbsp;b\u00a0c", "a b c"),
        ("Trump&amp;apos;s plan", "Trump's plan"),
        ("it&amp;#39;s", "it's"),
        ("&lt;b&gt;bold&lt;/b&gt; move", "bold move"),
        ("AT&amp;T", "AT&T"),
        ("  lots \n\t of   space  ", "lots of space"),
        ("<script>alert(1)</script>Hello<style>p{}</style>", "Hello"),
        ("<!-- hidden -->shown", "shown"),
        ("a < b and c > d", "a < b and c > d"),
        ("cut off <a href='http://exa", "cut off"),
        ("zero\u200bwidth", "zerowidth"),
        ("ctrl\x10char", "ctrlchar"),
        ("caf&eacute; &mdash; ok", "café — ok"),
        ('<a title="x > y">link</a>', "link"),
        ("", ""),
    ],
)
def test_clean_text_strips_markup_and_decodes_entities(raw: str, expected: str) -> None:
    """Tags go, entities (also escaped twice) decode, whitespace incl. NBSP folds."""
    assert clean_text(raw) == expected


def test_clean_text_caps_length_at_a_word_boundary() -> None:
    """max_chars cuts between words and marks the cut with an ellipsis."""
    text = clean_text("word " * 100, max_chars=22)
    assert len(text) <= 22
    assert text.endswith("…")
    assert "wor…" not in text


# --- canonical_url -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/Path?b=2&a=1#frag", "https://example.com/Path?a=1&b=2"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&id=7&fbclid=XYZ&gclid=1",
            "https://example.com/a?id=7",
        ),
        (
            "https://example.com/a?mc_cid=1&mc_eid=2&igshid=3&ref_src=twsrc&cmpid=4&ncid=5&ocid=6",
            "https://example.com/a",
        ),
        ("https://example.com/a?_hsenc=1&_hsmi=2&yclid=3&msclkid=4&spm=5", "https://example.com/a"),
        # Webtrekk's campaign mark: heise's RSS and Atom feeds tag one article two ways.
        (
            "https://www.heise.de/news/x-7237368.html?wt_mc=rss.red.ho.ho.atom.beitrag.beitrag",
            "https://www.heise.de/news/x-7237368.html",
        ),
        # comScore's campaign marks (Daily Mail's feeds tag every link with them).
        (
            "http://www.dailymail.co.uk/news/article-1.html?ns_campaign=1490&ns_mchannel=rss"
            "&ns_source=x&ns_linkname=y&ns_fee=0",
            "http://www.dailymail.co.uk/news/article-1.html",
        ),
        # feedType is a real parameter on Reuters links, not tracking.
        (
            "http://www.reuters.com/article/x?feedType=RSS",
            "http://www.reuters.com/article/x?feedType=RSS",
        ),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://news.example.com/story%3Fid%3D1&ct=ga",
            "https://news.example.com/story?id=1",
        ),
        (
            "http://news.google.com/news/url?sa=t&fd=R&url=http://www.telegraph.co.uk/news/1.html&cid=1",
            "http://www.telegraph.co.uk/news/1.html",
        ),
        (
            "https://news.google.com/rss/articles/CBMiK2h0dHBzOi8v?oc=5",
            "https://news.google.com/rss/articles/CBMiK2h0dHBzOi8v?oc=5",
        ),
        (
            "https://www.google.com/url?url=https://example.com/a?utm_campaign=x",
            "https://example.com/a",
        ),
        ("https://example.com/a?q=a+b&empty=", "https://example.com/a?empty=&q=a+b"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("  https://example.com/x  ", "https://example.com/x"),
        ("https://example.com/a?x=1&amp;y=2", "https://example.com/a?x=1&y=2"),
        ("https://User:pw@Example.COM:443/p", "https://User:pw@example.com/p"),
        ("http://[2001:DB8::1]:8080/p", "http://[2001:db8::1]:8080/p"),
        ("https://example.com./p", "https://example.com/p"),
    ],
)
def test_canonical_url_normalises(url: str, expected: str) -> None:
    """Case, default ports, fragments, tracking params, order and redirect wrappers."""
    assert canonical_url(url) == expected


def test_canonical_url_resolves_relative_against_base() -> None:
    """A site-relative link takes the base's scheme and host."""
    assert canonical_url("/en/news/1?utm_source=x", base="https://Site.example/feed") == (
        "https://site.example/en/news/1"
    )


def test_canonical_url_is_idempotent() -> None:
    """Canonicalising a canonical URL changes nothing."""
    for url in (
        "https://example.com/a b?q=x y&z=%2F",
        "https://www.google.com/url?url=https://example.com/p%3Fa%3D1",
        "HTTP://EXAMPLE.com:80/?b=1&a=2#x",
    ):
        once = canonical_url(url)
        assert canonical_url(once) == once


def test_canonical_url_can_keep_fragment() -> None:
    """keep_fragment=True keeps '#anchor' for feeds that address items by anchor."""
    assert canonical_url("http://scripting.com/2017/06/26.html#a080605", keep_fragment=True) == (
        "http://scripting.com/2017/06/26.html#a080605"
    )


# --- split_publisher_suffix --------------------------------------------------------


def test_known_source_suffix_is_split() -> None:
    """'Headline - Reuters' with source Reuters -> ('Headline', 'Reuters')."""
    assert split_publisher_suffix("Headline - Reuters", "Reuters") == ("Headline", "Reuters")
    assert split_publisher_suffix("A - B | The Guardian", "the guardian") == (
        "A - B",
        "The Guardian",
    )


def test_unknown_suffix_is_kept_without_google_news() -> None:
    """A title with a dash is not cut when the source is unknown or different."""
    assert split_publisher_suffix("Pre - and post-war", None) == ("Pre - and post-war", None)
    assert split_publisher_suffix("Headline - AP", "Reuters") == ("Headline - AP", None)


def test_google_news_suffix_split_without_source() -> None:
    """For Google News the last ' - Publisher' is the publisher even without <source>."""
    assert split_publisher_suffix(
        "Putin loses patience - Telegraph.co.uk", None, assume_suffix=True
    ) == ("Putin loses patience", "Telegraph.co.uk")
    # A long tail is a sentence, not a publisher name.
    title = "Talks stall - and the markets respond with a broad and deep selloff today"
    assert split_publisher_suffix(title, None, assume_suffix=True) == (title, None)


# --- identity_keys ------------------------------------------------------------------


def _keys(**overrides: object) -> tuple[str, ...]:
    args: dict[str, object] = {
        "feed_url": FEED,
        "guid": "tag:example.org,2024:1",
        "canonical": "https://example.org/a",
        "title": "Headline",
        "published": WHEN,
    }
    args.update(overrides)
    return identity_keys(**args)  # type: ignore[arg-type]


def test_identity_keys_strongest_first_and_compact() -> None:
    """g:, u: in that order, each short; t: only without a guid of the item's own."""
    keys = _keys()
    assert [k[:2] for k in keys] == ["g:", "u:"]
    assert all(len(k) <= 20 for k in keys)
    assert [k[:2] for k in _keys(guid=None)] == ["u:", "t:"]


def test_redated_item_keeps_guid_and_url_keys() -> None:
    """A new date changes only t:, so the item is still recognised."""
    old, new = set(_keys()), set(_keys(published=WHEN + timedelta(days=2)))
    assert {k for k in old & new} >= {k for k in old if k[0] in "gu"}


def test_changed_guid_keeps_url_key() -> None:
    """A rotated guid with the same URL still shares u:."""
    assert set(_keys()) & set(_keys(guid="tag:example.org,2024:other"))


def test_tracking_params_do_not_change_url_key() -> None:
    """The u: key hashes the canonical URL, so utm_* never makes an item new."""
    a = _keys(guid=None, canonical=canonical_url("https://example.org/a?utm_source=rss"))
    b = _keys(guid=None, canonical=canonical_url("https://example.org/a?utm_source=email"))
    assert a == b


def test_guid_equal_to_link_is_url_based() -> None:
    """A guid that is just the item URL adds no g: key."""
    keys = _keys(guid="https://example.org/a?utm_source=x")
    assert not any(k.startswith("g:") for k in keys)


def test_guid_is_scoped_to_the_feed() -> None:
    """The same guid in two feeds gives two different g: keys."""
    assert _keys()[0] != _keys(feed_url="https://other.example/feed")[0]


def test_undated_title_key_only_when_nothing_else() -> None:
    """Without a date, a recurring title must not swallow new items: no t: then."""
    assert not any(k.startswith("t:") for k in _keys(published=None))
    only = _keys(guid=None, canonical=None, published=None)
    assert [k[:2] for k in only] == ["t:"]


# --- article_from_entry ------------------------------------------------------------


def test_article_from_entry_cleans_everything() -> None:
    """Text is plain, URL canonical, date UTC, source from the feed title."""
    entry = FeedEntry(
        guid="tag:1",
        link="/news/1?utm_source=rss",
        title="Rare <b>earth</b> exports &amp; tariffs",
        summary="<p>China&nbsp;limits exports.</p>",
        content="<div>" + "long text " * 5000 + "</div>",
        published=WHEN,
        image_url="/img/1.jpg",
    )
    article = article_from_entry(entry, feed_url=FEED, feed_title="World News", seen_at=SEEN)
    assert article is not None
    assert article.title == "Rare earth exports & tariffs"
    assert article.summary == "China limits exports."
    assert len(article.content) <= CONTENT_MAX_CHARS
    assert article.url == "https://feeds.example.org/news/1"
    assert article.source == "World News"
    assert article.published == WHEN and article.published_known
    assert article.image_url == "https://feeds.example.org/img/1.jpg"
    assert article.guid == "tag:1"


def test_article_without_title_link_or_text_is_none() -> None:
    """An entry with neither title, link nor text cannot become an article."""
    entry = FeedEntry(guid="x", link=None, title="", summary="<p> </p>")
    assert article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN) is None


def test_text_only_item_is_titled_by_its_text() -> None:
    """An item that is only text (an outliner's <body>, a micro-post) is still news: its
    text stands in for the title, and the guid identifies it."""
    entry = FeedEntry(guid="x", link=None, title="", content="<p>Port fees rise in January.</p>")
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert article.title == "Port fees rise in January."
    assert article.identity_keys == entry_identity_keys(entry, feed_url=FEED)


def test_long_description_is_cut_for_display_but_matched_whole() -> None:
    """A whole article in the description: the summary is a short cut of it, nothing of it
    is stored as content, and full_text (what watches match) keeps every word."""
    paragraphs = [f"<p>Paragraph {n} about tariffs and trade.</p>" for n in range(100)]
    entry = FeedEntry(guid="g", link="https://e.org/a", title="T", summary="".join(paragraphs))
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert len(article.summary) <= SUMMARY_MAX_CHARS and article.summary.endswith("…")
    assert article.content == ""
    assert article.full_text.endswith("Paragraph 99 about tariffs and trade.")


@pytest.mark.parametrize(
    ("summary", "content", "full_text"),
    [
        ("Opening line.", "<p>Opening line.</p><p>The rest.</p>", "Opening line. The rest."),
        ("A teaser of its own.", "<p>The article.</p>", "A teaser of its own. The article."),
        ("", "<p>Only content.</p>", "Only content."),
        ("Only a description.", "", "Only a description."),
    ],
)
def test_full_text_holds_every_word_once(summary: str, content: str, full_text: str) -> None:
    """A description that opens the content is not repeated; one of its own is kept."""
    entry = FeedEntry(guid="g", link="https://e.org/a", title="T", summary=summary, content=content)
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert article.full_text == full_text


def test_article_missing_date_uses_seen_at() -> None:
    """No date: published=seen_at, published_known=False; source falls back to the host."""
    entry = FeedEntry(guid=None, link="https://example.org/a", title="T")
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert article.published == SEEN and not article.published_known
    assert article.source == "feeds.example.org"


def test_article_far_future_date_is_not_trusted() -> None:
    """A date years ahead (publisher clock bug) becomes seen_at, not known."""
    entry = FeedEntry(
        guid=None, link="https://e.org/a", title="T", published=SEEN + timedelta(days=3650)
    )
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert article.published == SEEN and not article.published_known


def test_article_title_falls_back_to_summary() -> None:
    """A JSON Feed micro-post without a title gets one from its text."""
    entry = FeedEntry(
        guid="1", link="https://e.org/p", title="", content="<p>" + "word " * 80 + "</p>"
    )
    article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert article is not None
    assert article.title.startswith("word word") and len(article.title) <= 140
    assert len(article.summary) <= SUMMARY_MAX_CHARS


def test_google_news_article_uses_source_and_strips_suffix() -> None:
    """<source> names the publisher and the matching title suffix goes away."""
    entry = FeedEntry(
        guid="CBMi123",
        link="https://news.google.com/rss/articles/CBMi123?oc=5",
        title="Trump again shrinks two national monuments in Utah - The Washington Post",
        source_name="The Washington Post",
        source_url="https://www.washingtonpost.com",
        published=WHEN,
    )
    feed_url = "https://news.google.com/rss/search?q=bears+ears"
    article = article_from_entry(entry, feed_url=feed_url, feed_title="Google News", seen_at=SEEN)
    assert article is not None
    assert article.title == "Trump again shrinks two national monuments in Utah"
    assert article.source == "The Washington Post"
    assert article.url == "https://news.google.com/rss/articles/CBMi123?oc=5"


def test_anchor_addressed_items_stay_distinct() -> None:
    """Items whose guid is page#anchor keep the anchor, so two items on one page differ."""
    a = FeedEntry(
        guid="http://s.com/d.html#a1", link="http://s.com/d.html#a1", title="", summary="one"
    )
    b = FeedEntry(
        guid="http://s.com/d.html#a2", link="http://s.com/d.html#a2", title="", summary="two"
    )
    art_a = article_from_entry(a, feed_url=FEED, feed_title=None, seen_at=SEEN)
    art_b = article_from_entry(b, feed_url=FEED, feed_title=None, seen_at=SEEN)
    assert art_a is not None and art_b is not None
    assert not set(art_a.identity_keys) & set(art_b.identity_keys)


def test_same_item_across_polls_has_same_keys() -> None:
    """Polled twice (different seen_at, tracking param changed), keys intersect."""
    first = FeedEntry(guid="g1", link="https://e.org/a?utm_source=rss", title="T", published=WHEN)
    again = FeedEntry(guid="g1", link="https://e.org/a?utm_source=email", title="T", published=None)
    a1 = article_from_entry(first, feed_url=FEED, feed_title=None, seen_at=SEEN)
    a2 = article_from_entry(
        again, feed_url=FEED, feed_title=None, seen_at=SEEN + timedelta(hours=1)
    )
    assert a1 is not None and a2 is not None
    assert set(a1.identity_keys) & set(a2.identity_keys)


def test_entry_identity_keys_match_the_article_keys() -> None:
    """The cheap pre-dedup keys equal the keys of the full article, titled or not."""
    entries = [
        FeedEntry(
            guid="g",
            link="https://e.org/a?utm_source=x",
            title="<b>T</b> - Reuters",
            source_name="Reuters",
            published=WHEN,
        ),
        FeedEntry(guid=None, link=None, title="Only a title"),
        FeedEntry(guid="1", link="https://e.org/p", title="", summary="<p>micro post</p>"),
        FeedEntry(guid="x", link=None, title=""),
    ]
    for entry in entries:
        article = article_from_entry(entry, feed_url=FEED, feed_title=None, seen_at=SEEN)
        expected = article.identity_keys if article is not None else ()
        assert entry_identity_keys(entry, feed_url=FEED) == expected


def test_raw_entry_key_follows_the_raw_guid_and_link_only() -> None:
    """The cheap pre-key: same raw guid/link (any title) -> same key; a link-less,
    guid-less entry is keyed by title and date; other feeds get other keys."""
    from datetime import UTC, datetime

    from bot.core.articles import raw_entry_key
    from bot.core.models import FeedEntry

    a = FeedEntry(guid="g1", link="https://x.test/1", title="Old headline")
    b = FeedEntry(guid="g1", link="https://x.test/1", title="New headline")
    assert raw_entry_key(a, feed_url="f") == raw_entry_key(b, feed_url="f")
    assert raw_entry_key(a, feed_url="f") != raw_entry_key(a, feed_url="other")
    day = datetime(2026, 11, 25, tzinfo=UTC)
    bare1 = FeedEntry(guid=None, link=None, title="Quota set", published=day)
    bare2 = FeedEntry(guid=None, link=None, title="Quota cut", published=day)
    assert raw_entry_key(bare1, feed_url="f") != raw_entry_key(bare2, feed_url="f")
    assert len(raw_entry_key(a, feed_url="f")) <= 24  # fits seen_items.key
