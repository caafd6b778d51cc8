"""Checks the story-clustering tests share: headlines that make one story, or two."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.stories import StoryIndex, conflicting, same_story, story_features


def assert_one_story(*titles: str, now: datetime, step: timedelta = timedelta(minutes=20)) -> None:
    """Each headline, fed to the index ``step`` after the previous one, joins the first."""
    index = StoryIndex()
    index.add("s-first", story_features(titles[0]), now)
    for n, title in enumerate(titles[1:], start=1):
        features = story_features(title)
        when = now + n * step
        assert index.find(features, when) == "s-first", title
        index.add("s-first", features, when)


def index_holding(key: str, title: str, summary: str, at: datetime) -> StoryIndex:
    """A story index holding one article (``title`` with its lead), seen ``at``."""
    index = StoryIndex()
    index.add(key, story_features(title, summary), at)
    return index


def assert_apart(a: str, b: str, summary_a: str = "", summary_b: str = "") -> None:
    """Two headlines never merge, however close in time."""
    first, second = story_features(a, summary_a), story_features(b, summary_b)
    assert conflicting(first, second)
    assert not same_story(first, second, apart=timedelta(minutes=30))
