"""Story clustering of measures, markets and officials (issue 10, round five).

A measure halted, extended, replaced or spared; a data release and the market's move on
it; officials named as someone's counterpart; measures on different countries; reactions
that state what they react to. Headlines in the manner of tests/data/stories/dev5.jsonl
(other events, written for these tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from bot.core.stories import (
    StoryIndex,
    conflicting,
    story_features,
    story_key_for_url,
)
from tests.core.storychecks import assert_apart, assert_one_story

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


_one_story = partial(assert_one_story, now=NOW)


_apart = assert_apart


# ---- a measure halted, spared, replaced -------------------------------------------------


def test_halting_a_ban_suspends_it_where_halting_imports_bans_them() -> None:
    assert "suspend" in story_features("Guinea halts ban on bauxite exports").title
    halted_imports = story_features("Indonesia halts imports of Malaysian palm oil").title
    assert "ban" in halted_imports
    assert "suspend" not in halted_imports
    _one_story(
        "Guinea suspends ban on bauxite exports for licensed miners",
        "Guinea Halts Bauxite Export Ban for Licensed Miners",
    )


def test_a_participle_clause_says_how_the_measure_applies() -> None:
    """A clause ", sparing ..." is the same moment as the measure, like an "as" clause."""
    features = story_features("EU raises duties on Chinese e-bikes, sparing models made in Europe")
    assert "exempt" in features.background
    same = story_features("EU raises anti-dumping duty on Chinese e-bikes to 79%")
    assert not conflicting(features, same)


def test_goods_spared_from_a_tariff_are_not_the_tariff_imposed() -> None:
    _apart(
        "US to impose 25% tariff on imported kitchen appliances",
        "US exempts commercial ovens from new appliance tariff",
    )
    # Ending or revoking an exemption states both sides: it opposes neither.
    assert not conflicting(
        story_features("US ends duty-free exemption for small parcels from Hong Kong"),
        story_features("US imposes duties on small parcels from Hong Kong"),
    )
    assert not conflicting(
        story_features("US revokes Samsung's waiver for its Xi'an chip plant"),
        story_features("Samsung loses US exemption for its Xi'an factory"),
    )


def test_a_quota_set_is_not_the_ban_it_follows() -> None:
    _apart(
        "Guinea extends bauxite export ban by six months",
        "Guinea to replace bauxite export ban with quotas",
    )
    _apart(
        "Guinea keeps bauxite exports suspended for another six months",
        "Guinea sets bauxite export quota for 2027",
    )


def test_a_duty_scrapped_is_not_a_ban_imposed_on_other_goods() -> None:
    """A duty on one grade and a ban on another: two kinds of measure, two decisions."""
    _apart("Vietnam scraps export duty on cashew kernels", "Vietnam bans exports of raw cashews")


def test_a_sale_vetoed_is_the_takeover_blocked() -> None:
    _one_story(
        "Italy blocks Chinese takeover of tyre maker",
        "Italian government vetoes sale of tyre firm to Chinese company",
    )


def test_removing_abolishing_and_lifting_a_measure_are_one_verb() -> None:
    terms = {
        verb: story_features(f"Mexico {verb} tariff on Chinese textiles").title
        for verb in ("lifts", "removes", "abolishes", "eliminates")
    }
    assert all("lift" in title for title in terms.values())


# ---- talks and measures -------------------------------------------------------------------


def test_ministers_meeting_after_a_measure_are_not_the_measure() -> None:
    """Their lead names the measure; the meeting is still another event."""
    _apart(
        "New Zealand, Chinese trade ministers meet in Beijing",
        "China lifts curbs on New Zealand kiwifruit imports",
        summary_a="The ministers met a day after China lifted curbs on kiwifruit.",
    )
    # A headline naming talks anywhere is no measure alone.
    assert not conflicting(
        story_features("US, China end talks without extending truce"),
        story_features("China says it will extend truce after talks with US"),
    )


def test_a_counterpart_is_the_officeholder_of_the_other_country() -> None:
    """Rubio's "Chinese counterpart" is China's foreign minister."""
    assert "wangyi" in story_features("Rubio speaks with Chinese counterpart by phone").title
    assert "greer" in story_features("South Korean trade minister meets US counterpart").title
    unknown = story_features("Brazilian trade minister meets Indian counterpart in Delhi").title
    assert {"trade:brazil", "trade:india"} <= unknown
    # An official named by name gets no extra term: rewrites naming roles are not diluted.
    assert not any(":" in term for term in story_features("Bessent meets He Lifeng").title)
    _one_story(
        "Wang Yi and Rubio talk by phone about Taiwan",
        "Rubio speaks with Chinese counterpart by phone about Taiwan",
    )


def test_a_deal_the_talks_are_on_further_along_is_their_topic() -> None:
    title = story_features("Greer holds talks with Japanese counterpart on tariff deal").title
    assert "deal" not in title
    _one_story(
        "Akazawa, Greer hold talks in Washington on tariff deal",
        "Greer holds talks with Japanese counterpart on tariff deal",
    )


# ---- markets and data -------------------------------------------------------------------


def test_a_market_named_only_meanwhile_does_not_make_a_market_story() -> None:
    rates = story_features("Bank of Korea holds key rate steady as won stays firm")
    assert "company" not in rates.title  # "stays firm" is no firm
    assert not conflicting(rates, story_features("South Korea's central bank holds key rate"))


def test_what_rose_after_the_news_is_a_market_move() -> None:
    _apart(
        "Bauxite miners with Guinea projects rise after ban suspended",
        "Guinea suspends ban on bauxite exports",
    )


def test_a_data_release_and_the_markets_move_on_it_are_two_stories() -> None:
    _apart(
        "Japan's consumer prices rise 3.1% in November",
        "Tokyo stocks climb after inflation data",
    )
    _apart(
        "UK inflation cools more than forecast in November",
        "FTSE 100 rallies as softer inflation lifts rate-cut bets",
    )
    # Consumer prices are a data series, not a market's price.
    assert "cpi" in story_features("US consumer prices rise 2.9% in October").title
    _one_story(
        "US consumer prices rise 2.9% in October, more than expected",
        "US inflation accelerates to 2.9% in October",
    )


def test_index_names_are_the_stock_market() -> None:
    _apart("Sensex jumps as India-UK pact lifts exporters", "India and UK sign trade pact")


# ---- countries and reactions ------------------------------------------------------------


def test_tariff_relief_for_one_country_is_not_relief_for_another() -> None:
    _apart(
        "US lowers tariffs on Danish goods to 15% from 25%",
        "Finland Gets US Tariff Cut to 15%, Matching Danish Deal",
    )
    # A reaction names its own country and still joins the measure.
    assert not conflicting(
        story_features("Irish exporters relieved as US cuts duty on EU goods"),
        story_features("US cuts tariffs on EU goods to 10%"),
    )


def test_a_reaction_stating_what_it_reacts_to_is_the_opposite_of_neither() -> None:
    vows = story_features("China accuses US of bullying, vows response to tariff threat")
    urges = story_features("Beijing urges Washington to drop 'wrong' tariff threat")
    assert not conflicting(vows, urges)
    # A reaction that does not state the threat is still apart from it.
    threat = story_features("Trump threatens 50% tariff on Chinese goods")
    assert conflicting(story_features("China vows response, defends rare earth curbs"), threat)


def test_new_countries_capitals_and_demonyms_are_their_country() -> None:
    for written in ("Kinshasa", "DRC", "Congolese", "Democratic Republic of Congo"):
        assert "congo" in story_features(f"{written} extends cobalt export ban").title, written
    assert "norway" in story_features("Oslo and Norwegian firms react").title


def test_a_story_key_is_still_the_first_articles() -> None:
    """Round five changes features and rules, not keys."""
    assert story_key_for_url("https://example.com/a") == story_key_for_url("https://example.com/a")
    index = StoryIndex()
    first = story_features("Guinea suspends ban on bauxite exports for licensed miners")
    index.add(story_key_for_url("https://example.com/guinea"), first, NOW)
    again = story_features("Guinea Halts Bauxite Export Ban for Licensed Miners")
    assert index.find(again, NOW + timedelta(minutes=10)) == story_key_for_url(
        "https://example.com/guinea"
    )


@pytest.mark.parametrize(
    "written",
    ["China vows firm response", "Yuan holds firm", "Beijing remains firm on rare earths"],
)
def test_firm_of_a_stance_is_no_company(written: str) -> None:
    assert "company" not in story_features(written).title


# ---- who acts, and what was done ----------------------------------------------------------


def test_different_countries_taking_the_same_measure_are_two_stories() -> None:
    _apart("Chile raises royalty on copper miners", "Peru raises royalty on copper miners")
    _one_story(
        "Chile raises royalty on copper miners",
        "Santiago hikes mining royalty for copper producers",
    )
    # The subject is a marker for the rules, not a word: a three-word headline stays
    # too short to join anything.
    assert len(story_features("Chile raises royalty").title) == 3


def test_a_probe_opened_is_not_the_duties_imposed() -> None:
    _apart("EU opens probe into Chinese tyre subsidies", "EU imposes duties on Chinese tyres")
    # A probe concluded with duties says "probe" in both.
    assert not conflicting(
        story_features("China concludes anti-dumping probe into EU brandy with final duties"),
        story_features("China ends brandy probe, sets duties of up to 30%"),
    )


def test_a_measure_put_off_is_not_a_measure_taken() -> None:
    _apart("Indonesia delays nickel export tax", "Indonesia raises nickel export tax")
    assert not conflicting(
        story_features("Indonesia pauses planned nickel export tax hike"),
        story_features("Jakarta puts nickel levy increase on hold"),
    )


def test_a_dateline_says_where_not_who_acts() -> None:
    dateline = story_features("Santiago: Peru raises royalty on copper miners")
    assert "^chile" not in dateline.title
    assert "^peru" in dateline.title


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("EU criticises US steel tariffs", "EU criticizes US steel tariffs"),
        (
            "China finalises anti-dumping duties on brandy",
            "China finalizes anti-dumping duties on brandy",
        ),
        ("Japan raises defence spending target", "Japan raises defense spending target"),
        ("EU tyre duties on China take effect", "EU tire duties on China take effect"),
    ],
)
def test_british_and_american_spellings_are_one_term(british: str, american: str) -> None:
    assert story_features(british).title == story_features(american).title
