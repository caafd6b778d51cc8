"""Which story of a channel words of a headline name (``story mute``): pure."""

from __future__ import annotations

from bot.core.storypick import StoryHere, stories_named

STORIES = (
    StoryHere(9, "s9", "Rare earth magnet makers warn of shortages in Europe"),
    StoryHere(8, "s8", "Vietnam opens its first rare-earth refinery", muted=True),
    StoryHere(7, "s7", "Rare earth magnet makers"),
    StoryHere(6, "s6", "Lithium miner in Chile doubles output"),
)


def test_every_word_must_be_in_the_headline_folded_as_queries_are() -> None:
    assert stories_named("VIETNAM refineries", STORIES) == (STORIES[1],)
    assert stories_named("rare earth", STORIES) == STORIES[:3]
    assert stories_named("chile lithium", STORIES) == (STORIES[3],)
    assert stories_named("chile cobalt", STORIES) == ()


def test_a_headline_typed_in_full_is_its_story_alone() -> None:
    """ "Rare earth magnet makers" is in two headlines; it is exactly one of them."""
    assert stories_named("rare earth magnet makers", STORIES) == (STORIES[2],)
    assert stories_named("rare earth magnet", STORIES) == (STORIES[0], STORIES[2])


def test_words_that_fold_to_nothing_name_no_story() -> None:
    assert stories_named(" — … ", STORIES) == ()
