"""Parse-only micro benchmark: parse_feed vs feedparser on realistic synthetic feeds.

Each feed is ~50 KB: 50 items with HTML descriptions (escaped), content:encoded in CDATA,
media:content, dc:creator and RFC 822 dates, like a typical news publisher's RSS. Every
run reads id/link/title/summary/date of all items so no parser gets away with laziness.

    .venv/bin/python bench/p1_parse.py [--feeds 200] [--seconds 3]

Numbers are per core (single thread). Quote ratios from one run, not absolutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import feedparser_rs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.articles import article_from_entry
from bot.core.parsing import parse_feed
from bot.core.prepare import PrepareJob, prepare_body

# fmt: off
WORDS = [
    "tariff", "sanctions", "treasury", "china", "trade", "talks", "market", "shares",
    "inflation", "rate", "bank", "court", "minister", "election", "vote", "summit", "energy",
    "oil", "supply", "chain", "export", "ban", "chips", "report", "growth", "quarter",
]
# fmt: on


def synthetic_feed(n: int, rng: random.Random, items: int = 50) -> bytes:
    def words(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>'
        f"<title>Publisher {n}</title><link>https://news{n}.example.com/</link>"
        "<description>Latest news</description><ttl>15</ttl>\n"
    ]
    for i in range(items):
        slug = "-".join(words(6).split())
        desc = (
            f"&lt;p&gt;{words(30)} &lt;a href=&quot;https://news{n}.example.com/tag/{i}&quot;"
            f"&gt;{words(3)}&lt;/a&gt; {words(12)}&lt;/p&gt;&lt;img src=&quot;"
            f"https://img.example.com/{n}/{i}.jpg&quot; /&gt;"
        )
        body = f"<p>{words(25)}</p><p>{words(15)}</p>"
        parts.append(
            f"<item><title>{words(9).capitalize()}</title>"
            f"<link>https://news{n}.example.com/{2024}/05/{slug}?utm_source=rss&amp;id={i}</link>"
            f'<guid isPermaLink="false">news{n}-{i}</guid>'
            f"<pubDate>Mon, 06 May 2024 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<dc:creator>Reporter {i % 7}</dc:creator>"
            f"<description>{desc}</description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded>"
            f'<media:content url="https://img.example.com/{n}/{i}.jpg" medium="image" '
            f'width="1200" height="800"/></item>\n'
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def read_fields(entries: Any) -> int:
    total = 0
    for e in entries:
        for value in (e.get("id"), e.get("link"), e.get("title"), e.get("summary")):
            total += len(value or "")
        total += 1 if e.get("published_parsed") else 0
    return total


def run(label: str, fn: Callable[[bytes], object], docs: list[bytes], seconds: float) -> float:
    fn(docs[0])  # warm-up
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn(docs[done % len(docs)])
        done += 1
    rate = done / (time.perf_counter() - started)
    print(f"  {label:<52} {rate:9.0f} feeds/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(7)
    docs = [synthetic_feed(n, rng) for n in range(args.feeds)]
    size = sum(map(len, docs)) / len(docs)
    print(f"{len(docs)} synthetic feeds, 50 items each, {size / 1024:.1f} KB average\n")
    seen = datetime(2024, 5, 6, 12, tzinfo=UTC)

    def with_feedparser(body: bytes) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_fields(feedparser.parse(body).entries)

    def with_rs(body: bytes) -> object:
        return read_fields(
            feedparser_rs.parse(body, sanitize_html=False, resolve_relative_uris=False).entries
        )

    def with_parse_feed(body: bytes) -> object:
        return parse_feed(body, url="https://news.example.com/rss")

    def with_articles(body: bytes) -> object:
        feed = parse_feed(body, url="https://news.example.com/rss")
        return [
            article_from_entry(
                e, feed_url="https://news.example.com/rss", feed_title=feed.title, seen_at=seen
            )
            for e in feed.entries
        ]

    def first_poll(body: bytes) -> object:
        # What a parsing worker does with a new feed's body: every entry cleaned and keyed.
        url = "https://news.example.com/rss"
        job = PrepareJob(body, url, None, url, None, seen, clean=True)
        return prepare_body(job)

    base = run("feedparser 6 (defaults)", with_feedparser, docs, args.seconds)
    raw = run("feedparser-rs alone (sanitize off, no checks)", with_rs, docs, args.seconds)
    ours = run(
        "parse_feed (guard + checks + fast path + FeedEntry)", with_parse_feed, docs, args.seconds
    )
    full = run(
        "parse_feed + article_from_entry (clean text, keys)", with_articles, docs, args.seconds
    )
    worker = run(
        "prepare_body, a first poll (a worker's job per body)", first_poll, docs, args.seconds
    )
    print(
        f"\nparse_feed is {ours / base:.1f}x feedparser; guard+extraction overhead vs bare "
        f"feedparser-rs: {(1 / ours - 1 / raw) * 1e6:.0f} µs/feed; with article cleaning "
        f"{full / base:.1f}x feedparser"
    )
    print(
        f"RESULT parse_feed_per_s={ours:.0f} feedparser_per_s={base:.0f} "
        f"ratio={ours / base:.1f} fast_parser_per_s={raw:.0f} with_articles_per_s={full:.0f}"
        f" first_poll_prepare_per_s={worker:.0f}"
    )
    print(
        f"a first poll's worker: {1e6 / worker / 50:.0f} µs an entry, of which feedparser-rs"
        f" {1e6 / raw / 50:.0f} µs ({worker / raw:.0%} of it)"
    )


if __name__ == "__main__":
    main()
