"""A feed farm for the benchmarks: N realistic news feeds on 127.0.0.1, in its own process.

Each feed ``/feed/{i}.xml`` is an RSS 2.0 news feed of 50 items (30–60 KB): HTML
descriptions (escaped or CDATA), ``media:content``, ``dc:creator``, categories, trade-news
vocabulary, links with tracking parameters on some feeds. A feed's content is a pure
function of ``(i, its version counter, the farm's start time)``; items keep their text
across versions, and each version adds 1–3 new items at the top (older ones fall off the
bottom). Validators are honest: ``ETag`` per version, ``Last-Modified`` per version, 304
when either matches (``If-None-Match`` wins, as RFC 9110 says).

The server is a small hand-written HTTP/1.1 server on ``asyncio.Protocol`` (keep-alive, no
pipelining needed), not ``aiohttp.web``: it runs in a separate process so it never shares
the event loop being measured, and it must be cheap enough that the farm is never the
bottleneck. Bodies are rendered lazily, gzipped once (served gzip when the client accepts
it, as real publishers do) and cached; ``/bump`` renders the bumped feeds before it answers,
so a measured cycle only ever serves cached bytes.

The feeds are spread over ``--ports`` listening ports: a client's per-host connection
limit is per (host, port), so several ports stand for several publishers' hosts.

Endpoints:

* ``GET /feed/{i}.xml`` — the feed (conditional GET).
* ``POST /bump?fraction=0.1&seed=1`` — bump the version of that fraction of feeds
  (chosen by the seed); answers ``{"bumped": n, "new_items": m}``.
* ``GET /stats`` — requests served so far: ``{"200": n, "304": n, "404": n}``.

From Python, use :class:`FeedFarm` (starts the server process, knows its URLs)::

    with FeedFarm(feeds=1000) as farm:
        urls = farm.urls()
        farm.bump(0.1, seed=1)

Run alone: ``python bench/feedfarm.py --feeds 10000`` prints its ports and serves until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from email.utils import formatdate
from html import escape as html_escape
from itertools import accumulate
from types import TracebackType
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ITEMS_PER_FEED = 50
GZIP_LEVEL = 3

# ---------------------------------------------------------------------------------------
# Vocabulary: real trade-news words, so the launch-pack watches match a realistic share.

ACTORS = [
    "U.S. Treasury Secretary Scott Bessent",
    "Trade Representative Jamieson Greer",
    "Vice Premier He Lifeng",
    "President Trump",
    "President Xi Jinping",
    "Commerce Secretary Howard Lutnick",
    "China's commerce ministry",
    "The EU's trade chief",
    "Japan's trade minister",
    "South Korean officials",
    "Beijing",
    "Washington",
    "Nvidia",
    "TSMC",
    "Samsung",
    "ASML",
    "Huawei",
    "Apple",
    "Tesla",
    "BYD",
    "Boeing",
    "Soybean farmers",
    "Chipmakers",
    "Automakers",
    "Steelmakers",
    "Shipping companies",
    "Investors",
    "Analysts",
    "Economists",
    "The Federal Reserve",
    "The World Trade Organization",
    "Mexican officials",
    "Canada",
    "India",
    "Vietnam",
    "Germany's economy ministry",
    "The White House",
    "Congress",
    "Senate Republicans",
    "The European Commission",
    "The People's Bank of China",
    "Customs officials",
    "Port operators",
    "Retailers",
    "Rare earth miners",
]
VERBS = [
    "weighs",
    "announces",
    "signals",
    "rejects",
    "welcomes",
    "warns of",
    "pushes back on",
    "braces for",
    "eyes",
    "delays",
    "expands",
    "tightens",
    "eases",
    "targets",
    "unveils",
    "criticises",
    "backs",
    "plans",
    "considers",
    "extends",
    "scraps",
    "doubles down on",
]
TOPICS = [
    "new tariffs on Chinese goods",
    "rare earth export controls",
    "chip export restrictions",
    "a semiconductor export ban",
    "soybean purchases",
    "a trade truce",
    "steel and aluminum duties",
    "port fees on Chinese ships",
    "lithium supply deals",
    "gallium and germanium curbs",
    "currency intervention",
    "a Trump-Xi summit",
    "trade talks in Kuala Lumpur",
    "a 90-day tariff pause",
    "export licences for AI chips",
    "an investment screening regime",
    "fentanyl-related tariffs",
    "electric vehicle subsidies",
    "a critical minerals pact",
    "anti-dumping probes",
    "retaliatory levies",
    "critical minerals stockpiles",
    "magnet shipments",
    "entity list additions",
    "shipbuilding tariffs",
    "solar panel duties",
    "a farm purchase agreement",
    "outbound investment rules",
    "a yuan devaluation",
    "export controls on chipmaking tools",
    "a trade deal framework",
    "duty-free exemptions",
    "rare-earth magnet licences",
    "pharmaceutical tariffs",
    "a digital services tax",
    "a supply chain review",
]
PLACES = [
    "Geneva",
    "London",
    "Kuala Lumpur",
    "Beijing",
    "Washington",
    "Tokyo",
    "Seoul",
    "Brussels",
    "Madrid",
    "Stockholm",
    "Busan",
    "Shanghai",
    "Shenzhen",
    "Hanoi",
    "Mexico City",
    "Ottawa",
    "New Delhi",
    "Jakarta",
    "Singapore",
    "Taipei",
    "Frankfurt",
    "Sydney",
    "Sao Paulo",
]
CONTEXTS = [
    "as talks resume",
    "ahead of the summit",
    "amid market jitters",
    "after weak factory data",
    "as the deadline looms",
    "in a bid to ease tensions",
    "despite objections",
    "after a week of volatility",
    "as exports slump",
    "as inflation cools",
    "after a phone call",
    "as negotiators meet",
    "under pressure from industry",
    "as shipments stall",
    "while markets rally",
    "in a surprise move",
]
SECTIONS = ["business", "world", "markets", "economy", "tech", "asia", "china", "politics"]
CATEGORIES = [
    "Trade",
    "Markets",
    "China",
    "United States",
    "Technology",
    "Economy",
    "Commodities",
    "Semiconductors",
    "Autos",
    "Agriculture",
    "Policy",
    "Asia",
    "Europe",
    "Energy",
]
AUTHORS = [
    "Jane Chen",
    "Michael Roberts",
    "Priya Natarajan",
    "Lukas Meyer",
    "Sofia Alvarez",
    "Kenji Tanaka",
    "Amara Okafor",
    "David Liu",
    "Emma Johansson",
    "Omar Haddad",
]
FILLER = [
    "The move follows months of negotiations between the two largest economies.",
    "Officials declined to comment on the timing of any announcement.",
    "Markets in Asia opened lower on the news before recovering some losses.",
    "Industry groups said the measures would raise costs for manufacturers.",
    "The ministry said it would respond with necessary countermeasures.",
    "Analysts expect further details to emerge in the coming weeks.",
    "The decision could affect billions of dollars in annual trade flows.",
    "Exporters have been stockpiling inventory ahead of the deadline.",
    "A spokesperson said the talks had been constructive and candid.",
    "Shares of affected companies swung sharply in early trading.",
    "The agreement still needs approval from both governments.",
    "Logistics firms reported a rush of bookings on trans-Pacific routes.",
]
FILLER_SUBJECTS = [*ACTORS] + [
    f"A {w} at" for w in ("spokesperson", "lawyer", "trader", "strategist", "source")
]
FILLER_VERBS = [
    "said it was monitoring",
    "told reporters it expected",
    "had warned about",
    "is reviewing",
    "said in a statement that it would oppose",
    "plans to discuss",
    "declined to comment on",
    "has lobbied against",
    "said it welcomed",
]
FILLER_TAILS = [
    "with exposure estimated at",
    "putting revenue at",
    "lifting guidance for",
    "and cut forecasts for",
    "shifting orders to",
    "as costs rose at",
]
_ONSETS = ["k", "v", "t", "m", "l", "z", "dr", "br", "st", "qu", "n", "r", "s", "x", "pl"]
_NUCLEI = ["a", "e", "i", "o", "u", "ae", "io", "y"]
_CODAS = ["n", "x", "r", "l", "s", "t", "m", "nd", "rk", "lt"]
_SUFFIXES = [
    "Holdings",
    "Group",
    "Materials",
    "Semiconductor",
    "Logistics",
    "Metals",
    "Industries",
    "Electronics",
    "Shipping",
    "Minerals",
    "Technologies",
    "Agritech",
]


def company_names(count: int = 30_000) -> list[str]:
    """A fixed pool of made-up company names (watches in P1/P4 use them as rare terms)."""
    rng = random.Random(20250101)
    names: dict[str, None] = {}
    while len(names) < count:
        stem = "".join(
            rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(rng.randint(1, 2))
        ) + rng.choice(_CODAS)
        names[f"{stem.capitalize()} {rng.choice(_SUFFIXES)}"] = None
    return list(names)


COMPANIES = company_names()


def general_words(count: int = 20_000) -> list[str]:
    """A fixed vocabulary of made-up words for general-news headlines and text.

    Real headlines mix a few common words with many rare ones (names, places, numbers);
    drawing them Zipf-like from a large vocabulary keeps word frequencies realistic, which
    matters to anything indexed by word (story clustering, the matcher).
    """
    rng = random.Random(20250102)
    words: dict[str, None] = {}
    while len(words) < count:
        words[
            "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(rng.randint(1, 3)))
            + rng.choice(_CODAS)
        ] = None
    return list(words)


GENERAL = general_words()
# Zipf-like weights with a flattened head (the commonest word is in ~1 % of draws).
GENERAL_CUM = list(accumulate(1.0 / (rank + 60) for rank in range(len(GENERAL))))


def _general(rng: random.Random, k: int) -> str:
    return " ".join(rng.choices(GENERAL, cum_weights=GENERAL_CUM, k=k))


WATCH_WORDS = [
    "tariff",
    "tariffs",
    "Beijing",
    "Washington",
    "Nvidia",
    "TSMC",
    "Samsung",
    "Huawei",
    "Tesla",
    "BYD",
    "Boeing",
    "soybean",
    "steel",
    "aluminum",
    "lithium",
    "gallium",
    "germanium",
    "magnet",
    "yuan",
    "shipbuilding",
    "solar",
    "pharmaceutical",
    "subsidies",
    "stockpiles",
    "truce",
    "summit",
    "levies",
    "duties",
    "investors",
    "automakers",
]


def synthetic_watches(count: int, *, seed: int = 7) -> list[str]:
    """``count`` watch queries in the full language, most of them rare (as real watches are).

    Most name made-up companies (each article mentions about three of 30,000), the rest
    need three terms at once (trade words, places, fields), so a watch matches a small
    share of articles, as real watches do (10,000 of them give about one match per
    article). Uses AND, OR, NOT, ``-``, phrases and field prefixes. Duplicates are avoided
    so the matcher sees ``count`` distinct queries.
    """
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        company, other = rng.choice(COMPANIES), rng.choice(COMPANIES)
        word, word2 = rng.choice(WATCH_WORDS), rng.choice(WATCH_WORDS)
        place, topic = rng.choice(PLACES), rng.choice(TOPICS)
        stem = company.split()[0]
        form = rng.random()
        if form < 0.40:
            q = f'"{company}"'
        elif form < 0.55:
            q = f'"{company}" OR "{other}"'
        elif form < 0.65:
            q = f'"{company}" AND {word}'
        elif form < 0.75:
            q = f'{word} AND "{place}" AND {stem}'
        elif form < 0.85:
            q = f'title:"{" ".join(topic.split()[-2:])}" AND "{place}" AND {word}'
        elif form < 0.95:
            q = f'({word} OR {word2}) AND "{company}" -"{place}"'
        else:
            q = f'"{company}" AND (summary:{word} OR title:{word2})'
        out[q] = None
    return list(out)


def _mix(*values: int) -> int:
    """A cheap deterministic 64-bit hash of small ints (stable across processes)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h ^= (v + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2)) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 31)


def new_items_for(i: int, version: int) -> int:
    """How many items version ``version`` of feed ``i`` adds at the top: 1, 2 or 3."""
    return 1 + _mix(i, version, 7) % 3


# ---------------------------------------------------------------------------------------
# Rendering


def _sentence(rng: random.Random) -> str:
    """One varied filler sentence (news text compresses ~4x, not 10x: avoid repeats)."""
    return html_escape(
        f"{rng.choice(FILLER_SUBJECTS)} {rng.choice(FILLER_VERBS)} "
        f"{rng.choice(TOPICS)} {rng.choice(CONTEXTS)}, {rng.choice(FILLER_TAILS)} "
        f"{rng.choice(COMPANIES)} {rng.randint(2, 98)}.{rng.randint(0, 9)}% "
        f"{rng.choice(PLACES)}."
    )


def _item_xml(i: int, k: int, start: float) -> str:
    """Item number ``k`` of feed ``i``: the same text whatever version shows it."""
    rng = random.Random(_mix(i, k))
    company = rng.choice(COMPANIES)
    other = rng.choice(COMPANIES)
    actor, verb, topic = rng.choice(ACTORS), rng.choice(VERBS), rng.choice(TOPICS)
    place = rng.choice(PLACES)
    form = rng.random()
    if form < 0.4:  # a trade story (what the launch pack watches for)
        title = f"{actor} {verb} {topic}"
        if rng.random() < 0.6:
            title += f" {_general(rng, 2)}"
        if rng.random() < 0.3:
            title += f" {rng.choice(CONTEXTS)}"
    else:  # general business news
        title = f"{rng.choice(COMPANIES)} {_general(rng, rng.randint(3, 6))}"
        if rng.random() < 0.3:
            title += f" in {place}"
    if rng.random() < 0.2:
        title = f"{place}: {title}"
    section = SECTIONS[(i + k) % len(SECTIONS)]
    slug = "-".join(title.lower().replace(":", "").replace("'", "").split()[:9])
    link = f"https://news{i % 211}.example.com/{section}/{slug}-{i}-{k}"
    if i % 3 == 0:
        link += "?utm_source=rss&utm_medium=feed"
    # Older items go back in 15-minute steps; new items (k >= 50) are dated at the start.
    published = start - (ITEMS_PER_FEED - k) * 900 if k < ITEMS_PER_FEED else start + k - 50
    pct = rng.randint(1, 90) / 10
    sentences = [
        f"<p><b>{html_escape(place)}</b> — {html_escape(actor)} {verb} {html_escape(topic)} "
        f"on {time.strftime('%A', time.gmtime(published))}, according to people familiar "
        "with the matter.</p>",
        f'<p>Shares of <a href="https://markets.example.com/q/{k}">{html_escape(company)}</a>'
        f" moved {pct}% in {place} trading, while <em>{html_escape(other)}</em> said it was "
        f"reviewing its exposure to {html_escape(rng.choice(TOPICS))}.</p>",
    ]
    if i % 3 == 0:
        del sentences[1]  # some publishers carry a one-paragraph teaser only
    for _ in range((i + k) % 2):
        sentences.append(f"<p>{_sentence(rng)} {html_escape(rng.choice(FILLER))}</p>")
    if rng.random() < 0.5:
        sentences.append(
            f'<p><img src="https://img.example.com/{i}/{k}.jpg" alt="{html_escape(place)}" '
            'width="640" height="360"/></p>'
        )
    description = "".join(sentences)
    if i % 2:
        desc_xml = f"<description><![CDATA[{description}]]></description>"
    else:
        desc_xml = f"<description>{escape(description)}</description>"
    if i % 4 == 1:
        guid = f'<guid isPermaLink="true">{escape(link)}</guid>'
    else:
        guid = f'<guid isPermaLink="false">wire-{i}-{k}-{_mix(i, k) % 1_000_000:06d}</guid>'
    cats = "".join(f"<category>{c}</category>" for c in rng.sample(CATEGORIES, 1 + (k % 3)))
    return (
        "<item>"
        f"<title>{escape(title)}</title>"
        f"<link>{escape(link)}</link>"
        f"{guid}"
        f"<pubDate>{formatdate(published, usegmt=True)}</pubDate>"
        f"<dc:creator>{rng.choice(AUTHORS)}</dc:creator>"
        f"{cats}"
        f"{desc_xml}"
        f'<media:content url="https://img.example.com/{i}/{k}.jpg" medium="image" '
        'width="1200" height="675" type="image/jpeg"/>'
        "</item>\n"
    )


def render_feed(i: int, total_items: int, start: float, last_build: float) -> bytes:
    """Feed ``i`` showing its newest 50 of ``total_items`` items, as UTF-8 bytes."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>'
        f"<title>Trade Wire {i}: {SECTIONS[i % len(SECTIONS)].title()}</title>"
        f"<link>https://news{i % 211}.example.com/{SECTIONS[i % len(SECTIONS)]}</link>"
        f"<description>Business and trade news, feed {i}</description>"
        "<language>en-us</language>"
        f"<lastBuildDate>{formatdate(last_build, usegmt=True)}</lastBuildDate>\n"
    )
    items = [
        _item_xml(i, k, start) for k in range(total_items - 1, total_items - 1 - ITEMS_PER_FEED, -1)
    ]
    return (head + "".join(items) + "</channel></rss>\n").encode("utf-8")


# ---------------------------------------------------------------------------------------
# The server (runs in the farm's own process)


class Farm:
    """The feeds' state: version, item count, validators and the cache of gzipped bodies."""

    def __init__(self, feeds: int, start: float) -> None:
        self.n = feeds
        self.start = start
        self.version = [0] * feeds
        self.total = [ITEMS_PER_FEED + 0] * feeds
        self.modified = [start] * feeds
        self.cache: dict[int, tuple[int, bytes]] = {}
        self.served = {"200": 0, "304": 0, "404": 0}

    def etag(self, i: int) -> str:
        return f'"w{i}-{self.version[i]}"'

    def last_modified(self, i: int) -> str:
        return formatdate(self.modified[i], usegmt=True)

    def gzipped(self, i: int) -> bytes:
        hit = self.cache.get(i)
        if hit is not None and hit[0] == self.version[i]:
            return hit[1]
        body = render_feed(i, self.total[i], self.start, self.modified[i])
        gz = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        self.cache[i] = (self.version[i], gz)
        return gz

    def bump(self, fraction: float, seed: int) -> dict[str, int]:
        count = max(0, min(self.n, round(self.n * fraction)))
        chosen = random.Random(seed).sample(range(self.n), count)
        now = time.time()
        added = 0
        for i in chosen:
            self.version[i] += 1
            n = new_items_for(i, self.version[i])
            self.total[i] += n
            added += n
            # Distinct per version even within one second (validators must change).
            self.modified[i] = max(now, self.modified[i] + 1)
            self.gzipped(i)  # render now, so measured cycles only serve cached bytes
        return {"bumped": count, "new_items": added}


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 400: "Bad Request"}


def _response(status: int, headers: list[tuple[str, str]], body: bytes, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close" if close else "Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        transport = self.transport
        assert transport is not None
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body_len = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + body_len:
                return  # wait for the request body (we ignore it, but must skip it)
            self.buffer = self.buffer[end + 4 + body_len :]
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                transport.write(_response(400, [], b"", True))
                transport.close()
                return
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            transport.write(self.handle(method, target, headers, close))
            if close:
                transport.close()
                return

    def handle(self, method: str, target: str, headers: dict[str, str], close: bool) -> bytes:
        farm = self.farm
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/feed/") and path.endswith(".xml") and method in ("GET", "HEAD"):
            try:
                i = int(path[6:-4])
            except ValueError:
                i = -1
            if not 0 <= i < farm.n:
                farm.served["404"] += 1
                return _response(404, [("Content-Type", "text/plain")], b"no such feed", close)
            etag, last_modified = farm.etag(i), farm.last_modified(i)
            validators = [("ETag", etag), ("Last-Modified", last_modified)]
            inm = headers.get("if-none-match")
            ims = headers.get("if-modified-since")
            if (inm is not None and etag in [t.strip() for t in inm.split(",")]) or (
                inm is None and ims is not None and ims == last_modified
            ):
                farm.served["304"] += 1
                return _response(304, validators, b"", close)
            farm.served["200"] += 1
            body = farm.gzipped(i)
            hdrs = [("Content-Type", "application/rss+xml; charset=utf-8"), *validators]
            if "gzip" in headers.get("accept-encoding", ""):
                hdrs.append(("Content-Encoding", "gzip"))
            else:
                body = gzip.decompress(body)
            return _response(200, hdrs, b"" if method == "HEAD" else body, close)
        if path == "/bump" and method == "POST":
            q = parse_qs(parts.query)
            out = farm.bump(float(q.get("fraction", ["0.1"])[0]), int(q.get("seed", ["0"])[0]))
            return _response(
                200, [("Content-Type", "application/json")], json.dumps(out).encode(), close
            )
        if path == "/stats":
            body = json.dumps(farm.served).encode()
            return _response(200, [("Content-Type", "application/json")], body, close)
        return _response(404, [("Content-Type", "text/plain")], b"not found", close)


def _render_range(first: int, stop: int, start: float) -> list[bytes]:
    return [
        gzip.compress(render_feed(i, ITEMS_PER_FEED, start, start), GZIP_LEVEL, mtime=0)
        for i in range(first, stop)
    ]


def prewarm(farm: Farm, workers: int) -> None:
    """Render every feed's first version on all cores (rendering is ~3 ms of Python each)."""
    from concurrent.futures import ProcessPoolExecutor

    step = 250
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            (first, pool.submit(_render_range, first, min(first + step, farm.n), farm.start))
            for first in range(0, farm.n, step)
        ]
        for first, fut in futures:
            for offset, gz in enumerate(fut.result()):
                farm.cache[first + offset] = (0, gz)


async def serve(feeds: int, ports: int, start: float, *, warm: bool = True) -> None:
    """Serve until SIGTERM/SIGINT; print the bound ports as one JSON line when ready."""
    farm = Farm(feeds, start)
    if warm and feeds > 500:
        prewarm(farm, os.cpu_count() or 1)
    loop = asyncio.get_running_loop()
    servers = []
    for _ in range(ports):
        servers.append(
            await loop.create_server(lambda: _Connection(farm), "127.0.0.1", 0, backlog=1024)
        )
    bound = [s.sockets[0].getsockname()[1] for s in servers]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"ports": bound, "start": start}), flush=True)
    await stop.wait()
    for s in servers:
        s.close()


# ---------------------------------------------------------------------------------------
# The client side: start the farm process, address its feeds, bump them


class FeedFarm:
    """Runs the farm in a child process (``with FeedFarm(feeds=N) as farm: ...``)."""

    def __init__(self, feeds: int, *, ports: int = 8, start: float | None = None) -> None:
        self.feeds = feeds
        self.port_count = ports
        self.start = time.time() if start is None else start
        self.ports: list[int] = []
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FeedFarm:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--feeds",
                str(self.feeds),
                "--ports",
                str(self.port_count),
                "--start",
                repr(self.start),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the feed farm did not start")
        self.ports = json.loads(line)["ports"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}/feed/{i}.xml"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.feeds)]

    def _call(self, method: str, path: str) -> dict[str, int]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports[0]}{path}", method=method)
        with urllib.request.urlopen(req, timeout=120) as resp:
            result: dict[str, int] = json.loads(resp.read())
            return result

    def bump(self, fraction: float, *, seed: int) -> dict[str, int]:
        """Give that fraction of feeds 1–3 new items each (blocking; the farm renders them)."""
        return self._call("POST", f"/bump?fraction={fraction}&seed={seed}")

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/stats")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--feeds", type=int, default=10_000)
    p.add_argument("--ports", type=int, default=8)
    p.add_argument("--start", type=float, default=None, help="Unix time items are dated from")
    p.add_argument("--no-prewarm", action="store_true", help="render feeds on first request")
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(args.feeds, args.ports, args.start or time.time(), warm=not args.no_prewarm)
        )


if __name__ == "__main__":
    main()
