"""P6: story clustering quality and speed, the new rule against the old one in one run.

Quality is pairwise: over every pair of articles in a labelled set, a pair is a true
positive when both methods' story keys agree and the labels agree. Articles go through
:class:`bot.core.stories.StoryIndex` one by one in publication order, exactly as the
poller feeds it (``find`` then ``add``, ``now`` = publication time, 48-hour window).

* **gold** — ``tests/data/stories/gold.jsonl``, hand-labelled (the development split the
  thresholds were chosen on) and ``holdout.jsonl`` (never tuned on). See
  ``tests/data/stories/README.md``.
* **dev2** — ``tests/data/stories/dev2.jsonl``: a second hand-labelled development set
  of rewrites (country / capital / demonym, officials by name / by office, figures
  written differently, agency names and acronyms) and near-miss decoys.
* **dev3** — ``tests/data/stories/dev3.jsonl``: a third hand-labelled development set
  of event frames (calls, talks, deals, probes opened / concluded, tariffs imposed /
  raised / paused, export bans and licences), actors by role and reaction pieces, with
  decoys.
* **dev4** — ``tests/data/stories/dev4.jsonl``: a fourth hand-labelled development set
  (round four) of one event under other verbs (meet / begin talks / sit down; pause / on
  hold; allow / permit), background clauses ("... as shipments to China fall") and
  reaction statements, with decoys; written to check round four's mechanisms before the
  held-out totals were read.
* **dev5** — ``tests/data/stories/dev5.jsonl``: a fifth hand-labelled development set
  (round five) of measures halted, extended, replaced or spared, data releases beside
  the market's move on them, officials named as counterparts, and the same measure
  taken by another country or the next day, on subtopics none of the others hold.
* **dev6** — ``tests/data/stories/dev6.jsonl``: a sixth hand-labelled development set
  (round six) on the held-out set's subtopics (de minimis, chip-design software, ethane,
  Qualcomm, Micron, the Paris talks, rare earth quotas) as new invented events, written
  before the round's rules and without reading the held-out set.
* **cjk** — ``tests/data/stories/cjk.jsonl``: Chinese and Japanese headlines, hand-labelled
  (a development set: the CJK features were built on it).
* **silver** — Google News's own grouping: each item of a topic feed lists related
  headlines in its description; headlines of one item are one story, of different items
  different stories. ``tests/data/stories/google-news-topic.rss`` (written for the
  project) always; real Google News feeds from ``../shared/feeds`` when present.

Each labelled set is also clustered in an index that first holds other news, as a
running bot's index does (each headline its own story, spread over the 40 hours before
the set): the real publishers' headlines in ``../shared/feeds`` (about 3,100, on every
subject; skipped when absent) and ``--held`` feed-farm headlines (20,000 by default,
trade sentences in the launch pack's vocabulary among general news). Held alone, a set's
own topic words are common and weigh little; held among other news, a topic's words are
rare there and weigh as much as an event's names, so these lines show what a bot whose
index holds other news would group.

Speed: articles/s through the index (features + ``find`` + ``add``) with a full window
already held (``--window`` articles, 20,000 by default: two days of new headlines from a
few thousand feeds), on the feed farm's headlines and summaries (bench/feedfarm.py: trade
stories in the launch pack's vocabulary mixed with Zipf-distributed general news).
Times are CPU seconds of this process.

Usage: ``python bench/p6_stories.py [--window 20000] [--articles 5000]``;
``--dev`` leaves the held-out set out (development, silver and speed only),
``--misses`` lists the development sets' wrongly split (-) and wrongly joined (+) pairs
(the held-out set's are never listed, so tuning only ever looks at development data),
``--no-speed`` skips the throughput run and ``--held 0`` the farm background.
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from feedfarm import _item_xml  # noqa: E402  (bench/ is not a package)
from legacy_stories import LegacyStoryIndex  # noqa: E402

from bot.core.articles import clean_text  # noqa: E402
from bot.core.errors import ParseError  # noqa: E402
from bot.core.parsing import parse_feed  # noqa: E402
from bot.core.stories import (  # noqa: E402
    StoryFeatures,
    StoryIndex,
    story_features,
    story_key_for_url,
)
from bot.core.textfold import headline_tokens  # noqa: E402

DATA = ROOT / "tests" / "data" / "stories"
SHARED_FEEDS = ROOT.parent / "shared" / "feeds"
WINDOW = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class Labelled:
    id: str
    title: str
    summary: str
    published: datetime
    story: str


def load_jsonl(path: Path) -> list[Labelled]:
    """A labelled set: one JSON object per line (id, title, summary, published, story)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        items.append(Labelled(row["id"], row["title"], row["summary"], published, row["story"]))
    return sorted(items, key=lambda item: item.published)


_LI = re.compile(r"<li>\s*<a [^>]*>(.*?)</a>.*?</li>", re.S)


def load_google_news_topic(path: Path) -> list[Labelled]:
    """Silver labels: the related headlines each Google News item lists in its description."""
    text = path.read_text(encoding="utf-8")
    items = []
    for n, item in enumerate(re.findall(r"<item>(.*?)</item>", text, re.S)):
        description = re.search(r"<description>(.*?)</description>", item, re.S)
        date = re.search(r"<pubDate>(.*?)</pubDate>", item, re.S)
        if description is None or date is None:
            continue
        published = parsedate_to_datetime(date.group(1).strip()).astimezone(UTC)
        for k, title in enumerate(_LI.findall(html.unescape(description.group(1)))):
            title = html.unescape(re.sub(r"<[^>]+>", "", title)).strip()
            items.append(Labelled(f"{path.stem}-{n}-{k}", title, "", published, f"{n}"))
    return sorted(items, key=lambda item: item.published)


def cluster_new(
    items: Sequence[Labelled], background: Sequence[StoryFeatures] = ()
) -> dict[str, str]:
    """Each item's story key, the index first holding ``background`` (other news, each
    its own story, spread over the 40 hours before the set's first article)."""
    index = StoryIndex(window=WINDOW, max_headlines=len(background) + len(items) + 1)
    if background and items:
        step = timedelta(hours=40) / len(background)
        held_at = items[0].published - timedelta(hours=40)
        for n, features in enumerate(background):
            index.add(f"s-other{n}", features, held_at)
            held_at += step
    keys = {}
    for item in items:
        features = story_features(item.title, item.summary)
        key = index.find(features, item.published) or story_key_for_url(item.id)
        index.add(key, features, item.published)
        keys[item.id] = key
    return keys


def cluster_old(items: Sequence[Labelled]) -> dict[str, str]:
    index = LegacyStoryIndex(window=WINDOW)
    keys = {}
    for item in items:
        tokens = headline_tokens(item.title)
        key = index.find(tokens, item.published) or story_key_for_url(item.id)
        index.add(key, tokens, item.published)
        keys[item.id] = key
    return keys


@dataclass(frozen=True, slots=True)
class PairScore:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __str__(self) -> str:
        return (
            f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
            f"({self.predicted_pairs} pairs grouped, {self.true_pairs} labelled)"
        )


def pairwise(items: Sequence[Labelled], keys: dict[str, str]) -> PairScore:
    """Pairwise precision and recall of story keys against the labels."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(items, 2):
        grouped = keys[a.id] == keys[b.id]
        labelled = a.story == b.story
        tp += grouped and labelled
        fp += grouped and not labelled
        fn += labelled and not grouped
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return PairScore(precision, recall, tp + fn, tp + fp)


def mistakes(items: Sequence[Labelled], keys: dict[str, str]) -> list[str]:
    """Wrongly split (-) and wrongly joined (+) pairs, for reading development sets."""
    lines = []
    for a, b in itertools.combinations(items, 2):
        grouped = keys[a.id] == keys[b.id]
        labelled = a.story == b.story
        if grouped != labelled:
            mark = "+" if grouped else "-"
            lines.append(f"  {mark} {a.id} {a.title!r}\n    {b.id} {b.title!r}")
    return lines


@dataclass(frozen=True, slots=True)
class Background:
    """Other news an index holds besides a set: what a running bot's index holds."""

    label: str
    features: list[StoryFeatures]


def report_quality(
    name: str, items: Sequence[Labelled], backgrounds: Sequence[Background] = ()
) -> tuple[PairScore, PairScore]:
    stories = len({item.story for item in items})
    new, old = pairwise(items, cluster_new(items)), pairwise(items, cluster_old(items))
    print(f"{name}: {len(items)} articles, {stories} stories")
    print(f"  new : {new}")
    for background in backgrounds:
        held = pairwise(items, cluster_new(items, background.features))
        print(f"  new, {background.label}: {held}")
    print(f"  old : {old}")
    return new, old


def other_news() -> list[tuple[str, str]]:
    """(title, summary) of every item in ../shared/feeds (real publishers' feeds on any
    subject), or nothing when it is absent."""
    if not SHARED_FEEDS.is_dir():
        return []
    found = []
    for path in sorted(SHARED_FEEDS.iterdir()):
        if path.suffix in (".tsv", ".md"):
            continue
        try:
            feed = parse_feed(path.read_bytes(), url=f"https://feeds.example/{path.name}")
        except ParseError:
            continue
        found.extend((clean_text(e.title or ""), clean_text(e.summary or "")) for e in feed.entries)
    return [(title, summary) for title, summary in found if title]


# ---- throughput -------------------------------------------------------------------------

_TAG = re.compile(r"<(title|description)>(.*?)</\1>", re.S)


def farm_articles(count: int, *, offset: int = 0) -> list[tuple[str, str]]:
    """``count`` (title, summary) pairs from the feed farm, 50 per feed as it serves them."""
    start = 1_800_000_000.0
    articles = []
    for n in range(offset, offset + count):
        fields = dict(_TAG.findall(_item_xml(n // 50, n % 50, start)))
        description = fields["description"]
        if description.startswith("<![CDATA["):
            description = description[9:-3]
        else:
            description = html.unescape(description)
        articles.append((html.unescape(fields["title"]), clean_text(description)))
    return articles


def throughput(
    window: list[tuple[str, str]],
    arrivals: list[tuple[str, str]],
    *,
    new_rule: bool,
) -> tuple[float, float, int]:
    """(articles/s adding the window, articles/s of find+add after it, stories found)."""
    start_at = datetime(2026, 11, 25, tzinfo=UTC)
    step = WINDOW / (len(window) + len(arrivals))
    found = 0
    index: StoryIndex | LegacyStoryIndex
    features: Callable[[str, str], object]
    if new_rule:
        index = StoryIndex(window=WINDOW, max_headlines=len(window) + len(arrivals))
        features = story_features
    else:
        index = LegacyStoryIndex(window=WINDOW, max_headlines=len(window) + len(arrivals))
        features = lambda title, _summary: headline_tokens(title)  # noqa: E731
    begin = time.process_time()
    now = start_at
    for n, (title, summary) in enumerate(window):
        f = features(title, summary)
        key = index.find(f, now) or f"s-w{n}"  # type: ignore[arg-type]
        index.add(key, f, now)  # type: ignore[arg-type]
        now += step
    fill_rate = len(window) / (time.process_time() - begin)
    begin = time.process_time()
    for n, (title, summary) in enumerate(arrivals):
        f = features(title, summary)
        key = index.find(f, now)  # type: ignore[arg-type]
        if key is not None:
            found += 1
        index.add(key or f"s-a{n}", f, now)  # type: ignore[arg-type]
        now += step
    rate = len(arrivals) / (time.process_time() - begin)
    return fill_rate, rate, found


# (file stem, what the report calls it), in the order they were written.
DEVELOPMENT_SETS = (
    ("gold", "gold (development)"),
    ("dev2", "dev2 (development, rewrites and decoys)"),
    ("dev3", "dev3 (development, event frames, roles and reactions)"),
    ("dev4", "dev4 (development, verbs, background clauses, reactions)"),
    ("dev5", "dev5 (development, measures, markets, counterparts)"),
    ("dev6", "dev6 (development, the held-out subtopics written afresh)"),
    ("dev7", "dev7 (development, one topic's different events within two hours)"),
    ("dev8", "dev8 (development, decoys sharing a topic's 3-4 words within minutes)"),
    ("dev9", "dev9 (development, round nine's frames under other names)"),
    ("dev10", "dev10 (development, one event in other words: offices for names, other units)"),
    ("dev11", "dev11 (development, paraphrases beside the other side's answer)"),
    ("dev12", "dev12 (development, wire and state-media wording of one event, beside the next)"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--window", type=int, default=20_000, help="articles already held")
    parser.add_argument("--articles", type=int, default=5_000, help="articles timed after")
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development and silver sets only (never the held-out set)",
    )
    parser.add_argument(
        "--misses", action="store_true", help="with --dev: list the development sets' errors"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput run")
    parser.add_argument(
        "--held", type=int, default=20_000, help="feed-farm headlines held as other news"
    )
    args = parser.parse_args()

    print(f"P6 story clustering; {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    backgrounds = []
    real = other_news()
    if real:
        features = [story_features(title, summary) for title, summary in real]
        backgrounds.append(Background(f"{len(real):,} real headlines held", features))
    else:
        print("real headlines held: skipped, ../shared/feeds absent")
    if args.held:
        farm = [story_features(title, summary) for title, summary in farm_articles(args.held)]
        backgrounds.append(Background(f"{args.held:,} farm headlines held", farm))
    development = {}
    for name, label in DEVELOPMENT_SETS:
        items = load_jsonl(DATA / f"{name}.jsonl")
        development[name], _ = report_quality(label, items, backgrounds)
        if args.misses:
            print("\n".join(mistakes(items, cluster_new(items))))
            for background in backgrounds:
                print(f"  {background.label}:")
                print("\n".join(mistakes(items, cluster_new(items, background.features))))
    holdout = None
    if not args.dev:
        holdout, _ = report_quality(
            "gold (held out)", load_jsonl(DATA / "holdout.jsonl"), backgrounds
        )
    cjk_items = load_jsonl(DATA / "cjk.jsonl")
    cjk, _ = report_quality("cjk (Chinese and Japanese)", cjk_items, backgrounds)
    if args.misses:
        print("\n".join(mistakes(cjk_items, cluster_new(cjk_items))))
    silver, _ = report_quality(
        "silver (our Google-News-like topic feed)",
        load_google_news_topic(DATA / "google-news-topic.rss"),
    )
    real = sorted(SHARED_FEEDS.glob("google-news*.rss")) if SHARED_FEEDS.is_dir() else []
    real_items = [item for path in real for item in load_google_news_topic(path)]
    if real_items and len({item.story for item in real_items}) > 1:
        report_quality("silver (Google News feeds in ../shared/feeds)", real_items)
    else:
        print("silver (real Google News feeds): skipped, ../shared/feeds absent or no <ol>")

    rate_new = rate_old = 0.0
    if not args.no_speed:
        window = farm_articles(args.window)
        arrivals = farm_articles(args.articles, offset=args.window)
        fill_new, rate_new, found_new = throughput(window, arrivals, new_rule=True)
        fill_old, rate_old, found_old = throughput(window, arrivals, new_rule=False)
        print(
            f"throughput with {args.window:,} articles held, {args.articles:,} more timed "
            "(features + find + add, CPU time):"
        )
        print(
            f"  new : {rate_new:,.0f} articles/s ({fill_new:,.0f}/s filling the window); "
            f"{found_new} joined a story"
        )
        print(
            f"  old : {rate_old:,.0f} articles/s ({fill_old:,.0f}/s filling the window); "
            f"{found_old} joined a story"
        )
        print(f"  new/old speed ratio: x{rate_new / rate_old:.2f}")
    held_out = (
        f"holdout_p={holdout.precision:.4f} holdout_r={holdout.recall:.4f} " if holdout else ""
    )
    print(
        "RESULT "
        + " ".join(
            f"{name}_p={q.precision:.4f} {name}_r={q.recall:.4f}" for name, q in development.items()
        )
        + f" {held_out}"
        f"cjk_p={cjk.precision:.4f} cjk_r={cjk.recall:.4f} "
        f"silver_p={silver.precision:.4f} silver_r={silver.recall:.4f} "
        f"articles_per_s={rate_new:.1f} baseline_articles_per_s={rate_old:.1f}"
    )


if __name__ == "__main__":
    main()
