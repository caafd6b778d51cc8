"""``trend WATCH [DAYS]``: a watch's matching stories per day and its top sources, as a PNG.

Two steps, both pure. :func:`count_trend` turns matching articles into per-day story
counts (a story is counted once, on the day its first matching article was published)
and a ranking of the outlets that carried the most of those stories.
:func:`render_trend_png` draws that with matplotlib's Agg canvas: no display, no pyplot
state shared between threads. Drawing costs tens of milliseconds of CPU, so callers run it
off the event loop (``asyncio.to_thread``); DAYS is capped by the catalogue.
"""

from __future__ import annotations

import io
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

TOP_SOURCES = 8
LABEL_MAX = 40
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One matching article: which story, when, from whom."""

    story_key: str
    published: datetime
    source: str


@dataclass(frozen=True, slots=True)
class TrendData:
    watch: str  # how the chart names the watch
    days: tuple[date, ...]  # oldest first, one per day, the last is today (UTC)
    stories_per_day: tuple[int, ...]
    top_sources: tuple[tuple[str, int], ...]  # (outlet, stories), most first
    # The first day counted in full, when the window starts earlier (None: every day is):
    # before it the store holds only part of the articles (kept for a limited time, or
    # the bot was not running yet), or more articles were stored than a trend reads.
    counted_from: date | None = None
    read_all: bool = True  # False: cut by how many articles a trend reads

    @property
    def total(self) -> int:
        return sum(self.stories_per_day)


def count_trend(
    watch: str,
    points: Iterable[TrendPoint],
    *,
    today: date,
    days: int,
    top: int = TOP_SOURCES,
    counted_from: date | None = None,
    read_all: bool = True,
) -> TrendData:
    """Stories per day over the ``days`` days ending ``today`` (UTC), and the top outlets.

    Points outside the window are ignored; a story seen in several articles counts once
    per day chart (its earliest article's day) and once per outlet that carried it."""
    first = today - timedelta(days=days - 1)
    story_day: dict[str, date] = {}
    outlets: dict[str, set[str]] = {}
    for p in points:
        day = p.published.astimezone(UTC).date()
        if not first <= day <= today:
            continue
        if p.story_key not in story_day or day < story_day[p.story_key]:
            story_day[p.story_key] = day
        outlets.setdefault(p.source or "unknown", set()).add(p.story_key)
    per_day = Counter(story_day.values())
    window = tuple(first + timedelta(days=i) for i in range(days))
    ranked = sorted(outlets.items(), key=lambda kv: (-len(kv[1]), kv[0].casefold()))
    return TrendData(
        watch=watch,
        days=window,
        stories_per_day=tuple(per_day.get(d, 0) for d in window),
        top_sources=tuple((name, len(keys)) for name, keys in ranked[:top]),
        counted_from=counted_from if counted_from is not None and counted_from > first else None,
        read_all=read_all,
    )


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def render_trend_png(data: TrendData, *, dpi: int = 100) -> bytes:
    """The chart as PNG bytes: stories per day (bars) beside the top sources (a bar list).

    CPU-bound: call it through ``asyncio.to_thread``."""
    # Imported here: matplotlib takes most of a second to import, paid only by a trend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    per_day, sources = figure.subplots(1, 2, width_ratios=(3, 2))
    # Feed and query text is never markup: parse_math=False keeps a "$" a dollar sign.
    full_from = data.counted_from
    partial = 0 if full_from is None else sum(1 for day in data.days if day < full_from)
    colors = ["#b8c4d0"] * partial + ["#3b6ea8"] * (len(data.days) - partial)
    per_day.bar(range(len(data.days)), data.stories_per_day, color=colors)
    if partial:
        # Days counted in part are shaded and said to be so, never shown as quiet days.
        per_day.axvspan(-0.5, partial - 0.5, color="#e6eaef", zorder=0)
        per_day.text(0.01, 0.97, "shaded: counted in part", transform=per_day.transAxes, va="top")
    step = max(1, len(data.days) // 10)
    ticks = list(range(0, len(data.days), step))
    per_day.set_xticks(ticks, labels=[data.days[i].strftime("%d %b") for i in ticks])
    per_day.tick_params(axis="x", labelrotation=45)
    per_day.set_ylabel("stories")
    per_day.yaxis.get_major_locator().set_params(integer=True)
    per_day.set_title(
        f"{_label(data.watch)}: {data.total} stories in {len(data.days)} days",
        parse_math=False,
        loc="left",
    )
    names = [_label(name) for name, _ in data.top_sources][::-1]
    counts = [n for _, n in data.top_sources][::-1]
    sources.barh(range(len(names)), counts, color="#d08c2b")
    sources.set_yticks(range(len(names)), labels=names, parse_math=False)
    sources.xaxis.get_major_locator().set_params(integer=True)
    sources.set_title("top sources (stories)", loc="left")
    if not names:
        sources.text(0.5, 0.5, "no matching stories", ha="center", transform=sources.transAxes)
    out = io.BytesIO()
    with warnings.catch_warnings():
        # An outlet name in a script the bundled font lacks draws as boxes, with a warning.
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        figure.savefig(out, format="png")
    return out.getvalue()
