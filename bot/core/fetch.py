"""Fetching feeds over HTTP: conditional, compressed, bounded, and through the SSRF guard.

One ``Fetcher`` owns one ``aiohttp.ClientSession`` (keep-alive pool, DNS cache) for the
whole process: a keep-alive request costs a third of a new TCP connection and a tenth of a
new TLS one (see shared/notes/performance.md), so the session is never per feed.

What a fetch promises:

* **304 is control flow.** Validators (ETag / Last-Modified) go out as If-None-Match /
  If-Modified-Since; a 304, or a 200 whose body hashes the same as last time, comes back as
  ``not_modified=True`` with no body, so the caller skips parsing.
* **Bounded.** The *decompressed* body is capped at ``max_bytes``: we decode gzip, deflate
  and brotli ourselves, incrementally, with an output limit on every step, so a 1 GB bomb
  costs at most ``max_bytes`` of memory. One deadline covers the whole fetch, redirects
  and a server that trickles a byte a second included.
* **Guarded.** Redirects are followed by hand so every hop's URL passes
  ``check_url_syntax``, and every connection's addresses pass ``GuardedResolver``. Each
  request names whose URL it is (``FetchRequest.allow_private``): ``None`` for the
  operator's feeds (``[fetch] allow_private_addresses`` applies), ``False`` for a URL from
  chat (only ``[fetch] chat_private_allowlist`` may open private addresses). Each policy
  has its own connection pool and DNS cache, so a connection or an address looked up for
  an operator's intranet feed is never reused for a chat user's URL.
* **Plain-words failures.** Everything ends as ``FetchError(reason, status=,
  retry_after=)`` (or ``BlockedAddressError``), never an aiohttp exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
import brotli
import yarl
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from bot.core.bodies import decoder_for, size_words
from bot.core.errors import BlockedAddressError, FetchError
from bot.core.netguard import AddressPolicy, GuardedResolver, chat_policy, check_url_syntax

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
ACCEPT_ENCODING = "gzip, deflate, br"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch and on the shared connection pool."""

    max_bytes: int = 10 * 1024 * 1024  # decompressed body
    max_redirects: int = 5
    connect_timeout: float = 10  # per TCP/TLS connect
    read_timeout: float = 30  # longest silence while reading
    total_deadline: float = 60  # whole fetch, all redirect hops, from getting a slot
    concurrency: int = 200  # fetches in flight at once
    per_host: int = 8  # connections per host (Google News serves hundreds of feeds)
    dns_cache_seconds: float = 10  # 0 disables the DNS cache


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    previous_body_hash: str | None = None
    # Whose URL this is. None: the operator's (config, CLI), under the operator's
    # allow_private_addresses. False: a chat user's, private addresses refused except the
    # chat allow-list. True: private addresses allowed for this request alone.
    allow_private: bool | None = None
    # False: a 200's body comes back as sent (``FetchResult.content_encoding`` says how),
    # neither decoded nor hashed, for a parsing worker to do both (``bodies.decode_body``).
    decode: bool = True


@dataclass(frozen=True)
class FetchResult:
    url: str  # the requested URL
    final_url: str  # after redirects
    status: int  # 200 or 304 (other statuses raise FetchError)
    # True for a 304, and for a 200 whose body hashes to ``previous_body_hash``.
    not_modified: bool
    body: bytes | None  # decompressed; None when not_modified
    body_hash: str | None  # sha1 hex of the decompressed body
    etag: str | None
    last_modified: str | None
    content_type: str | None
    max_age: int | None  # Cache-Control max-age, seconds
    elapsed: float  # seconds
    # Set (to "identity" when none) only for a body left as sent (``FetchRequest.decode``):
    # then ``body_hash`` is None and an unchanged body is found out only once decoded.
    content_encoding: str | None = None
    # The URL reached when every redirect on the way was permanent (301, 308); None
    # without redirects or when one was temporary.
    moved_to: str | None = None


def feed_address(url: str) -> str:
    """A feed URL as one address: scheme and host lower-case, no default port, no dot
    segments or fragment, unreserved characters unescaped (``HTTP://Site/a/../b.xml#x``
    is ``http://site/b.xml``), so one feed written two ways is not added twice. A URL that
    does not parse is returned as given, to be refused with its reason."""
    try:
        return str(yarl.URL(url.strip()).with_fragment(None))
    except (ValueError, TypeError):
        return url


def status_words(status: int, reason: str | None = None) -> str:
    """``"HTTP 404 Not Found"``; the standard phrase wins over whatever the server sent."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = reason or ""
    return f"HTTP {status} {phrase}".rstrip()


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> int | None:
    """The ``max-age`` directive of a Cache-Control header, in seconds."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            value = value.strip().strip('"')
            if value.isdigit():
                return int(value)
    return None


def _describe_client_error(exc: aiohttp.ClientError, url: str) -> str:
    """An aiohttp exception as short plain words for a feed's ``last_error``."""
    host = yarl.URL(url).host or url
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed for {host}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate problem for {host}: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS error with {host}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"connecting to {host} timed out"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return f"{host} stopped sending data"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return f"connection refused by {exc.host}:{exc.port}"
        return f"could not connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{host} closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"incomplete response from {host}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {url}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"bad HTTP response from {host}: {exc.message}"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"network error with {host}: {exc.strerror or exc}"
    return f"network error with {host}: {exc}"


class HostTurns:
    """``per_host`` turns for each host, kept only while a fetch holds or waits for one:
    a bot running for months meets every host its feeds ever redirected to, and a
    semaphore kept for each would never be given back."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._turns: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[None]:
        entry = self._turns.get(host)
        if entry is None:
            entry = self._turns[host] = (asyncio.Semaphore(self._per_host), [0])
        gate, users = entry
        users[0] += 1
        try:
            async with gate:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._turns[host]


class Fetcher:
    """Fetches feeds. Use as ``async with Fetcher(user_agent=...) as fetcher``.

    ``resolver`` is the inner DNS resolver (aiohttp's default when None); the SSRF guard
    always wraps it. ``allow_private`` lifts the guard for the operator's feeds (requests
    with ``allow_private=None``); ``chat_allowlist`` (IPs, CIDRs, hostnames) is all that
    requests with ``allow_private=False`` may reach beyond public addresses.
    ``allowed_networks`` count as public for every request (intranet feed servers, and
    the seam tests use to call 127.0.0.1 "public" while other addresses stay private).
    """

    def __init__(
        self,
        *,
        limits: FetchLimits = FetchLimits(),  # frozen, so one shared default is safe
        user_agent: str,
        allow_private: bool = False,
        resolver: AbstractResolver | None = None,
        allowed_networks: Iterable[str] = (),
        chat_allowlist: Iterable[str] = (),
    ) -> None:
        self.limits = limits
        self.user_agent = user_agent
        networks = tuple(allowed_networks)
        self.policy = AddressPolicy(allow_private=allow_private, allowed_networks=networks)
        self._policies: dict[bool | None, AddressPolicy] = {
            None: self.policy,
            False: chat_policy(chat_allowlist, public_networks=networks),
            True: AddressPolicy(allow_private=True),
        }
        self._inner_resolver = resolver
        self._sessions: dict[bool | None, aiohttp.ClientSession] = {}
        self._open = False
        self._slots = asyncio.Semaphore(limits.concurrency)
        # A host's turn is taken before a slot and before the deadline starts: waiting for
        # one of a busy host's connections (hundreds of Google News searches) is no
        # timeout, and holds no slot another host's feed could use.
        self.host_turns = HostTurns(limits.per_host)

    def _host_turn(self, url: str) -> AbstractAsyncContextManager[None]:
        # Per host and port, as the connector counts its connections.
        try:
            parts = urlsplit(url)
            host = f"{(parts.hostname or '').lower()}:{parts.port}"
        except ValueError:
            host = ""  # refused with its reason once fetched
        return self.host_turns.turn(host)

    async def __aenter__(self) -> Fetcher:
        self._open = True
        return self

    def _session_for(self, allow_private: bool | None) -> aiohttp.ClientSession:
        """The session of one address policy, created on first use."""
        session = self._sessions.get(allow_private)
        if session is not None:
            return session
        # An injected resolver is shared by every policy's session; its owner closes it.
        inner = self._inner_resolver or DefaultResolver()
        guarded = GuardedResolver(
            inner, self._policies[allow_private], owns_inner=self._inner_resolver is None
        )
        connector = aiohttp.TCPConnector(
            limit=self.limits.concurrency,
            limit_per_host=self.limits.per_host,
            resolver=guarded,
            use_dns_cache=self.limits.dns_cache_seconds > 0,
            ttl_dns_cache=int(self.limits.dns_cache_seconds) or None,
        )
        session = self._sessions[allow_private] = aiohttp.ClientSession(
            connector=connector,
            # total=None: our own deadline covers all hops; a pool-wide "connect" timeout
            # would also count time spent queueing for a free connection.
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.limits.connect_timeout,
                sock_read=self.limits.read_timeout,
            ),
            headers={
                "User-Agent": self.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            auto_decompress=False,  # we decompress ourselves, under the size cap
            # An HTTP(S)_PROXY from the environment would resolve names itself, past the guard.
            trust_env=False,
            # Feeds share one session: cookies set by one publisher must not follow others.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def fetch(self, req: FetchRequest) -> FetchResult:
        """Fetch one feed. Raises ``FetchError`` / ``BlockedAddressError`` with a plain reason."""
        if not self._open:
            raise RuntimeError("Fetcher used outside 'async with'")
        session = self._session_for(req.allow_private)
        policy = self._policies[req.allow_private]
        async with self._host_turn(req.url), self._slots:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.limits.total_deadline):
                    result = await self._fetch_following_redirects(session, policy, req, started)
            except TimeoutError as exc:
                raise FetchError(f"timed out after {self.limits.total_deadline:g} s") from exc
        log.debug(
            "fetched",
            extra={
                "feed": req.url,
                "status": result.status,
                "not_modified": result.not_modified,
                "elapsed": round(result.elapsed, 4),
            },
        )
        return result

    async def _fetch_following_redirects(
        self,
        session: aiohttp.ClientSession,
        policy: AddressPolicy,
        req: FetchRequest,
        started: float,
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if req.etag:
            headers["If-None-Match"] = req.etag
        if req.last_modified:
            headers["If-Modified-Since"] = req.last_modified
        url = req.url
        permanent: bool | None = None  # None: no redirect yet
        for _hop in range(self.limits.max_redirects + 1):
            check_url_syntax(url, policy=policy)
            try:
                async with session.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in REDIRECT_STATUSES:
                        permanent = permanent is not False and resp.status in (301, 308)
                        url = self._redirect_target(resp)
                        continue
                    result = await self._finish(req, resp, started)
                    return replace(result, moved_to=url) if permanent else result
            except FetchError:
                raise
            except aiohttp.ClientError as exc:
                raise FetchError(_describe_client_error(exc, url)) from exc
        raise FetchError(f"too many redirects (more than {self.limits.max_redirects})")

    @staticmethod
    def _redirect_target(resp: aiohttp.ClientResponse) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise FetchError(
                f"{status_words(resp.status, resp.reason)} without a Location", status=resp.status
            )
        try:
            return str(resp.url.join(yarl.URL(location)))
        except ValueError as exc:
            raise FetchError(f"bad redirect Location: {location[:200]}") from exc

    async def _finish(
        self, req: FetchRequest, resp: aiohttp.ClientResponse, started: float
    ) -> FetchResult:
        status = resp.status
        if status >= 300 and status != 304:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), now=datetime.now(UTC))
            raise FetchError(
                status_words(status, resp.reason), status=status, retry_after=retry_after
            )
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        max_age = parse_max_age(resp.headers.get("Cache-Control"))
        if status == 304:
            # A 304 may omit validators; the ones we sent are still the current ones.
            return FetchResult(
                url=req.url,
                final_url=str(resp.url),
                status=304,
                not_modified=True,
                body=None,
                body_hash=req.previous_body_hash,
                etag=etag or req.etag,
                last_modified=last_modified or req.last_modified,
                content_type=resp.headers.get("Content-Type"),
                max_age=max_age,
                elapsed=time.monotonic() - started,
            )
        coding: str | None = None
        if req.decode:
            body = await self._read_body(resp)
            body_hash: str | None = hashlib.sha1(body).hexdigest()
            # Servers without validators resend the same bytes; same hash: nothing to parse.
            unchanged = req.previous_body_hash is not None and body_hash == req.previous_body_hash
        else:
            coding = resp.headers.get("Content-Encoding") or "identity"
            decoder_for(coding)  # an unknown coding fails here, as when decoding
            body, body_hash, unchanged = await self._read_body(resp, decode=False), None, False
        return FetchResult(
            url=req.url,
            final_url=str(resp.url),
            status=status,
            not_modified=unchanged,
            body=None if unchanged else body,
            body_hash=body_hash,
            etag=etag,
            last_modified=last_modified,
            content_type=resp.headers.get("Content-Type"),
            max_age=max_age,
            elapsed=time.monotonic() - started,
            content_encoding=coding,
        )

    async def _read_body(self, resp: aiohttp.ClientResponse, *, decode: bool = True) -> bytes:
        """The body, decoded unless ``decode`` is False (then the cap bounds what was
        sent; the decoded size is checked where it is decoded)."""
        cap = self.limits.max_bytes
        too_large = f"too large: over {size_words(cap)}"
        if resp.content_length is not None and resp.content_length > cap:
            resp.close()
            raise FetchError(too_large, status=resp.status)
        decoder = decoder_for(resp.headers.get("Content-Encoding") if decode else None)
        out = bytearray()
        raw_total = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                raw_total += len(chunk)
                # One past the room left, so "exactly at the cap" and "over it" differ.
                decoded = decoder.feed(chunk, cap - len(out) + 1)
                if raw_total > cap or len(out) + len(decoded) > cap:
                    resp.close()  # do not drain a bomb or an endless stream
                    raise FetchError(too_large, status=resp.status)
                out += decoded
        except (zlib.error, brotli.error) as exc:
            coding = resp.headers.get("Content-Encoding", "").strip().lower()
            raise FetchError(f"corrupt {coding} body", status=resp.status) from exc
        return bytes(out)


__all__ = [
    "BlockedAddressError",
    "FetchError",
    "FetchLimits",
    "FetchRequest",
    "FetchResult",
    "Fetcher",
    "parse_max_age",
    "parse_retry_after",
]
