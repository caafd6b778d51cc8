"""One story across outlets: near-duplicate headlines share a story key."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.stories import StoryIndex, same_story, story_key_for_url
from bot.core.textfold import headline_tokens

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)


def same(a: str, b: str) -> bool:
    return same_story(headline_tokens(a), headline_tokens(b))


def test_story_key_for_url_is_short_stable_and_distinct() -> None:
    """s- plus 16 hex characters of sha1: the same URL always gives the same key."""
    key = story_key_for_url("https://example.com/a")
    assert re.fullmatch(r"s-[0-9a-f]{16}", key)
    assert key == story_key_for_url("https://example.com/a")
    assert key != story_key_for_url("https://example.com/b")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "China, U.S. set for key trade talks in Malaysia this week",
            "China, U.S. set for key trade talks in Malaysia",
        ),
        (
            "Bessent, He Lifeng meet in Kuala Lumpur for trade talks",
            "Bessent and He Lifeng hold trade talks in Kuala Lumpur",
        ),
        (
            "What to know about Trump's move to shrink the size of 2 national monuments in Utah",
            "What to know about Trump’s order shrinking the size of 2 national monuments in Utah",
        ),
    ],
)
def test_rewordings_of_one_story_cluster(a: str, b: str) -> None:
    """A dropped phrase or a one-word swap in a long headline is the same story."""
    assert same(a, b)
    assert same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Trump says tariffs on China will rise", "Trump says tariffs on Canada will rise"),
        ("China tightens rare earth export controls", "China eases rare earth export controls"),
        ("Trump says tariffs on China will rise", "Trump says tariffs on China will fall"),
        ("Stocks rise as Fed holds rates", "Stocks fall as Fed holds rates"),
        ("China trade talks", "China trade talks collapse"),  # 3 words are too few
        ("Babylon Fire grows past 70,000 acres", "Bears Ears Burns as Babylon Fire Spreads"),
    ],
)
def test_different_stories_do_not_cluster(a: str, b: str) -> None:
    """A swapped key noun in a short headline, or opposite verbs, are different stories."""
    assert not same(a, b)
    assert not same(b, a)


def test_index_finds_the_story_of_a_near_duplicate_headline() -> None:
    """find() returns the key a similar recent headline was added under."""
    index = StoryIndex()
    index.add("s-talks", headline_tokens("China, U.S. set for key trade talks in Malaysia"), NOW)
    index.add("s-other", headline_tokens("Babylon Fire grows past 70,000 acres"), NOW)
    tokens = headline_tokens("China, U.S. set for key trade talks in Malaysia this week")
    assert index.find(tokens, NOW) == "s-talks"
    assert index.find(headline_tokens("Trump says tariffs on Canada will rise"), NOW) is None


def test_index_ignores_headlines_older_than_the_window() -> None:
    """A headline seen more than `window` ago no longer attracts new articles."""
    index = StoryIndex(window=timedelta(hours=48))
    tokens = headline_tokens("Bessent and He Lifeng hold trade talks in Kuala Lumpur")
    index.add("s-1", tokens, NOW - timedelta(hours=49))
    assert index.find(tokens, NOW) is None
    assert index.find(tokens, NOW - timedelta(hours=2)) == "s-1"


def test_prune_forgets_old_headlines_and_keeps_recent_ones() -> None:
    """prune() drops headlines outside the window; len() counts what is held."""
    index = StoryIndex(window=timedelta(hours=48))
    old = headline_tokens("Court rules that challenge to Utah national monuments can continue")
    new = headline_tokens("Babylon Fire grows to 38,000 acres near Blanding")
    index.add("s-old", old, NOW - timedelta(hours=50))
    index.add("s-new", new, NOW - timedelta(hours=1))
    assert len(index) == 2
    index.prune(NOW)
    assert len(index) == 1
    assert index.find(old, NOW - timedelta(hours=49)) is None
    assert index.find(new, NOW) == "s-new"


def test_adding_the_same_headline_again_refreshes_it_instead_of_growing() -> None:
    """Twelve syndicated copies of one headline are held once, kept alive by the newest."""
    index = StoryIndex(window=timedelta(hours=48))
    tokens = headline_tokens("Trump reduces size of 2 national monuments in Utah")
    index.add("s-ap", tokens, NOW - timedelta(hours=47))
    index.add("s-ap", tokens, NOW)
    assert len(index) == 1
    index.prune(NOW + timedelta(hours=2))
    assert index.find(tokens, NOW + timedelta(hours=2)) == "s-ap"


def test_empty_and_tiny_headlines_never_match() -> None:
    """Headlines with fewer than three content words never join a story."""
    index = StoryIndex()
    index.add("s-1", frozenset(), NOW)
    index.add("s-2", headline_tokens("Markets wrap"), NOW)
    assert len(index) == 1
    assert index.find(headline_tokens("Markets wrap"), NOW) is None


def test_common_words_do_not_make_find_scan_every_story() -> None:
    """Thousands of stories sharing 'trump' still resolve the right one (inverted index)."""
    index = StoryIndex()
    for i in range(3000):
        index.add(f"s-{i}", frozenset({"trump", "says", f"topic{i}", f"place{i}"}), NOW)
    index.add("s-target", headline_tokens("Trump shrinks Bears Ears national monument"), NOW)
    found = index.find(headline_tokens("Trump again shrinks Bears Ears national monument"), NOW)
    assert found == "s-target"


def google_news_headlines(path: Path) -> list[str]:
    """Titles of a Google News RSS file with the ' - Publisher' suffix removed."""
    text = path.read_text(encoding="utf-8")
    titles = []
    for item in re.findall(r"<item>(.*?)</item>", text, re.S):
        title = html.unescape(re.search(r"<title>(.*?)</title>", item, re.S).group(1))  # type: ignore[union-attr]
        source = html.unescape(re.search(r"<source[^>]*>(.*?)</source>", item, re.S).group(1))  # type: ignore[union-attr]
        titles.append(title.removesuffix(f" - {source}"))
    return titles


def test_google_news_bears_ears_feed_collapses_into_far_fewer_stories(shared_feeds: Path) -> None:
    """92 items from many outlets collapse to a few dozen stories, without merging topics.

    Read by hand, the feed holds 13 copies of AP's "Trump reduces size of 2 national
    monuments in Utah..." (two with "President"), 7 of AP's "What to know..." explainer,
    3 of one KUTV timeline, and dozens of rewrites of "Trump shrinks Bears Ears and Grand
    Staircase-Escalante", plus separate court-case and Babylon Fire stories.
    """
    titles = google_news_headlines(shared_feeds / "google-news-us-bears-ears.rss")
    assert len(titles) == 92
    index = StoryIndex()
    story_of: dict[str, set[str]] = {}
    keys: list[str] = []
    for i, title in enumerate(titles):
        tokens = headline_tokens(title)
        key = index.find(tokens, NOW) or story_key_for_url(f"https://example.com/{i}")
        index.add(key, tokens, NOW)
        keys.append(key)
        story_of.setdefault(title, set()).add(key)

    assert 25 <= len(set(keys)) <= 45
    ap = "Trump reduces size of 2 national monuments in Utah as Republicans reshape land management"
    assert story_of[ap] == story_of["President " + ap]
    assert len(story_of[ap]) == 1
    timeline = "Timeline: The shifting boundaries of Bears Ears and Grand Staircase-Escalante"
    assert len(story_of[timeline]) == 1
    court = "Court rules that challenge to Utah national monuments can continue"
    fire = "Babylon Fire explodes in size, prompts forest closure in San Juan County"
    shrink = "Trump shrinks Bears Ears, Grand Staircase-Escalante national monuments again"
    assert len({*story_of[court], *story_of[fire], *story_of[shrink], *story_of[timeline]}) == 4


def test_index_keeps_at_most_max_headlines_dropping_the_oldest() -> None:
    """A memory bound: past max_headlines the oldest headlines are forgotten first."""
    from datetime import UTC, datetime, timedelta

    from bot.core.stories import StoryIndex

    start = datetime(2026, 11, 25, tzinfo=UTC)
    index = StoryIndex(max_headlines=3)
    heads = [frozenset({f"w{i}", f"x{i}", f"y{i}", f"z{i}"}) for i in range(5)]
    for i, tokens in enumerate(heads):
        index.add(f"s{i}", tokens, start + timedelta(minutes=i))
    now = start + timedelta(minutes=10)
    assert len(index) == 3
    assert index.find(heads[0], now) is None and index.find(heads[1], now) is None
    assert index.find(heads[4], now) == "s4"
