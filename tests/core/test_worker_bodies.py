"""Bodies bound for a parsing worker travel as the server sent them.

In a big cycle the fetcher hands a 200's body over still compressed, and the worker
decodes it, hashes it and parses it: the event loop's process neither inflates nor hashes.
These tests check that this changes nothing a user could see: the same alerts as decoding
in the loop, every coding the fetcher accepts, the same reasons for a bomb or a corrupt
body, and a body resent unchanged without validators still counts as unchanged.
"""

from __future__ import annotations

import gzip
import pickle
import zlib
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import brotli
import pytest

from bot.app import Core
from bot.core.bodies import decode_body
from bot.core.errors import FetchError
from bot.core.fetch import FetchRequest, FetchResult
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

WATCHES = [{"query": '"rare earth"', "name": "rare earth"}]
BODY = rss([{"title": "Rare earth curbs widen", "link": "https://a.test/1", "guid": "a1"}])
# Unrelated events, so that each is its own story and alerts on its own.
NEWS = {
    "gzip": "Japan halts rare earth magnet shipments",
    "deflate": "Lynas opens rare earth refinery in Texas",
    "br": "Rare earth prices hit a record in Shanghai",
    "identity": "EU unveils rare earth stockpile plan",
}
CODINGS = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "identity": lambda b: b,
}


@pytest.mark.parametrize("coding", CODINGS)
def test_decode_body_undoes_every_coding_the_fetcher_accepts(coding: str) -> None:
    data = BODY.encode()
    body, digest = decode_body(CODINGS[coding](data), coding, 1_000_000)
    assert body == data
    assert len(digest) == 40


def test_raw_deflate_and_multi_member_gzip_decode_as_the_fetcher_decodes() -> None:
    data = BODY.encode()
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_body(raw.compress(data) + raw.flush(), "deflate", 10**6)[0] == data
    two = gzip.compress(data[:50], mtime=0) + gzip.compress(data[50:], mtime=0)
    assert decode_body(two, "gzip", 10**6)[0] == data


def test_decode_body_refuses_a_bomb_a_corrupt_body_and_an_unknown_coding() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(FetchError, match="too large: over 1 MB"):
        decode_body(bomb, "gzip", 1024 * 1024)
    assert len(decode_body(b"x" * 1024, "identity", 1024)[0]) == 1024  # at the cap is fine
    with pytest.raises(FetchError, match="corrupt gzip body"):
        decode_body(b"\x1f\x8bnot really gzip", "gzip", 10**6)
    with pytest.raises(FetchError, match="unsupported Content-Encoding: zstd"):
        decode_body(b"...", "zstd", 10**6)


def test_a_fetch_error_keeps_its_status_across_processes() -> None:
    error = pickle.loads(pickle.dumps(FetchError("too large", status=200, retry_after=5.0)))
    assert (error.reason, error.status, error.retry_after) == ("too large", 200, 5.0)


def items(prefix: str, clock: FakeClock, count: int = 3, minutes: int = 60) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Rare earth quota report {prefix}{n}",
            "link": f"https://{prefix}.test/{n}",
            "guid": f"{prefix}-{n}",
            "description": f"<p>Item {n} on <b>rare earth</b> quotas.</p>",
            "pubDate": clock.now() - timedelta(minutes=minutes + n),
        }
        for n in range(count)
    ]


def sent(coding: str) -> dict[str, Any]:
    """A plain body has no Content-Encoding header at all."""
    return {} if coding == "identity" else {"content_encoding": coding}


def record_decode(core: Core) -> list[bool]:
    """The ``decode`` flag of every fetch the poller asks for."""
    seen: list[bool] = []
    inner = core.poller.fetcher.fetch

    async def fetch(req: FetchRequest) -> FetchResult:
        seen.append(req.decode)
        return await inner(req)

    core.poller.fetcher = SimpleNamespace(fetch=fetch)  # type: ignore[assignment]
    return seen


def in_workers(core: Core) -> None:
    core.poller.pool_min_feeds = 0  # a test's few feeds, as a big install's


async def test_encoded_bodies_decoded_in_a_worker_alert_as_in_the_loop(tmp_path: Path) -> None:
    clock = FakeClock()

    async def run(workers: int, home: Path) -> list[str]:
        async with FeedServer() as server:
            for coding in CODINGS:
                server.set_feed(f"/{coding}.rss", rss(items(coding, clock)), **sent(coding))
            settings = make_settings(
                home,
                feeds=[server.url(f"/{c}.rss") for c in CODINGS],
                watches=WATCHES,
                poll={"workers": workers},
            )
            async with core_for(settings, clock=clock) as core:
                in_workers(core)
                decoded = record_decode(core)
                first = await core.poll(due_only=False)
                assert first.failed == 0 and first.new_articles == 3 * len(CODINGS)
                # Left encoded exactly when a worker process takes the body.
                assert set(decoded) == {workers == 0}
                for coding in CODINGS:
                    news = {**items(f"new{coding}", clock, 1, 1)[0], "title": NEWS[coding]}
                    fresh = [news, *items(coding, clock)]
                    server.set_feed(f"/{coding}.rss", rss(fresh), **sent(coding))
                second = await core.poll(due_only=False)
                alerts = await core.store.alerts_by_ids(second.alert_ids)
                return sorted(a.title for a in alerts)

    in_loop = await run(0, tmp_path / "loop")
    assert in_loop == sorted(NEWS.values())
    assert await run(1, tmp_path / "workers") == in_loop


async def test_a_bomb_or_corrupt_body_fails_its_feed_with_the_fetchers_reason(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with FeedServer() as server:
        server.set_feed("/ok.rss", rss(items("ok", clock)), gzip=True)
        server.set_feed("/bomb.rss", b"<rss>" + b" " * 3_000_000 + b"</rss>", gzip=True)
        server.set_handler("/corrupt.rss", _corrupt_gzip)
        settings = make_settings(
            tmp_path,
            feeds=[server.url(p) for p in ("/ok.rss", "/bomb.rss", "/corrupt.rss")],
            watches=WATCHES,
            poll={"workers": 1},
            fetch={"allow_private_addresses": True, "max_bytes": 1024 * 1024},
        )
        async with core_for(settings, clock=clock) as core:
            in_workers(core)
            report = await core.poll(due_only=False)
            assert report.errors == {
                server.url("/bomb.rss"): "too large: over 1 MB",
                server.url("/corrupt.rss"): "corrupt gzip body",
            }
            assert report.new_articles == 3  # the good feed is untouched


async def _corrupt_gzip(request: Any) -> Any:
    from aiohttp import web

    return web.Response(
        body=b"\x1f\x8b\x08\x00garbage that is not deflate",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
    )


async def test_the_same_bytes_without_validators_are_unchanged_once_decoded(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with FeedServer() as server:
        body = rss(items("same", clock))
        server.set_feed("/same.rss", body, gzip=True, etag=False, last_modified=False)
        settings = make_settings(
            tmp_path, feeds=[server.url("/same.rss")], watches=WATCHES, poll={"workers": 1}
        )
        async with core_for(settings, clock=clock) as core:
            in_workers(core)
            first = await core.poll(due_only=False)
            assert first.fetched == 1 and first.new_articles == 3
            clock.advance(minutes=10)
            again = await core.poll(due_only=False)
            assert (again.fetched, again.not_modified, again.failed) == (0, 1, 0)
            assert "If-None-Match" not in server.last_headers("/same.rss")
