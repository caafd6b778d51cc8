"""Pure decisions about items: which are new, which may alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.decide import HELD_FIRST_POLL, HELD_TOO_OLD, decide_items, fresh_indexes, newest
from bot.core.models import Article

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def art(n: int, *, age_hours: float = 1, known: bool = True) -> Article:
    return Article(
        url=f"https://a.test/{n}",
        title=f"t{n}",
        summary="",
        content="",
        source="A",
        published=NOW - timedelta(hours=age_hours),
        published_known=known,
        identity_keys=(f"g:{n}", f"u:{n}"),
    )


def test_any_shared_key_makes_the_same_item() -> None:
    """A changed guid with the same URL is not new; duplicates in one document count once."""
    keys = [("g:new", "u:1"), ("g:2", "u:2"), ("g:2", "u:2-copy"), ("g:3", "u:3")]
    assert fresh_indexes(keys, {"u:1"}) == [1, 3]


def test_first_poll_holds_everything_but_the_backfill() -> None:
    """On a feed's first poll only the newest `backfill` items may alert."""
    items = [art(1, age_hours=5), art(2, age_hours=1), art(3, age_hours=3)]
    decisions = decide_items(items, first_poll=True, backfill=1, max_age=timedelta(days=3), now=NOW)
    assert [(d.article.url[-1], d.alert, d.held_reason) for d in decisions] == [
        ("1", False, HELD_FIRST_POLL),
        ("2", True, None),
        ("3", False, HELD_FIRST_POLL),
    ]


def test_the_newest_items_are_picked_newest_first_and_equal_dates_in_feed_order() -> None:
    """Backfill, the worker's story features and the story lookups of a new feed's backlog
    all pick its newest items with this: undated items (all "first seen now") included."""
    dates = [NOW - timedelta(hours=2), NOW, NOW - timedelta(hours=1), NOW, NOW]
    assert newest(dates, 3) == [1, 3, 4]
    assert newest(dates, 10) == [1, 3, 4, 2, 0]
    assert newest([], 3) == []


def test_old_items_never_alert_but_undated_ones_do() -> None:
    """Past the age limit an item is held; an item without a date is judged new."""
    items = [art(1, age_hours=100), art(2, age_hours=100, known=False), art(3)]
    decisions = decide_items(
        items, first_poll=False, backfill=0, max_age=timedelta(days=3), now=NOW
    )
    assert [(d.alert, d.held_reason) for d in decisions] == [
        (False, HELD_TOO_OLD),
        (True, None),
        (True, None),
    ]
