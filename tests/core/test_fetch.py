from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache

import brotli
import pytest
from aiohttp import web

from bot.core.errors import FetchError
from bot.core.fetch import (
    Fetcher,
    FetchLimits,
    FetchRequest,
    parse_max_age,
    parse_retry_after,
    size_words,
)
from tests.feedserver import FeedServer, StaticResolver, rss

UA = "Wirewatch/0.1 (+https://example.test/wirewatch)"
FEED = rss(
    [
        {"title": "Storm hits coast", "link": "https://news.test/1", "guid": "n1"},
        {"title": "Markets rally", "link": "https://news.test/2", "guid": "n2"},
    ]
)
BODY = FEED.encode()
MB = 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fetcher(**limits: float) -> Fetcher:
    return Fetcher(user_agent=UA, allow_private=True, limits=FetchLimits(**limits))  # type: ignore[arg-type]


def _streaming(
    chunks: Callable[[], object], *, headers: dict[str, str] | None = None, pause: float = 0.0
) -> Handler:
    """A handler that streams ``chunks()`` (an iterable of bytes) until the client goes away."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers=headers or {})
        response.content_type = "application/rss+xml"
        await response.prepare(request)
        try:
            for chunk in chunks():  # type: ignore[attr-defined]
                await response.write(chunk)
                if pause:
                    await asyncio.sleep(pause)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up on purpose
        return response

    return handler


@cache
def _gzip_bomb_parts() -> tuple[bytes, bytes]:
    """One gzip stream of 1 GB of zeros as (header+first MB, each further MB): ~1 KB each.

    After the first megabyte the compressor's window is all zeros, so every further
    megabyte compresses to the same bytes: the bomb is generated lazily, never held.
    """
    zeros = bytes(MB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    middle = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return head, middle


# --- conditional GET and not-modified ------------------------------------------------------


async def test_conditional_get_round_trip_returns_304_as_not_modified() -> None:
    """200 with validators, then a 304 for the same validators: no body, validators kept."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED)
        first = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert first.status == 200
        assert not first.not_modified
        assert first.body == BODY
        assert first.etag and first.last_modified

        second = await fetcher.fetch(
            FetchRequest(
                server.url("/feed"),
                etag=first.etag,
                last_modified=first.last_modified,
                previous_body_hash=first.body_hash,
            )
        )
        assert second.status == 304
        assert second.not_modified
        assert second.body is None
        assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
        assert second.body_hash == first.body_hash
        sent = server.last_headers("/feed")
        assert sent["If-None-Match"] == first.etag
        assert sent["If-Modified-Since"] == first.last_modified


async def test_first_fetch_sends_no_conditional_headers() -> None:
    """Without stored validators nothing conditional goes out; UA and encodings do."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED)
        await fetcher.fetch(FetchRequest(server.url("/feed")))
        sent = server.last_headers("/feed")
        assert "If-None-Match" not in sent
        assert "If-Modified-Since" not in sent
        assert sent["User-Agent"] == UA
        assert sent["Accept-Encoding"] == "gzip, deflate, br"
        assert "application/rss+xml" in sent["Accept"]


async def test_last_modified_alone_gets_a_304() -> None:
    """A server with only Last-Modified answers If-Modified-Since with 304."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED, etag=False)
        first = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert first.etag is None
        second = await fetcher.fetch(
            FetchRequest(server.url("/feed"), last_modified=first.last_modified)
        )
        assert second.not_modified and second.status == 304


async def test_changed_feed_is_fetched_again_despite_old_validators() -> None:
    """New content means a new ETag: the old one gets a 200 with the new body."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED)
        first = await fetcher.fetch(FetchRequest(server.url("/feed")))
        server.set_feed("/feed", FEED.replace("Markets rally", "Markets slump"))
        second = await fetcher.fetch(
            FetchRequest(server.url("/feed"), etag=first.etag, previous_body_hash=first.body_hash)
        )
        assert second.status == 200 and not second.not_modified
        assert second.body is not None and b"Markets slump" in second.body
        assert second.etag != first.etag


async def test_same_body_without_validators_is_not_modified_by_hash() -> None:
    """A server with no ETag/Last-Modified resends the same bytes: same hash, nothing to parse."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED, etag=False, last_modified=False)
        first = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert first.etag is None and first.last_modified is None
        second = await fetcher.fetch(
            FetchRequest(server.url("/feed"), previous_body_hash=first.body_hash)
        )
        assert second.status == 200
        assert second.not_modified
        assert second.body is None
        assert second.body_hash == first.body_hash

        server.set_feed("/feed", FEED + "\n", etag=False, last_modified=False)
        third = await fetcher.fetch(
            FetchRequest(server.url("/feed"), previous_body_hash=first.body_hash)
        )
        assert not third.not_modified and third.body == BODY + b"\n"


async def test_cache_control_max_age_and_content_type_are_reported() -> None:
    """max-age and Content-Type come back for the scheduler and the parser."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed(
            "/feed",
            FEED,
            content_type="application/atom+xml; charset=utf-8",
            headers={"Cache-Control": "public, max-age=600"},
        )
        result = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert result.max_age == 600
        assert result.content_type == "application/atom+xml; charset=utf-8"
        assert result.url == result.final_url == server.url("/feed")
        assert 0 <= result.elapsed < 1


# --- compression ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_bodies_are_decompressed(encoding: str) -> None:
    """gzip, zlib-deflate and brotli bodies come back as the original bytes."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", FEED, content_encoding=encoding)
        result = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert result.body == BODY


async def test_raw_deflate_body_is_decompressed() -> None:
    """Some servers send 'deflate' without the zlib wrapper; it still decodes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = compressor.compress(BODY) + compressor.flush()
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler(
            "/feed", _streaming(lambda: [raw], headers={"Content-Encoding": "deflate"})
        )
        result = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert result.body == BODY


async def test_multi_member_gzip_body_is_fully_decompressed() -> None:
    """Concatenated gzip members (allowed by RFC 1952) decode to the whole body."""
    half = len(BODY) // 2
    parts = [gzip.compress(BODY[:half]), gzip.compress(BODY[half:])]
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/feed", _streaming(lambda: parts, headers={"Content-Encoding": "gzip"}))
        result = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert result.body == BODY


async def test_body_hash_is_of_the_decompressed_body() -> None:
    """The same feed gzipped or not has the same hash (publishers toggle compression)."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/plain", FEED)
        server.set_feed("/gz", FEED, gzip=True)
        plain = await fetcher.fetch(FetchRequest(server.url("/plain")))
        gz = await fetcher.fetch(FetchRequest(server.url("/gz")))
        assert plain.body_hash == gz.body_hash


async def test_corrupt_gzip_body_is_a_fetch_error() -> None:
    """Garbage labelled gzip fails with a plain reason, not a zlib traceback."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler(
            "/feed", _streaming(lambda: [b"not gzip at all"], headers={"Content-Encoding": "gzip"})
        )
        with pytest.raises(FetchError, match="corrupt gzip body"):
            await fetcher.fetch(FetchRequest(server.url("/feed")))


async def test_unknown_content_encoding_is_a_fetch_error() -> None:
    """An encoding we did not ask for is refused by name."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler(
            "/feed", _streaming(lambda: [BODY], headers={"Content-Encoding": "zstd"})
        )
        with pytest.raises(FetchError, match="unsupported Content-Encoding: zstd"):
            await fetcher.fetch(FetchRequest(server.url("/feed")))


# --- size caps --------------------------------------------------------------------------


async def test_gzip_bomb_is_refused_quickly_without_blowing_memory() -> None:
    """1 GB of zeros gzipped (~1 MB on the wire) stops at the 10 MB cap, fast and small."""
    head, middle = _gzip_bomb_parts()

    def bomb() -> object:
        yield head
        for _ in range(1023):
            yield middle

    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/bomb", _streaming(bomb, headers={"Content-Encoding": "gzip"}))
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(FetchRequest(server.url("/bomb")))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert caught.value.reason == "too large: over 10 MB"
        assert caught.value.status == 200
        assert time.monotonic() - started < 1.0
        assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"


async def test_brotli_bomb_is_refused() -> None:
    """64 MB of zeros in 12 KB of brotli stops at the cap."""
    bomb = brotli.compress(bytes(64 * MB), quality=1)
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/bomb", _streaming(lambda: [bomb], headers={"Content-Encoding": "br"}))
        with pytest.raises(FetchError, match="too large: over 10 MB"):
            await fetcher.fetch(FetchRequest(server.url("/bomb")))


async def test_content_length_over_cap_is_refused_before_reading() -> None:
    """A declared 50 MB body is refused at the headers, without waiting for the bytes."""

    def slow_chunks() -> object:
        for _ in range(300):
            yield bytes(1024)

    async with FeedServer() as server, _fetcher() as fetcher:
        handler = _streaming(slow_chunks, headers={"Content-Length": str(50 * MB)}, pause=0.01)
        server.set_handler("/huge", handler)
        started = time.monotonic()
        with pytest.raises(FetchError, match="too large: over 10 MB"):
            await fetcher.fetch(FetchRequest(server.url("/huge")))
        assert time.monotonic() - started < 1.0  # the full body would take 3 s


async def test_streamed_body_over_cap_without_length_is_refused() -> None:
    """A chunked body with no Content-Length is counted as it arrives."""
    async with FeedServer() as server, _fetcher(max_bytes=64 * 1024) as fetcher:
        server.set_handler("/big", _streaming(lambda: [bytes(16 * 1024)] * 8))
        with pytest.raises(FetchError, match="too large: over 64 KB"):
            await fetcher.fetch(FetchRequest(server.url("/big")))


async def test_body_exactly_at_cap_is_accepted() -> None:
    """The cap is inclusive: max_bytes bytes are fine, one more is not."""
    async with FeedServer() as server, _fetcher(max_bytes=4096) as fetcher:
        server.set_feed("/exact", bytes(4096), gzip=True)
        server.set_feed("/over", bytes(4097), gzip=True)
        result = await fetcher.fetch(FetchRequest(server.url("/exact")))
        assert result.body is not None and len(result.body) == 4096
        with pytest.raises(FetchError, match="too large: over 4 KB"):
            await fetcher.fetch(FetchRequest(server.url("/over")))


# --- time limits --------------------------------------------------------------------------


async def test_endless_trickle_hits_the_total_deadline() -> None:
    """A server sending a byte every 20 ms forever is cut off at the deadline."""

    def forever() -> object:
        yield b"<rss>"
        while True:
            yield b" "

    async with FeedServer() as server, _fetcher(total_deadline=0.3, read_timeout=5) as fetcher:
        server.set_handler("/trickle", _streaming(forever, pause=0.02))
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/trickle")))
        assert caught.value.reason == "timed out after 0.3 s"
        assert time.monotonic() - started < 1.0


async def test_silent_server_hits_the_read_timeout() -> None:
    """Headers then silence: the read timeout fires before the (longer) deadline."""

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"<rss>")
        await asyncio.sleep(1)
        return response

    async with FeedServer() as server, _fetcher(read_timeout=0.2, total_deadline=5) as fetcher:
        server.set_handler("/stall", stall)
        with pytest.raises(FetchError, match=r"127\.0\.0\.1 stopped sending data"):
            await fetcher.fetch(FetchRequest(server.url("/stall")))


# --- redirects ------------------------------------------------------------------------


def _chain(server: FeedServer, length: int) -> None:
    """/r/0 -> /r/1 -> ... -> /r/<length>, which serves the feed."""
    for hop in range(length):

        async def redirect(request: web.Request, hop: int = hop) -> web.StreamResponse:
            raise web.HTTPFound(f"/r/{hop + 1}")  # relative Location, as many servers send

        server.set_handler(f"/r/{hop}", redirect)
    server.set_feed(f"/r/{length}", FEED)


async def test_redirects_are_followed_up_to_the_limit() -> None:
    """Three redirects with max_redirects=3 arrive; final_url says where."""
    async with FeedServer() as server, _fetcher(max_redirects=3) as fetcher:
        _chain(server, 3)
        result = await fetcher.fetch(FetchRequest(server.url("/r/0")))
        assert result.status == 200
        assert result.body == BODY
        assert result.url == server.url("/r/0")
        assert result.final_url == server.url("/r/3")


@pytest.mark.parametrize(
    ("statuses", "moved"),
    [
        ((301,), True),
        ((308, 301), True),
        ((302,), False),
        ((301, 307), False),  # one temporary hop: the feed has not moved
        ((), False),
    ],
)
async def test_a_chain_of_permanent_redirects_says_where_the_feed_moved(
    statuses: tuple[int, ...], moved: bool
) -> None:
    """Only when every hop is a 301 or 308 has the feed moved (RFC 9110 15.4: clients
    may update their links); the fetch still reaches the body whatever the chain."""
    async with FeedServer() as server, _fetcher() as fetcher:
        for hop, status in enumerate(statuses):

            async def redirect(
                request: web.Request, hop: int = hop, status: int = status
            ) -> web.StreamResponse:
                return web.Response(status=status, headers={"Location": f"/m/{hop + 1}"})

            server.set_handler(f"/m/{hop}", redirect)
        server.set_feed(f"/m/{len(statuses)}", FEED)
        result = await fetcher.fetch(FetchRequest(server.url("/m/0")))
    assert result.body == BODY
    assert result.moved_to == (server.url(f"/m/{len(statuses)}") if moved else None)


async def test_too_many_redirects_is_a_fetch_error() -> None:
    """One hop more than max_redirects fails, and the last target is never requested."""
    async with FeedServer() as server, _fetcher(max_redirects=3) as fetcher:
        _chain(server, 4)
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/r/0")))
        assert caught.value.reason == "too many redirects (more than 3)"
        assert server.hits("/r/4") == 0


async def test_redirect_loop_ends_as_too_many_redirects() -> None:
    """A -> B -> A ... stops at the limit instead of spinning."""

    async def to_b(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/b")

    async def to_a(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("/a")

    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/a", to_b)
        server.set_handler("/b", to_a)
        with pytest.raises(FetchError, match="too many redirects"):
            await fetcher.fetch(FetchRequest(server.url("/a")))


async def test_redirect_without_location_is_a_fetch_error() -> None:
    """A 302 with no Location header cannot be followed."""

    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302)

    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/feed", broken)
        with pytest.raises(FetchError, match="HTTP 302 Found without a Location"):
            await fetcher.fetch(FetchRequest(server.url("/feed")))


# --- HTTP errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, "HTTP 404 Not Found"),
        (410, "HTTP 410 Gone"),
        (403, "HTTP 403 Forbidden"),
        (500, "HTTP 500 Internal Server Error"),
        (502, "HTTP 502 Bad Gateway"),
    ],
)
async def test_http_error_statuses_have_plain_reasons(status: int, reason: str) -> None:
    """4xx/5xx become FetchError with the status and its standard phrase."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", "oops", status=status)
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert caught.value.reason == reason
        assert caught.value.status == status
        assert caught.value.retry_after is None


async def test_unknown_path_is_404() -> None:
    """The feed server answers unknown paths with 404, which the fetcher reports."""
    async with FeedServer() as server, _fetcher() as fetcher:
        with pytest.raises(FetchError, match="HTTP 404 Not Found"):
            await fetcher.fetch(FetchRequest(server.url("/missing")))


async def test_429_retry_after_seconds_is_parsed() -> None:
    """Too Many Requests with Retry-After: 120 tells the scheduler to wait 120 s."""
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", "slow down", status=429, headers={"Retry-After": "120"})
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert caught.value.reason == "HTTP 429 Too Many Requests"
        assert caught.value.status == 429
        assert caught.value.retry_after == 120


async def test_503_retry_after_http_date_is_parsed() -> None:
    """Retry-After as an HTTP date becomes seconds from now."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_feed("/feed", "maintenance", status=503, headers={"Retry-After": when})
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert caught.value.reason == "HTTP 503 Service Unavailable"
        assert caught.value.retry_after is not None
        assert 85 <= caught.value.retry_after <= 91


# --- network failures --------------------------------------------------------------------


async def test_connection_refused_has_a_clear_reason() -> None:
    """Nothing listening on the port: 'connection refused by host:port'."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _fetcher() as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(FetchRequest(f"http://127.0.0.1:{port}/feed"))
        assert caught.value.reason == f"connection refused by 127.0.0.1:{port}"
        assert caught.value.status is None


async def test_unknown_host_is_a_dns_failure() -> None:
    """A name that does not resolve says so."""
    resolver = StaticResolver({})
    async with Fetcher(user_agent=UA, resolver=resolver) as fetcher:
        with pytest.raises(FetchError, match=r"DNS lookup failed for nowhere\.test"):
            await fetcher.fetch(FetchRequest("http://nowhere.test/feed"))


async def test_fetcher_outside_context_manager_is_a_programming_error() -> None:
    """Using the fetcher without 'async with' fails loudly, not with a half-made session."""
    fetcher = Fetcher(user_agent=UA)
    with pytest.raises(RuntimeError):
        await fetcher.fetch(FetchRequest("https://example.test/"))


# --- the shared pool ----------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    """Sequential fetches from one host ride one TCP connection."""
    peers: list[object] = []

    async def remember_peer(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response(body=BODY, content_type="application/rss+xml")

    async with FeedServer() as server, _fetcher() as fetcher:
        server.set_handler("/feed", remember_peer)
        for _ in range(5):
            await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert len(peers) == 5
        assert len(set(peers)) == 1


async def test_per_host_limit_bounds_parallel_requests() -> None:
    """16 fetches at once to one host never have more than per_host requests in flight."""
    in_flight = 0
    most = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.03)
        in_flight -= 1
        return web.Response(body=BODY, content_type="application/rss+xml")

    async with FeedServer() as server, _fetcher(per_host=4) as fetcher:
        server.set_handler("/feed", slow)
        results = await asyncio.gather(
            *(fetcher.fetch(FetchRequest(server.url("/feed"))) for _ in range(16))
        )
        assert all(r.status == 200 for r in results)
        assert 2 <= most <= 4
        # Nothing kept for a host once its fetches are done (a bot meets thousands).
        assert len(fetcher.host_turns) == 0


async def test_a_hosts_turns_are_given_back_when_its_fetches_end_however_they_end() -> None:
    """Fetches to many hosts (here: ports) that succeed, fail or are cancelled while
    waiting for their host's turn leave no per-host state behind."""
    async with FeedServer() as server, _fetcher(per_host=1) as fetcher:
        blocked = asyncio.Event()

        async def hang(request: web.Request) -> web.StreamResponse:
            await blocked.wait()
            return web.Response(body=BODY, content_type="application/rss+xml")

        async def feed(request: web.Request) -> web.StreamResponse:
            return web.Response(body=BODY, content_type="application/rss+xml")

        server.set_handler("/hang", hang)
        server.set_handler("/feed", feed)
        ok = await fetcher.fetch(FetchRequest(server.url("/feed")))
        assert ok.status == 200
        with pytest.raises(FetchError):
            await fetcher.fetch(FetchRequest("http://127.0.0.1:9/feed"))  # refused
        holder = asyncio.create_task(fetcher.fetch(FetchRequest(server.url("/hang"))))
        waiter = asyncio.create_task(fetcher.fetch(FetchRequest(server.url("/hang"))))
        await asyncio.sleep(0.05)
        assert len(fetcher.host_turns) == 1  # one host: one held, one waiting
        waiter.cancel()
        holder.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        assert len(fetcher.host_turns) == 0
        blocked.set()


# --- header parsing -------------------------------------------------------------------


NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sat, 01 Mar 2025 12:02:00 GMT", 120.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Delta-seconds or HTTP date; past dates mean 0; nonsense means no hint."""
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300),
        ("public, MAX-AGE=600, must-revalidate", 600),
        ('max-age="60"', 60),
        ("no-cache", None),
        ("max-age=soon", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: int | None) -> None:
    """The max-age directive is found case-insensitively among others."""
    assert parse_max_age(value) == expected


def test_size_words() -> None:
    """Sizes in reasons read like people write them."""
    assert size_words(10 * MB) == "10 MB"
    assert size_words(64 * 1024) == "64 KB"
    assert size_words(1500) == "1500 bytes"
    assert size_words(MB + MB // 2) == "1.5 MB"
