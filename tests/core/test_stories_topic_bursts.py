"""One topic's different events within minutes of each other (round seven's set,
tests/data/stories/dev7.jsonl): the index's lower bar for close articles must not let the
topic's own words join them. Headlines in the manner of dev7 (other events, written for
these tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.stories import StoryIndex, story_features
from tests.core.storychecks import assert_one_story

NOW = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)


def test_a_start_up_is_a_company_not_a_beginning() -> None:
    # "start" is one of begin's words: split at its hyphen, every start-up's news began
    # something, and shared "begin" with any launch or opening.
    for headline in (
        "Battery start-up Ionix raises $40 million",
        "Startup Ionix raises $40 million for battery plant",
        "Ionix, a start-up, wins battery contract",
    ):
        title = story_features(headline).title
        assert "startup" in title and "begin" not in title, headline
    # The verb keeps its meaning.
    assert "begin" in story_features("Ohio battery plant starts up").title
    assert "begin" in story_features("Ohio battery plant starts production").title


def test_a_start_ups_funding_does_not_join_a_plant_opening_minutes_old() -> None:
    # Three shared headline words (rare earth, magnet), and "start-up" no longer makes a
    # fourth out of the other lead's "began".
    index = StoryIndex()
    index.add(
        "s-plant",
        story_features(
            "Vulcan Elements opens rare earth magnet plant in North Carolina",
            "Vulcan Elements began commercial production of samarium cobalt magnets at its"
            " Benson, North Carolina, site on Monday.",
        ),
        NOW,
    )
    funding = story_features(
        "Magnet start-up Arnold raises $50 million to challenge rare earth supply",
        "Arnold, which makes ferrite magnets without rare earths, said investors backed the round.",
    )
    assert index.find(funding, NOW + timedelta(minutes=10)) is None


def test_the_opening_under_other_words_still_joins() -> None:
    assert_one_story(
        "Vulcan Elements opens rare earth magnet plant in North Carolina",
        "Vulcan Elements starts up North Carolina magnet plant",
        "Vulcan Elements starts magnet production at North Carolina plant",
        now=NOW,
        step=timedelta(minutes=15),
    )
