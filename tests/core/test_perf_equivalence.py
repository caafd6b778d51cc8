"""The poller's shortcuts give exactly what the plain path gives.

Seeding speed comes from reusing work (identity computed once per entry, no story lookup
while nothing is indexed); these tests pin that the shortcuts never change a result.
"""

from __future__ import annotations

import hashlib
import random
import re
from base64 import urlsafe_b64encode
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import articles, htmltext, intents
from bot.core.articles import article_from_entry, canonical_url, entry_identity, raw_entry_key
from bot.core.display import without_escape_sequences
from bot.core.intents import FeedOutcome, PlacementFacts
from bot.core.models import FeedEntry
from bot.core.storeport import FeedRow
from bot.core.stories import StoryIndex, story_features, story_key_for_url

FEED = "https://feeds.example.org/world.xml"
GN_FEED = "https://news.google.com/rss/search?q=tariffs"
SEEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

ENTRIES = [
    FeedEntry(
        guid="tag:example.org,2024:1",
        link="https://Example.org/a?utm_source=x&b=2&a=1#frag",
        title="Tariffs on steel rise &amp; <b>markets</b> fall",
        summary="<p>WASHINGTON (Reuters) - Tariffs rose 25% on Monday.</p>",
        content="<p>Tariffs rose 25% on Monday.</p><p>More text.</p>",
        published=WHEN,
    ),
    FeedEntry(guid="x", link=None, title="", content="<p>Port fees rise in January.</p>"),
    FeedEntry(guid=None, link="/relative/item", title="Relative link", summary="s"),
    FeedEntry(
        guid="https://example.org/page#item",
        link="https://example.org/page#item",
        title="Anchored item",
        published=WHEN + timedelta(days=3),  # in the future: published_known False
    ),
    FeedEntry(guid="g", link="https://e.org/b", title="Title - The Daily", source_name="The Daily"),
]


@pytest.mark.parametrize("feed_url", [FEED, GN_FEED])
@pytest.mark.parametrize("entry", ENTRIES)
def test_article_from_a_reused_identity_is_the_same_article(
    entry: FeedEntry, feed_url: str
) -> None:
    plain = article_from_entry(entry, feed_url=feed_url, feed_title="World", seen_at=SEEN)
    identity = entry_identity(entry, feed_url=feed_url)
    assert (identity is None) == (plain is None)
    reused = article_from_entry(
        entry, feed_url=feed_url, feed_title="World", seen_at=SEEN, identity=identity
    )
    assert reused == plain


def _new_feed(feed_id: int) -> FeedRow:
    return FeedRow(
        id=feed_id,
        url=f"https://news{feed_id}.example/rss",
        name=f"News {feed_id}",
        interval=600,
        etag=None,
        last_modified=None,
        body_hash=None,
        seeded=False,
        consecutive_failures=0,
        error_since=None,
        last_error=None,
        failing_notified=False,
    )


def _seeding_plan(titles: list[str], published: list[datetime] | None = None) -> intents.IngestPlan:
    feed = _new_feed(1)
    dates = published or [SEEN] * len(titles)
    entries = [
        FeedEntry(guid=f"i{n}", link=f"https://outlet.example/{n}", title=t, published=when)
        for n, (t, when) in enumerate(zip(titles, dates, strict=True))
    ]
    outcome = FeedOutcome(
        feed=feed,
        fetched_at=SEEN,
        entries=[(e, raw_entry_key(e, feed_url=feed.url)) for e in entries],
        feed_title=feed.name,
    )
    screened = intents.screen_entries([outcome], {})
    return intents.plan_entries(screened, {}, now=SEEN, backfill=0, max_age=timedelta(days=2))


TITLES = [
    "China tightens rare earth export controls on chip makers",
    "Port strike ends after dockworkers accept pay deal",
]


def test_a_seeding_poll_with_nothing_indexed_gives_each_item_its_own_story() -> None:
    """Held items are never indexed, so with an empty index none can join a story: the
    shortcut that skips their lookup gives each the story key of its URL, as a lookup
    would, grows nothing, and leaves the index empty."""
    plan = _seeding_plan(TITLES)
    stories = StoryIndex()
    placed = intents.place_articles(
        plan, PlacementFacts(stored={}), stories=stories, targets=lambda a, r: []
    )
    assert [(p.article.title, p.story_key) for p in placed.articles] == [
        (t, story_key_for_url(f"https://outlet.example/{n}")) for n, t in enumerate(TITLES)
    ]
    assert placed.grown == () and placed.alerts == ()
    assert len(stories) == 0


def test_a_seeding_poll_still_joins_a_held_item_to_a_story_the_index_holds() -> None:
    """With stories indexed, a new feed's backlog item about one of them joins it (and the
    story's messages grow), as before the shortcut."""
    stories = StoryIndex()
    stories.add("s-rare", story_features(TITLES[0] + " again"), SEEN - timedelta(hours=1))
    placed = intents.place_articles(
        _seeding_plan(TITLES), PlacementFacts(stored={}), stories=stories, targets=lambda a, r: []
    )
    assert [p.story_key for p in placed.articles] == [
        "s-rare",
        story_key_for_url("https://outlet.example/1"),
    ]
    assert placed.grown == (("s-rare", 1),)  # with the feed that grew it
    assert len(stories) == 1  # held items are looked up, never indexed


def test_a_seeding_poll_looks_up_only_its_newest_held_items_within_the_window() -> None:
    """A new feed's backlog costs a story lookup for its newest HELD_LOOKUPS items only,
    and only for those published within the story window: an item of the story further
    down the backlog, or published before the window, keeps a story of its own."""
    story = TITLES[0] + " again"
    others = [f"Quarterly results at retailer number {n} beat forecasts" for n in range(12)]
    titles = [story, *others[: intents.HELD_LOOKUPS - 1], story + " today", story + " abroad"]
    published = [SEEN - timedelta(minutes=n) for n in range(len(titles))]
    published[-1] = SEEN - timedelta(days=3)  # newest-first order aside, before the window
    stories = StoryIndex()
    stories.add("s-rare", story_features(TITLES[0]), SEEN - timedelta(hours=1))
    placed = intents.place_articles(
        _seeding_plan(titles, published),
        PlacementFacts(stored={}),
        stories=stories,
        targets=lambda a, r: [],
    )
    keys = [p.story_key for p in placed.articles]
    assert keys[0] == "s-rare"  # the newest item joins
    n = intents.HELD_LOOKUPS
    assert keys[n] == story_key_for_url(f"https://outlet.example/{n}")  # past the newest N
    assert keys[n + 1] == story_key_for_url(f"https://outlet.example/{n + 1}")  # too old
    assert placed.grown == (("s-rare", 1),)  # with the feed that grew it
    # Without the bound, both would have joined: the lookup is what decides.
    for title in titles[n:]:
        assert stories.find(story_features(title), SEEN) == "s-rare"


def test_keys_are_still_urlsafe_base64_of_blake2b() -> None:
    """Stored seen keys must never change form: a changed key would make every item of
    every feed new again."""
    entry = ENTRIES[0]
    raw = hashlib.blake2b(
        "\x1f".join([FEED, entry.guid or "", entry.link or ""]).encode("utf-8"), digest_size=12
    ).digest()
    assert raw_entry_key(entry, feed_url=FEED) == "r:" + urlsafe_b64encode(raw).decode("ascii")


# --- tag stripping without a callback per tag ------------------------------------------

_ORACLE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)[^<>]*>")


def _oracle_strip(value: str) -> str | None:
    """The per-tag reading the two-substitution fast path replaced: None where it hands
    the text to the tokenizer."""
    odd: list[bool] = []

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        if tag.count('"') % 2 or tag.count("'") % 2:
            odd.append(True)
        return " " if match.group(1).lower() in htmltext._BLOCK else ""

    text = _ORACLE_TAG.sub(replace, value)
    return None if odd or htmltext._LEFTOVER_TAG.search(text) else text


_PIECES = [
    "<p>", "</p>", "<P class='x'>", "<br/>", "<BR>", "<b>", "</b>", "<a href=\"u\">", "</a>",
    "<img src='i.jpg' alt=\"a>b\">", "<pre>", "<prefix>", "<blockquote>", "<bloc\u212aquote>",
    "<td>", "<tdx>", "<font-x>", "<h1:x>", "<div data-q='1\">", "<span title=\"it's\">",
    "word", " ", "&amp;", "\x01", "</ x>", "</b >", "3 < 5", "a > b", "<", ">", '"', "'",
    "<i", "text\u00e9",
]  # fmt: skip


def test_tag_stripping_matches_the_per_tag_reading() -> None:
    rng = random.Random(7)
    for _ in range(50_000):
        value = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12)))
        if "<!" in value or "<?" in value or htmltext._SKIP_START.search(value):
            continue
        expected = _oracle_strip(value)
        got = htmltext._strip_tags(value)
        assert got == (htmltext._tokenize(value) if expected is None else expected), value


_TEXT_PIECES = [
    "word", "Zoë", " ", "\n", "\t", "\r", "\xa0", "\u2028", "\x85", "\x0b", "\x0c", "\x1c",
    "\x1f", "\x00", "\x07", "\x7f", "\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff",
    "\u200e", "\x9b", "\x1b[2J", "\x1b]0;title\x07", "\ue000", "中文", "-",
]  # fmt: skip


def test_folding_matches_the_regex_reading() -> None:
    def oracle(text: str) -> str:
        if htmltext._DROP.search(text):
            text = htmltext._DROP.sub("", without_escape_sequences(text))
        return " ".join(text.split())

    rng = random.Random(11)
    for _ in range(50_000):
        value = "".join(rng.choice(_TEXT_PIECES) for _ in range(rng.randint(1, 10)))
        assert htmltext._fold(value) == oracle(value), repr(value)


_SCHEMES = ["https://", "http://", "HTTPS://", "ftp://", "", "//"]
_HOSTS = ["news.example.com", "Example.ORG", "a.b.", "e.org:8080", "e.org:443", "u@e.org",
          "[::1]", "news.google.com", "www.google.com", "x-y.co", "é.fr", ""]  # fmt: skip
_PATH_PIECES = ["/", "/world/", "/articles/", "page", "%2F", "+", "~x", ";p=1", "/url", " ",
                "\t", "é", "&", "&amp;", "a.html", "(1)", "'", "!", "*", "@", "\\"]  # fmt: skip
_TAILS = ["", "", "", "?utm_source=rss", "?b=2&a=1", "?q=https://e.org/x", "#frag", "?", "#"]


def test_a_plain_url_is_canonical_as_it_is() -> None:
    rng = random.Random(5)
    shortcut = 0
    for _ in range(50_000):
        path = "".join(rng.choice(_PATH_PIECES) for _ in range(rng.randint(0, 5)))
        if rng.random() < 0.5:  # most feed links: plain scheme, host and path
            url = rng.choice(_SCHEMES[:2]) + rng.choice(_HOSTS[:2]) + path
        else:
            url = rng.choice(_SCHEMES) + rng.choice(_HOSTS) + path + rng.choice(_TAILS)
        trimmed = url.strip().replace("&amp;", "&")
        shortcut += bool(articles._PLAIN_URL.fullmatch(trimmed))
        for keep_fragment in (False, True):
            plain = articles._parsed_canonical_url(trimmed, FEED, keep_fragment)
            assert canonical_url(url, base=FEED, keep_fragment=keep_fragment) == plain, url
    assert shortcut > 1_000  # the shortcut is taken often enough to be pinned


def test_the_block_tag_pattern_matches_exactly_the_block_elements() -> None:
    names = sorted(htmltext._BLOCK)
    near = [n + "x" for n in names] + [n[:-1] for n in names] + ["P", "Pre", "bR", "TD"]
    for name in names + near:
        for tag in (f"<{name}>", f"</{name}>", f"<{name} class='x'>"):
            matched = htmltext._BLOCK_TAG.fullmatch(tag) is not None
            assert matched == (name.lower() in htmltext._BLOCK), tag
