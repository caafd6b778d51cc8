"""Story clustering of the held-out set's subtopics under their other names (round six).

De minimis and low-value parcels, chip-design software (EDA), ethane and petrochemical
feedstock, production quotas, the talks' city; a measure lifted beside the measure
imposed; a company's outlook or exit beside the government's measure; a third country's
act beside the US or China's. Headlines in the manner of tests/data/stories/dev6.jsonl
(other events, written for these tests).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from bot.core.stories import (
    conflicting,
    story_features,
)
from tests.core.storychecks import assert_apart, assert_one_story

NOW = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


_one_story = partial(assert_one_story, now=NOW)


_apart = assert_apart


def _title(headline: str) -> frozenset[str]:
    return story_features(headline).title


# ---- one thing under its other names ------------------------------------------------------


def test_low_value_parcels_are_de_minimis_and_duty_free_is_an_exemption() -> None:
    for headline in (
        "Canada reviews de minimis rule",
        "Canada reviews rule on low-value imports",
        "Canada reviews treatment of small parcels",
        "Canada reviews treatment of cheap packages",
    ):
        assert "deminimis" in _title(headline), headline
    assert {"tariff", "exempt"} <= _title("Canada ends duty-free entry for online orders")
    # A consumption tax break is a tax's exemption, not a tariff's.
    assert "tariff" not in _title("Korea ends tax break on overseas orders")


def test_every_country_is_one_word() -> None:
    worldwide = _title("Mexico raises fees on parcels worldwide")
    for headline in (
        "Mexico raises fees on parcels from all countries",
        "Mexico raises fees on parcels from every nation",
        "Mexico raises fees on parcels from all trading partners",
    ):
        assert _title(headline) == worldwide, headline


def test_chip_design_software_is_eda_and_its_makers_say_so() -> None:
    for headline in (
        "Japan curbs EDA exports",
        "Japan curbs chip-design software exports",
        "Japan curbs electronic design automation exports",
        "Cadence halts sales in Russia",
        "Synopsys halts sales in Russia",
    ):
        assert "eda" in _title(headline), headline


def test_ethane_is_a_petrochemical_feedstock() -> None:
    assert "feedstock" in _title("India waives duty on US ethane cargoes")
    assert "feedstock" in _title("India waives duty on petrochemical feedstock from US")


def test_output_caps_and_caps_on_mining_are_production_quotas() -> None:
    for headline in (
        "Myanmar sets tin output caps for 2027",
        "Myanmar keeps cap on tin mining unchanged",
        "Myanmar caps tin production for 2027",
        "Myanmar issues tin production quotas for 2027",
    ):
        assert "quota" in _title(headline), headline
    # Not a market's capitalisation.
    assert "quota" not in _title("Tin miner's market cap doubles")


def test_a_country_s_capital_by_its_demonym_is_the_country() -> None:
    assert "france" in _title("Trade ministers gather in the French capital")
    assert "japan" in _title("Trade ministers gather in the Japanese capital")
    assert "capital" not in _title("Trade ministers gather in the French capital")


def test_quantities_written_otherwise_agree() -> None:
    assert "#80000" in _title("Vietnam sets tungsten quota at 80kt")
    assert "#80000" in _title("Vietnam sets tungsten quota at 80,000 tonnes")
    assert "$410m" in _title("Customs collected $410M on small parcels")
    assert "$410m" in _title("Customs collected $410 million on small parcels")
    assert "$200" in _title("EU scraps exemption for parcels under 200 euros")
    assert "$200" in _title("EU scraps exemption for parcels under €200")


# ---- a measure lifted ---------------------------------------------------------------------


def test_a_measure_scrapped_dropped_or_withdrawn_is_lifted() -> None:
    for headline in (
        "India scraps levy on US almonds",
        "India drops restrictions on US almond imports",
        "India's almond import curbs withdrawn, traders told",
        "Almond growers welcome end of Indian ban",
    ):
        assert "lift" in _title(headline), headline
    # Ending an exemption imposes the tariff; lifting a levy to a figure raises it.
    assert "lift" not in _title("Canada ends duty-free entry for low-value parcels")
    assert "raise" in _title("Ottawa lifts levy on steel to 25%")


def test_a_measure_lifted_is_not_the_measure_imposed() -> None:
    _apart(
        "Japan lifts curbs on photoresist exports to Korea",
        "Japan orders chemical makers to stop selling photoresist to Korea",
    )
    # The lift's own coverage, and a reaction to it, are one story.
    _one_story(
        "Japan lifts curbs on photoresist exports to Korea",
        "Photoresist export restrictions on Korea withdrawn, Japanese makers say",
        "Seoul welcomes Japan's removal of photoresist export curbs",
    )
    # An exemption or a suspension undoes a measure too: no measure imposed to oppose.
    assert not conflicting(
        story_features("India scraps levy on US almonds"),
        story_features("India exempts US almonds from retaliatory tariffs"),
    )


def test_a_licence_requirement_is_an_export_control() -> None:
    assert {"licence", "restrict"} <= _title("US requires licences for helium exports to Russia")
    assert {"licence", "restrict"} <= _title("New licence requirement for helium exports")


# ---- whose decision -----------------------------------------------------------------------


def test_a_company_s_outlook_or_exit_is_not_the_measure_it_follows() -> None:
    _apart(
        "Lam Research withdraws annual forecast after Dutch export curbs",
        "Netherlands tightens export curbs on chip tools to China",
    )
    _apart(
        "Intel to quit China server chip market after ban",
        "China widens Intel ban to state data centres",
    )
    assert "exit" in _title("Intel pulls out of Chinese server market")
    assert "outlook" in _title("Intel forecasts quarterly revenue below estimates")


def test_a_third_country_acting_is_not_the_us_acting() -> None:
    _apart(
        "Canadian courier firms suspend parcel deliveries to US",
        "Trump ends duty-free treatment for small parcels worldwide",
    )
    # Recipients of a US measure, a statement and a market move still read as its story.
    assert not conflicting(
        story_features("Korean chipmakers win US approval for China fabs"),
        story_features("US approves Samsung and SK Hynix licences for China fabs"),
    )


def test_a_third_country_s_act_beside_the_measure_is_its_own() -> None:
    """Only the clause after "as" matches: the actors' own act is another story."""
    _apart(
        "Canada's Courier Firms Halt US Deliveries as Duty Exemption Ends",
        "Ottawa moves to end customs break on cheap parcels",
    )
    # A reaction's own clause is its feeling, and it joins the event.
    assert not conflicting(
        story_features("Danish exporters celebrate as Washington slashes levy"),
        story_features("US cuts tariffs on Danish goods to 15%"),
    )


def test_an_approval_is_not_a_ban() -> None:
    _apart(
        "Commerce Department boosts grant to chipmaker Intel",
        "China widens curbs on Intel chips",
    )


# ---- frames read from their words ---------------------------------------------------------


def test_an_explainer_opener_is_no_background_clause() -> None:
    explainer = _title("What to watch as US and Chinese negotiators meet in Rome")
    assert "talk" in explainer
    assert "watch" not in explainer


def test_consultations_under_way_are_talks_and_what_talks_yield_is_a_deal() -> None:
    assert "talk" in _title("China, US hold trade consultations in Rome")
    assert "begin" in _title("US-China Talks Get Under Way in Rome")
    assert "deal" in _title("Rome Talks Yield Extension of Truce")
    _apart("US-China Talks Get Under Way in Rome", "Rome Talks Yield Extension of Tariff Truce")


def test_a_capital_after_a_comma_is_no_participle_clause() -> None:
    features = story_features("Washington, Beijing agree outline deal to prolong truce")
    assert not features.background
    assert "deal" in features.title


def test_phone_demand_is_no_phone_call() -> None:
    assert "call" not in _title("Xiaomi forecasts revenue above estimates on phone demand")
    assert "call" in _title("Leaders talk by phone")


def test_other_verb_phrases() -> None:
    # "targets X with levies" imposes them; "down sharply" falls; "cut off" curbs.
    assert {"impose", "tariff"} <= _title("Beijing targets Canadian canola with new levies")
    assert "fall" in _title("Parcel entries down sharply in January")
    assert "restrict" in _title("China opposes US cut-off of chip tools")


def test_a_measure_named_only_meanwhile_is_not_the_headline_s_measure() -> None:
    """A clause "as duty exemption ends" names a tariff; the carriers' own act is a halt."""
    assert not conflicting(
        story_features("Canadian Postal Carriers Halt US Deliveries as Duty Exemption Ends"),
        story_features("Canada Post to stop accepting US-bound parcels from businesses"),
    )
    _apart("Canada bans US beef imports", "Canada imposes tariff on US beef")
