"""Story clustering, round four: one event written with other verbs, and what a headline
says only in passing.

Officials "meet", "begin talks", "sit down" or "hold talks": one frame. A levy rise put
"on hold" is paused; a government that "permits" shipments allows them; "calls for talks"
proposes them. What a headline says went on meanwhile ("... as shipments to the US fall")
is not its own event for the opposite rules, and a reaction's own wording ("urges ... to
correct 'wrong' decision") does not count against it joining the event it names.
Headlines invented for these tests, in the manner of tests/data/stories.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from bot.core.stories import (
    StoryFeatures,
    conflicting,
    same_story,
    story_features,
)
from tests.core.storychecks import assert_one_story

NOW = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
SOON = timedelta(minutes=30)


_one_story = partial(assert_one_story, now=NOW, step=SOON)


def test_meeting_beginning_talks_and_sitting_down_are_one_frame() -> None:
    """Four outlets' verbs for one round of talks give one story."""
    _one_story(
        "EU and Chinese trade chiefs meet in Vienna",
        "Sefcovic and China's Vice Premier Begin Talks in Austria",
        "Chinese, European negotiators sit down in Vienna for trade talks",
        "He Lifeng holds talks with EU side in Vienna",
    )


@pytest.mark.parametrize(
    "written",
    [
        "EU and China trade chiefs meet in Vienna",
        "EU, China begin trade talks in Vienna",
        "Chinese, European negotiators sit down in Vienna",
    ],
)
def test_talks_and_their_outcome_stay_apart(written: str) -> None:
    """However the talks are written, the deal they end in is the next event."""
    deal = story_features("EU and China reach framework deal in Vienna trade talks")
    assert conflicting(story_features(written), deal)


def test_an_outcome_named_in_the_talks_joins_the_outcome() -> None:
    """'Consensus in Vienna talks' reports the outcome, as 'framework' does."""
    consensus = story_features("China, EU reach consensus in Vienna economic and trade talks")
    framework = story_features("EU and China reach framework to extend tariff truce in Vienna")
    assert not conflicting(consensus, framework)


def test_talks_by_phone_are_the_call_and_a_deal_discussed_is_their_topic() -> None:
    """A call 'discussing the trade deal' is not a deal struck, nor is 'talks on the
    deal's implementation' (they are talks, apart from a deal signed)."""
    discussed = story_features("Lula, Carney discuss trade deal in phone call")
    by_phone = story_features("Brazil and Canada leaders talk by phone on tariffs")
    assert not conflicting(discussed, by_phone)
    about_deal = story_features("Akazawa, Lutnick hold talks on tariff deal implementation")
    meets = story_features("Japan's trade negotiator meets Lutnick in Washington")
    assert not conflicting(about_deal, meets)
    signed = story_features("Akazawa, Lutnick sign tariff deal in Washington")
    assert conflicting(about_deal, signed)


def test_talks_ending_with_no_deal_are_not_a_deal() -> None:
    """'No deal' states none: such talks are the talks, with the others' accounts of them."""
    no_deal = story_features("EU-China trade talks in Oslo end with no deal on EV tariffs")
    ended = story_features("EU, China end Oslo talks without agreement on EV duties")
    assert "deal" not in no_deal.title
    assert not conflicting(no_deal, ended)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Canada pauses planned steel surtax hike for 60 days",
            "Ottawa puts steel surtax rise on hold as talks continue",
        ),
        (
            "India allows limited rice exports to neighbours",
            "Government permits rice shipments to Nepal, Sri Lanka",
        ),
    ],
)
def test_verb_phrases_read_as_their_verb(a: str, b: str) -> None:
    """'Puts ... on hold' pauses, a levy 'rise' is the hike; a government 'permits'
    shipments as it allows them."""
    fa, fb = story_features(a), story_features(b)
    assert not conflicting(fa, fb)
    assert same_story(fa, fb, apart=SOON)


def test_permits_as_a_noun_stay_licences() -> None:
    """'ASML's permits' are licences (revoked), not a government allowing something."""
    noun = story_features("Dutch Pull ASML's Permits to Ship Lithography Machines")
    assert "licence" in noun.title and "allow" not in noun.title
    verb = story_features("Government permits wheat shipments to Nepal")
    assert "allow" in verb.title and "licence" not in verb.title


def test_calling_for_talks_is_proposing_them_not_a_phone_call() -> None:
    """'Calls for negotiations' joins 'proposes talks', and is no phone call."""
    calls_for = story_features("Lula calls for negotiations with Washington on tariffs")
    assert "call" not in calls_for.title
    proposes = story_features("Brazilian president proposes talks with US on tariffs")
    assert same_story(calls_for, proposes, apart=SOON)


def test_what_went_on_meanwhile_is_not_the_headlines_own_move() -> None:
    """Exports that grow 'as shipments to the US fall' are a rise: the same release as
    'exports rise'; a headline whose own exports fall is still the opposite."""
    grow = story_features("Korea's May exports grow faster than expected as shipments to US fall")
    assert "fall" in grow.background
    rise = story_features("South Korea's exports rise 6% in May, beating forecasts")
    assert not conflicting(grow, rise)
    assert same_story(grow, rise, apart=SOON)
    fall = story_features("South Korea's exports fall 6% in May, missing forecasts")
    assert conflicting(fall, rise)


def test_meanwhile_agrees_with_the_other_headline() -> None:
    """'Resume sales as US removes curbs' still shares 'curbs' with 'US lifts curbs': the
    background clause is the same moment, so it is no opposite of the other's words."""
    resume = story_features("Synopsys, Cadence Resume China Sales as US Removes EDA Curbs")
    lifts = story_features("US lifts chip software export curbs on China")
    assert not conflicting(resume, lifts)


@pytest.mark.parametrize(
    "written",
    [
        "Earnings rise as much as 10% in quarter",
        "China tightens rare earth controls such as magnet exports",
    ],
)
def test_as_of_a_comparison_is_no_background(written: str) -> None:
    """'As much as', 'such as': no clause of its own."""
    assert not story_features(written).background


def test_a_background_survives_the_json_round_trip() -> None:
    """Features stored with an article come back with the same 'as' clause."""
    features = story_features("Dow climbs as US and China extend tariff truce")
    assert features.background
    assert StoryFeatures.from_json(features.to_json()) == features
    assert "background" not in story_features("Dow climbs 400 points").to_json()


def test_a_reaction_naming_the_events_actor_and_object_joins_it() -> None:
    """Hours later, China's statement slamming Canada's sanctions is about the sanctions;
    its own wording ("slams", "pledges firm response") does not count against it."""
    event = story_features("Canada adds 12 Chinese firms to sanctions list over Russia support")
    reaction = story_features(
        "China's foreign ministry slams Canadian sanctions, pledges firm response"
    )
    assert same_story(reaction, event, apart=timedelta(hours=6))


def test_a_reaction_to_another_measure_stays_apart() -> None:
    """The reaction's object decides: a protest at a steel quota is not the aluminium surtax."""
    event = story_features("Canada imposes surtax on Chinese aluminium imports")
    other = story_features("Beijing urges Ottawa to correct 'wrong' steel quota decision")
    assert not same_story(other, event, apart=timedelta(hours=6))


def test_a_measure_proposed_is_not_a_measure_imposed() -> None:
    """Mexico proposing talks on steel tariffs is not Canada's steel quota the next day."""
    proposed = story_features("Mexican president proposes talks with Canada on steel tariffs")
    imposed = story_features("Canada imposes tariff rate quota on Mexican steel")
    assert conflicting(proposed, imposed)
