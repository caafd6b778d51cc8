"""Story clustering by event frame: what happened to whom, not only which words are shared.

Two headlines naming the same actors and the same goods are still two events when one
opens a probe and the other concludes one, one reports a call and the other a meeting,
one is a lawsuit or a trade-data release and the other the measure it follows. Leaders
named by role are their heads, and what a headline says came "after" is another event.
Headlines in the manner of tests/data/stories/dev3.jsonl.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.stories import (
    StoryFeatures,
    StoryIndex,
    conflicting,
    same_story,
    story_features,
)

NOW = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # A probe opened is not a probe concluded.
        (
            "US concludes national security probe of drone imports",
            "US opens Section 232 investigation into polysilicon imports",
        ),
        (
            "Commerce Wraps Up Section 232 Investigation of Drones",
            "Commerce Launches Probe of Polysilicon Imports",
        ),
        # Talks about a measure are not the measure proposed.
        (
            "EU and US hold talks on steel tariff quota",
            "EU proposes to halve steel import quotas and double tariff",
        ),
        # A phone call is not a meeting in person.
        (
            "Leaders of South Korea and Japan talk by phone",
            "Japan and South Korea finance ministers meet in Tokyo",
        ),
        # A lawsuit against a measure, or a court's ruling, is not the measure.
        ("DJI wins 90-day reprieve from US ban", "DJI sues US government over planned ban"),
        (
            "Trump shrinks Bears Ears and Grand Staircase national monuments",
            "Appeals court revives Utah challenge to Bears Ears, Grand Staircase boundaries",
        ),
        # A trade-data release is not the export control it follows.
        (
            "China's rare earth magnet exports to US jump in August",
            "China adds five rare earth elements to export controls",
        ),
        # Sanctions on a refinery and on shipping lines are two actions.
        (
            "US sanctions Chinese refinery for buying Iranian oil",
            "US sanctions Hong Kong shipping firms over Iran oil trade",
        ),
    ],
)
def test_different_event_frames_never_merge(a: str, b: str) -> None:
    """Same actors and goods, another frame: a rule forbids the merge, whatever the score."""
    fa, fb = story_features(a), story_features(b)
    assert conflicting(fa, fb)
    assert conflicting(fb, fa)
    assert not same_story(fa, fb, apart=timedelta(minutes=10))


def test_two_countries_trade_data_are_two_releases() -> None:
    """China's export figures and Japan's, out the same week, are different stories."""
    china = story_features("China August exports grow faster than expected as shipments fall")
    japan = story_features("Japanese exports decline again in August")
    assert "~data" in china.title and "~data" in japan.title
    assert conflicting(china, japan)


def test_a_release_rewritten_still_joins() -> None:
    """'Beat expectations' and 'beating forecasts' are one phrase of one release."""
    a = story_features(
        "China's exports rise 7% in August, beating forecasts",
        "China's exports rose 7% in August from a year earlier, customs data showed on Monday.",
    )
    b = story_features("Chinese Exports Beat Expectations in August")
    assert same_story(a, b, apart=timedelta(minutes=15))


@pytest.mark.parametrize(
    ("written", "heads"),
    [
        ("US, Chinese Leaders Talk by Phone Ahead of Planned Summit", {"trump", "xi"}),
        ("Leaders of India and US speak ahead of tariff deadline", {"modi", "trump"}),
        ("Leaders of South Korea and Japan talk by phone", {"jaemyung", "takaichi"}),
    ],
)
def test_the_leaders_of_the_countries_named_are_their_heads(written: str, heads: set[str]) -> None:
    """'The leaders' of two countries name the same people as their names do."""
    assert heads <= story_features(written).title


def test_a_leaders_call_by_role_joins_the_call_by_name() -> None:
    """'Leaders talk by phone' is the call 'Xi holds phone talks with Trump' reports."""
    index = StoryIndex()
    first = story_features("Xi Jinping holds phone talks with U.S. President Donald Trump")
    index.add("s-call", first, NOW)
    later = story_features("US, Chinese Leaders Talk by Phone Ahead of Planned Summit")
    assert index.find(later, NOW + timedelta(minutes=40)) == "s-call"


@pytest.mark.parametrize(
    ("written", "term"),
    [
        ("Indian PM", "modi"),
        ("Brazilian president", "lula"),
        ("China's top diplomat", "wangyi"),
        ("Japan's trade negotiator", "akazawa"),
    ],
)
def test_officials_by_role_are_one_term(written: str, term: str) -> None:
    """An official named by office gives the same term as their name."""
    assert term in story_features(f"{written} holds talks on tariff deal").title


def test_what_came_after_is_not_the_headlines_own_event() -> None:
    """'... days after US approval' recalls the approval: it is not an opposite of 'avoid'."""
    reaction = story_features("China tells firms to avoid Nvidia B30A days after US approval")
    assert "approve" in reaction.title and "approve" in reaction.cause
    approval = story_features("US approves Nvidia licences for B30A sales to China")
    assert conflicting(reaction, approval)


def test_a_cause_survives_the_json_round_trip_and_is_left_out_when_empty() -> None:
    """Features stored with an article come back with the same 'after' clause."""
    features = story_features("Trump cuts fentanyl tariffs on China to 10% after meeting Xi")
    assert features.cause == {"talk", "xi"}
    assert StoryFeatures.from_json(features.to_json()) == features
    plain = story_features("Trump cuts fentanyl tariffs on China to 10%")
    assert "cause" not in plain.to_json()
    assert StoryFeatures.from_json(plain.to_json()) == plain


def test_a_meeting_named_after_the_outcome_does_not_oppose_the_deal() -> None:
    """'Cuts tariffs after meeting Xi' reports the outcome, as 'Trump, Xi agree' does; a
    headline whose own event is the meeting is the talks, not the deal."""
    deal = story_features("Trump, Xi Agree to Trade Truce in Busan; Fentanyl Tariff Halved")
    outcome = story_features("Trump says he will cut tariffs on China to 47% after meeting Xi")
    assert not conflicting(outcome, deal)
    meeting = story_features("Trump meets Xi in Busan, says tariffs on China will be cut")
    assert conflicting(meeting, deal)
