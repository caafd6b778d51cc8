"""Story clustering on rewrites: other names, other figures, and the decoys beside them.

Outlets name a country by its capital or demonym, an official by office, an agency by its
acronym, and a figure in words; the same actors' next event, its opposite, or a third
party's comment on it must stay apart. Headlines in the manner of tests/data/stories/dev2.jsonl.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.stories import conflicting, same_story, story_features
from tests.core.storychecks import index_holding

NOW = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("names", "term"),
    [
        (
            ("Japan's prime minister", "Japanese Prime Minister Sanae Takaichi", "Takaichi"),
            "takaichi",
        ),
        (("Cyberspace Administration of China", "CAC", "China's internet regulator"), "cac"),
        (("Federal Reserve", "US central bank", "Fed"), "fed"),
        (("People's Bank of China", "PBOC", "China's central bank"), "pboc"),
        (("Bureau of Industry and Security", "BIS", "Commerce Department"), "bis"),
        (("National Bureau of Statistics", "NBS", "statistics bureau"), "nbs"),
        (("The Hague", "Dutch", "Netherlands"), "netherland"),
        (("Seoul", "South Korea", "Korean"), "korea"),
        (("entity list", "trade blacklist", "blacklists"), "sanction"),
    ],
)
def test_an_office_an_acronym_a_capital_and_a_name_are_one_term(
    names: tuple[str, ...], term: str
) -> None:
    """Each way of naming one person, agency or country gives the same comparison term."""
    for name in names:
        assert term in story_features(f"{name} acts on chip export rules").title, name


def test_an_official_names_the_country_too() -> None:
    """'Takaichi, Trump sign deal' says Japan, as 'Japan and US sign deal' does."""
    assert "japan" in story_features("Takaichi, Trump sign deal on rare earths supply").title


@pytest.mark.parametrize(
    "written",
    [
        "Fed cuts interest rates by a quarter point",
        "Federal Reserve lowers rates 0.25 percentage point",
        "Fed Lowers Benchmark Rate by 25 Basis Points",
        "Fed trims rates by quarter-point",
    ],
)
def test_a_quarter_point_is_25_basis_points_is_a_quarter_percentage_point(written: str) -> None:
    """Rate moves written in words, in percentage points or in basis points are one figure."""
    assert "%0.25" in story_features(written).title


def test_figures_in_words_and_abbreviations_read_as_figures() -> None:
    """'Twenty' is 20; '150 bln-dollar' is $150 billion, not 150 billion of something."""
    assert "#20" in story_features("Commerce blacklists Twenty Chinese firms").title
    assert (
        "$150b" in story_features("Seoul, Washington sign 150 bln-dollar shipbuilding deal").title
    )
    assert "$150b" in story_features("Korea commits $150 billion to US shipyards").title


def test_a_tariff_target_of_only_stop_words_is_no_target() -> None:
    """'tariffs on about 1,400 products' names nobody (and once raised instead)."""
    features = story_features(
        "Mexican senators back higher tariffs on 1,400 products from China and Asia",
        "Mexican senators voted Monday for higher tariffs on about 1,400 products from China.",
    )
    assert not {term for term in features.terms if term.startswith(">")}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "The Hague cancels ASML export permits for Chinese buyers",
            "Dutch Pull ASML's Permits to Ship Lithography Machines to China",
        ),
        (
            "US adds 20 Chinese companies to trade blacklist",
            "Twenty Chinese firms added to US entity list",
        ),
        ("Fed cuts interest rates by a quarter point", "Fed Trims Rates by Quarter Point"),
        (
            "China's commerce ministry bans exports of gallium, germanium to United States",
            "MOFCOM prohibits gallium, germanium exports to the US",
        ),
        (
            "China tightens graphite export controls, requires licences from May",
            "Beijing requires permits for graphite shipments from May",
        ),
    ],
)
def test_rewrites_under_other_names_are_one_story(a: str, b: str) -> None:
    """Demonym / capital / country, acronym / name, figure in words / digits."""
    assert same_story(story_features(a), story_features(b), apart=timedelta(minutes=30))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Netherlands revokes ASML licences for chip tool shipments to China",
            "Netherlands grants ASML licence to service installed machines in China",
        ),
        (
            "China Buys 1.2 Million Tons of US Soybeans in Goodwill Gesture",
            "China cancels some US soybean cargoes as tensions flare",
        ),
        (
            "Mexico's lower house approves tariffs of up to 50% on Chinese cars",
            "Mexico's Senate approves tariffs of up to 50% on Chinese cars",
        ),
        (
            "Chinese factory activity contracts again in April",
            "China's private factory gauge rises to 50.4 in April",
        ),
        (
            "China opens anti-dumping investigation into US analogue chips",
            "China starts anti-discrimination probe into US chip policies",
        ),
        (
            "Gallium prices jump in Europe after Chinese export ban",
            "Beijing bars shipments of gallium and germanium to US",
        ),
        (
            "Taiwan says TSMC will be exempt from US chip tariff",
            "Trump says US will impose 100% tariff on chip imports",
        ),
    ],
)
def test_decoys_beside_an_event_never_merge(a: str, b: str) -> None:
    """Revoked / granted, bought / cancelled, one chamber / the other, shrinks / grows,
    one kind of probe / another, a price move / its cause, a third party's comment."""
    assert conflicting(story_features(a), story_features(b))
    assert conflicting(story_features(b), story_features(a))


def test_the_headlines_say_whom_port_fees_hit_whatever_the_lead_recalls() -> None:
    """China's fees on US ships answer US fees on Chinese ships: two measures, even when
    the second lead mentions the first."""
    us_fees = story_features(
        "US starts collecting port fees on Chinese-built ships",
        "The United States began charging fees on ships built by Chinese companies.",
    )
    china_fees = story_features(
        "China to charge special port fees on US ships from Tuesday",
        "China will impose special port fees on US vessels, responding to US fees on "
        "Chinese ships.",
    )
    assert conflicting(us_fees, china_fees)


def test_each_side_commenting_on_talks_both_attended_is_the_talks_story() -> None:
    """Different speakers contradict only when one speaks of a party the other omits."""
    china = story_features("China says it will work with US to extend trade truce")
    bessent = story_features("Bessent says Trump will decide on China truce extension")
    assert not conflicting(china, bessent)


def test_a_price_word_without_a_price_move_is_not_a_market_story() -> None:
    """'drops EV duties in exchange for price commitments' is the trade deal, not prices."""
    deal = story_features("EU, China agree minimum prices to replace EV tariffs")
    drops = story_features(
        "European Commission drops EV duties in exchange for Chinese price commitments"
    )
    assert not conflicting(deal, drops)
    assert same_story(deal, drops, apart=timedelta(minutes=90))


def test_two_shared_headline_words_join_when_the_lead_states_a_third() -> None:
    """A bare headline joins a story whose lead names what the headlines do not share."""
    index = index_holding(
        "s-minerals",
        "Japan and US sign critical minerals framework in Tokyo",
        "Japanese Prime Minister Sanae Takaichi and U.S. President Donald Trump signed a "
        "framework on Tuesday to secure supplies of critical minerals and rare earths.",
        NOW,
    )
    rewrite = story_features("Takaichi, Trump sign deal on rare earths supply")
    assert index.find(rewrite, NOW + timedelta(minutes=20)) == "s-minerals"
    unrelated = story_features("Japan signs chip pact with India")
    assert index.find(unrelated, NOW + timedelta(minutes=20)) is None
