"""Trend charts: stories (not articles) per day and top outlets, and a PNG that is a real
picture of them."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import matplotlib.image

from bot.core.trend import PNG_MAGIC, TrendData, TrendPoint, count_trend, render_trend_png

TODAY = date(2026, 3, 10)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_a_story_counts_once_on_its_first_day_and_once_per_outlet() -> None:
    points = [
        TrendPoint("s1", at(8), "Reuters"),
        TrendPoint("s1", at(9), "AP"),  # the same story a day later: still day 8
        TrendPoint("s1", at(9, 13), "Reuters"),  # Reuters again: one story for Reuters
        TrendPoint("s2", at(10), "Reuters"),
        TrendPoint("s3", at(10), "BBC"),
        TrendPoint("old", at(1), "Reuters"),  # before the window
        TrendPoint("future", at(11), "Reuters"),  # after it
    ]
    data = count_trend("lithium", points, today=TODAY, days=3)
    assert data.days == (date(2026, 3, 8), date(2026, 3, 9), TODAY)
    assert data.stories_per_day == (1, 0, 2)
    assert data.total == 3
    assert data.top_sources == (("Reuters", 2), ("AP", 1), ("BBC", 1))


def test_days_are_utc_days() -> None:
    late_evening_new_york = datetime(2026, 3, 9, 23, 30, tzinfo=UTC) + timedelta(hours=1)
    data = count_trend("x", [TrendPoint("s", late_evening_new_york, "AP")], today=TODAY, days=2)
    assert data.stories_per_day == (0, 1)


def test_top_sources_are_capped() -> None:
    points = [TrendPoint(f"s{i}", at(10), f"Outlet {i:02}") for i in range(12)]
    data = count_trend("x", points, today=TODAY, days=1, top=5)
    assert [name for name, _ in data.top_sources] == [f"Outlet {i:02}" for i in range(5)]


def decoded(png: bytes) -> tuple[int, ...]:
    return tuple(matplotlib.image.imread(io.BytesIO(png), format="png").shape)


def test_the_chart_is_a_png_of_the_expected_size() -> None:
    data = count_trend(
        'Costs $5 and "quotes"',  # a dollar sign is not mathtext
        [TrendPoint(f"s{i}", at(1 + i % 10), "Ledger ₿ 北京") for i in range(30)],
        today=TODAY,
        days=10,
    )
    png = render_trend_png(data)
    assert png.startswith(PNG_MAGIC)
    assert 5_000 < len(png) < 500_000
    assert decoded(png)[:2] == (450, 1000)


def test_an_empty_window_still_draws() -> None:
    empty = TrendData("quiet", (TODAY,), (0,), ())
    png = render_trend_png(empty)
    assert png.startswith(PNG_MAGIC) and decoded(png)[:2] == (450, 1000)
