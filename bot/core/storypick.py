"""Which story of a channel a person means by words of its headline (``story mute``).

A person cannot know an alert's id, but they can read its headline: ``story mute vietnam
refinery`` names the story alerted here whose headline has those words. Words compare
folded (case, accents, punctuation and plurals do not matter, as in queries), so what
was read can be typed as it comes. A headline typed in full picks its story even when a
longer headline holds the same words. Pure: the store reads, this decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.textfold import fold

# The stories of a channel ``story mute`` looks among: its most recently alerted ones.
STORIES_SEARCHED = 200


@dataclass(frozen=True, slots=True)
class StoryHere:
    """One story alerted in a channel: the alert that carries it there, newest first."""

    alert_id: int
    story_key: str
    title: str
    muted: bool = False


def stories_named(words: str, stories: Sequence[StoryHere]) -> tuple[StoryHere, ...]:
    """The stories of ``stories`` whose headline holds every word of ``words``, in their
    order; when one headline is exactly ``words``, that story alone (several with that
    very headline stay several). Nothing for words that fold to nothing."""
    wanted = fold(words)
    if not wanted:
        return ()
    tokens = set(wanted.split(" "))
    exact = tuple(s for s in stories if fold(s.title) == wanted)
    if exact:
        return exact
    return tuple(s for s in stories if tokens <= set(fold(s.title).split(" ")))
