"""Story clustering recall: aliases, closeness in time, price moves, joint statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.stories import (
    CLOSE_IN_TIME,
    StoryIndex,
    conflicting,
    same_story,
    story_features,
)

NOW = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "alias"),
    [
        ("Vice Premier He Lifeng", "lifeng"),
        ("China's vice premier", "lifeng"),
        ("He Lifeng", "lifeng"),
        ("Treasury Secretary Scott Bessent", "bessent"),
        ("US Trade Representative Jamieson Greer", "greer"),
        ("USTR", "greer"),
        ("Chinese President Xi Jinping", "xi"),
        ("the United States", "us"),
        ("China's commerce ministry", "mofcom"),
        ("the anti-monopoly law", "antitrust"),
        ("a phone call", "call"),
    ],
)
def test_names_and_titles_of_one_person_or_body_become_one_term(written: str, alias: str) -> None:
    """Outlets name people by title or by name: both become the same term."""
    assert alias in story_features(f"{written} speaks on trade dispute").title


def test_the_united_states_is_not_a_unit_and_a_state() -> None:
    """A phrase that means one thing is one term, not two ordinary words."""
    terms = story_features("United States and China extend tariff truce").title
    assert "us" in terms
    assert not {"unit", "united", "stat", "state"} & terms


def test_agree_and_agreed_are_one_term() -> None:
    """The light stemmer meets 'agree', 'agrees' and 'agreed' in one form."""
    forms = {frozenset(story_features(f"US and China {verb} to cut tariffs").title) for verb in
             ("agree", "agrees", "agreed")}  # fmt: skip
    assert len(forms) == 1


def test_a_rewrite_published_within_the_hour_joins_with_less_in_common() -> None:
    """Outlets rewrite an event within hours; the same words a day later are another event."""
    first = story_features("Top US and Chinese officials begin trade talks in Madrid")
    rewrite = story_features("Bessent, He Lifeng open fourth round of trade talks in Spain")
    assert not same_story(first, rewrite)  # too little in common at any distance in time

    index = StoryIndex()
    index.add("s-madrid", first, NOW)
    assert index.find(rewrite, NOW + timedelta(minutes=40)) == "s-madrid"

    assert same_story(first, rewrite, apart=timedelta(minutes=40))
    assert not same_story(first, rewrite, apart=timedelta(hours=20))

    later = StoryIndex()
    later.add("s-madrid", first, NOW)
    assert later.find(rewrite, NOW + CLOSE_IN_TIME + timedelta(hours=20)) is None


def test_closeness_in_time_never_overrides_an_opposite() -> None:
    """Within minutes, 'tightens' and 'eases' are still two stories."""
    index = StoryIndex()
    index.add("s-tight", story_features("China tightens rare earth export controls"), NOW)
    eases = story_features("China eases rare earth export controls")
    assert index.find(eases, NOW + timedelta(minutes=5)) is None


def test_a_price_move_without_a_market_word_is_still_a_market_move() -> None:
    """'Soybeans climb...' is the same markets story as 'Soybean futures rise...'."""
    assert same_story(
        story_features("Soybean futures rise on China purchase pledge"),
        story_features("Soybeans climb to highest since 2024 on China buying pledge"),
    )
    assert conflicting(
        story_features("Stocks surge as US and China agree to cut tariffs for 90 days"),
        story_features("US and China agree to cut tariffs for 90 days"),
    )


def test_a_joint_statement_is_the_deal_not_the_opening_of_talks() -> None:
    """A joint statement after talks reports what was agreed: a later stage."""
    statement = story_features("China, US issue joint statement on Geneva trade talks")
    opening = story_features("US and China begin trade talks in Geneva")
    assert "deal" in statement.title
    assert conflicting(statement, opening)


def test_naming_a_rare_earth_element_says_rare_earth() -> None:
    """'adds dysprosium and terbium' is a rare-earth story like 'curbs heavy rare earths'."""
    assert {"dysprosium", "terbium"} | story_features("rare earth").title <= (
        story_features("China adds dysprosium and terbium to export licence list").title
    )


def test_the_dow_the_nasdaq_and_stocks_are_one_market() -> None:
    """Index and market names of one equity market are one term."""
    dow = story_features("Dow jumps 1,100 points after trade truce").title
    stocks = story_features("Stocks jump after trade truce").title
    assert "stock" in dow & stocks
