"""One event in other words (round eleven, tests/data/stories/dev10.jsonl): an office for
a name, a market's move beside the measure that moved it. Headlines in the manner of
dev10, written for these tests (other people, places and companies).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.stories import MIN_TITLE_TERMS, same_story, story_features
from tests.core.storychecks import assert_apart, assert_one_story

NOW = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


def test_an_office_written_with_its_holders_name_is_no_short_headline() -> None:
    # "Treasury Secretary Scott Bessent" folds to one term, leaving three: too few to join
    # anything, though the outlet wrote seven words. Such a headline now joins its rewrite.
    for arrival, rewrite in (
        (
            "Treasury Secretary Scott Bessent arrives in Geneva",
            "Bessent lands in Geneva ahead of China talks",
        ),
        (
            "US Trade Representative Jamieson Greer arrives in London",
            "USTR Greer arrives in London for trade talks",
        ),
        (
            "Chinese Vice Premier He Lifeng arrives in Madrid",
            "China's He Lifeng arrives in Madrid for talks with US",
        ),
    ):
        assert_one_story(arrival, rewrite, now=NOW, step=timedelta(minutes=25))


def test_another_official_arriving_in_the_same_city_is_another_story() -> None:
    bessent = story_features("Treasury Secretary Scott Bessent arrives in Geneva")
    greer = story_features("Trade Representative Jamieson Greer arrives in Geneva")
    assert not same_story(bessent, greer, apart=timedelta(minutes=30))


def test_a_headline_of_few_words_stays_too_short_to_join() -> None:
    for short in ("Bessent arrives", "Greer in London", "He Lifeng speaks"):
        assert len(story_features(short).title) < MIN_TITLE_TERMS, short


def test_a_companys_move_by_a_percentage_is_its_shares_beside_the_measure() -> None:
    # "as Washington widens...": the clause names the measure, the headline the move.
    assert_apart(
        "Micron slides 6% as Washington widens memory chip curbs",
        "US widens curbs on memory chip exports to China",
        summary_b="The Commerce Department added high-bandwidth memory to its export rules.",
    )
    # The move told in other words is still one story.
    assert_one_story(
        "Micron slides 6% as Washington widens memory chip curbs",
        "Micron shares fall 6% after US widens memory chip curbs",
        "Micron slides 6% on new US memory chip curbs",
        now=NOW,
        step=timedelta(minutes=10),
    )


def test_a_hearing_in_congress_in_other_words_is_one_story() -> None:
    # "tells senators" and "before Senate panel" both say the official testified: with
    # the official and the chamber, a third shared word.
    assert_one_story(
        "Lutnick defends agency budget before Senate panel",
        "Commerce Secretary tells senators tariff revenue is rising",
        now=NOW,
    )
    assert_one_story(
        "Greer defends staffing cuts before Senate committee",
        "Trade Representative tells senators his office will shrink",
        now=NOW,
    )
    # One chamber's hearing is not the other's.
    assert_apart(
        "Greer testifies before Senate panel on China trade deal",
        "Greer defends China trade deal before House committee",
    )


def test_calls_between_different_people_are_different_stories() -> None:
    # Both calls of the two sides, both on export controls: the callers differ.
    assert_apart(
        "Lutnick and Wang Wentao hold phone call on export controls",
        "Rubio and Wang Yi hold phone call on export controls",
    )
    # The same call with one caller named by office is still one story.
    assert_one_story(
        "Lutnick and Wang Wentao hold phone call on export controls",
        "China's commerce minister, Lutnick discuss export controls by phone",
        now=NOW,
    )


# Round twelve (tests/data/stories/dev11.jsonl): paraphrases of one event.


def test_soy_and_an_all_time_high_are_soybeans_and_a_record() -> None:
    assert_one_story(
        "Argentina's soybean exports to China hit record in March",
        "Argentine soy shipments to China reach all-time high",
        now=NOW,
    )


def test_a_companys_operations_in_a_country_are_its_business_there() -> None:
    assert_one_story(
        "Intel sells its China business to local partner",
        "Intel's China operations go to Tsinghua Unigroup",
        now=NOW,
    )


def test_one_countrys_record_exports_of_two_crops_are_two_stories() -> None:
    # Farm goods are goods too: a record for soybeans is not one for wheat.
    assert_apart(
        "Argentina's soybean exports to China hit record in March",
        "Argentina's wheat exports to China hit record in March",
    )


def test_the_other_sides_ships_are_named_in_passing() -> None:
    # "Chinese-built tankers" and "American tankers" name the ships' country, not its
    # government: Washington's fees and Beijing's answer are two stories.
    assert_apart(
        "US to charge docking fees on Chinese-built tankers",
        "Beijing hits back with charges on American tankers",
    )
    # Beijing's fees told twice are one.
    assert_one_story(
        "China to charge docking fees on US-owned tankers",
        "Beijing hits back with charges on American tankers",
        now=NOW,
    )


# Round thirteen (tests/data/stories/dev12.jsonl): wire and state-media wording.


def test_an_embargo_is_a_ban_and_gallium_a_critical_mineral() -> None:
    # Three hours apart: the full bar, which the shared words alone did not reach.
    assert_one_story(
        "Beijing lifts embargo on critical minerals exports to US",
        "China suspends ban on antimony, tungsten exports to US",
        now=NOW,
        step=timedelta(hours=3),
    )


def test_cars_vehicles_and_autos_are_one_word() -> None:
    for headline in (
        "US and South Korea settle car tariff dispute",
        "Seoul, Washington strike deal on vehicle levies",
        "Mexico, US agree to cut auto tariffs",
    ):
        assert "auto" in story_features(headline).title, headline
