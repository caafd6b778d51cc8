"""A real HTTP feed server on 127.0.0.1 for tests: serves feeds from memory, logs requests.

Usage::

    async with FeedServer() as server:
        server.set_feed("/news.rss", rss([{"title": "Hello", "link": "https://a.test/1"}]))
        result = await fetcher.fetch(FetchRequest(server.url("/news.rss")))
        assert server.hits("/news.rss") == 1

ETags are derived from the body and Last-Modified from a fake clock that moves one second
per content change, so conditional GETs behave like a well-run publisher's server:
``If-None-Match`` (preferred) or ``If-Modified-Since`` get a 304 while the body is unchanged.
``set_handler`` installs any aiohttp handler for the odd cases (trickling bodies,
redirect chains, compression bombs).
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import hashlib
import socket
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import brotli
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Last-Modified values start here and advance one second per content change.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class _Feed:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: datetime | None
    content_encoding: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    wire: bytes = b""  # the body as sent, compressed once at set_feed time


def _encode(body: bytes, encoding: str | None) -> bytes:
    if encoding is None:
        return body
    if encoding == "gzip":
        return gzip_module.compress(body, mtime=0)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "br":
        return bytes(brotli.compress(body))
    raise ValueError(f"unknown content encoding {encoding!r}")


class FeedServer:
    """An aiohttp.web server on 127.0.0.1 (random port) serving feeds from a dict."""

    def __init__(self) -> None:
        self._feeds: dict[str, _Feed] = {}
        self._handlers: dict[str, Handler] = {}
        self._changes = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port: int = 0
        self.delay = 0.0  # seconds every answer waits

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown: trickling test handlers must not hold up the end of a test.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes no public way to read the bound port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def set_feed(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/rss+xml",
        etag: bool = True,
        last_modified: bool = True,
        gzip: bool = False,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_encoding: str | None = None,
    ) -> None:
        """Serve ``body`` at ``path`` (replacing what was there).

        ``gzip=True`` is shorthand for ``content_encoding="gzip"``; "deflate" and "br" work
        too. The body is sent compressed whatever the client's Accept-Encoding says.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        previous = self._feeds.get(self._key(path))
        if previous is None or previous.body != data:
            self._changes += 1
        encoding = content_encoding or ("gzip" if gzip else None)
        self._feeds[self._key(path)] = _Feed(
            body=data,
            content_type=content_type,
            etag=f'"{hashlib.sha1(data).hexdigest()[:20]}"' if etag else None,
            last_modified=_EPOCH + timedelta(seconds=self._changes) if last_modified else None,
            content_encoding=encoding,
            status=status,
            headers=dict(headers or {}),
            wire=_encode(data, encoding),
        )

    def set_handler(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` with a custom aiohttp handler."""
        self._handlers[self._key(path)] = handler

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it answers 404 from now on)."""
        self._feeds.pop(self._key(path), None)
        self._handlers.pop(self._key(path), None)

    def hits(self, path: str) -> int:
        """How many requests ``path`` received so far."""
        key = self._key(path)
        return sum(1 for p, _ in self.requests if p == key)

    def last_headers(self, path: str) -> dict[str, str]:
        """Request headers of the latest request for ``path`` (KeyError if none)."""
        key = self._key(path)
        for p, headers in reversed(self.requests):
            if p == key:
                return headers
        raise KeyError(path)

    @staticmethod
    def _key(path: str) -> str:
        return path if path.startswith("/") else "/" + path

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        key = request.path_qs if request.path_qs in self._feeds else request.path
        if request.path_qs in self._handlers:
            key = request.path_qs
        self.requests.append((key, dict(request.headers)))
        if self.delay:
            await asyncio.sleep(self.delay)  # a publisher's latency: fetches overlap
        handler = self._handlers.get(key)
        if handler is not None:
            return await handler(request)
        feed = self._feeds.get(key)
        if feed is None:
            return web.Response(status=404, text="not found")
        return self._respond(request, feed)

    def _respond(self, request: web.Request, feed: _Feed) -> web.Response:
        headers: dict[str, str] = {}
        if feed.etag:
            headers["ETag"] = feed.etag
        if feed.last_modified:
            headers["Last-Modified"] = format_datetime(feed.last_modified, usegmt=True)
        headers.update(feed.headers)
        if feed.status == 200 and _not_modified(request, feed):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = feed.content_type
        if feed.content_encoding:
            headers["Content-Encoding"] = feed.content_encoding
        return web.Response(status=feed.status, body=feed.wire, headers=headers)


def _not_modified(request: web.Request, feed: _Feed) -> bool:
    # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return feed.etag is not None and (feed.etag in tags or "*" in tags)
    since = request.headers.get("If-Modified-Since")
    if since is not None and feed.last_modified is not None:
        try:
            return parsedate_to_datetime(since) >= feed.last_modified
        except (TypeError, ValueError):
            return False
    return False


def _http_date(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), usegmt=True)


def rss(
    items: list[dict[str, Any]],
    *,
    title: str = "Test feed",
    link: str = "https://example.test/",
    ttl: int | None = None,
) -> str:
    """An RSS 2.0 document from dicts.

    Item keys (all optional): title, link, guid, description, pubDate (datetime or str),
    source (publisher name), source_url, content (content:encoded), author, orig_link
    (FeedBurner's ``feedburner:origLink``: the publisher's URL behind a tracking link).
    ``ttl`` (minutes) adds the channel's <ttl> hint.
    """
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">',
        "<channel>",
        f"<title>{escape(title)}</title>",
        f"<link>{escape(link)}</link>",
        "<description>Test feed</description>",
    ]
    if ttl is not None:
        parts.append(f"<ttl>{int(ttl)}</ttl>")
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "description", "author"):
            if item.get(key) is not None:
                parts.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        if item.get("guid") is not None:
            guid = str(item["guid"])
            permalink = "true" if guid.startswith(("http://", "https://")) else "false"
            parts.append(f'<guid isPermaLink="{permalink}">{escape(guid)}</guid>')
        if item.get("pubDate") is not None:
            parts.append(f"<pubDate>{escape(_http_date(item['pubDate']))}</pubDate>")
        if item.get("source") is not None:
            url_attr = (
                f" url={quoteattr(str(item['source_url']))}" if item.get("source_url") else ""
            )
            parts.append(f"<source{url_attr}>{escape(str(item['source']))}</source>")
        if item.get("content") is not None:
            content = str(item["content"]).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<content:encoded><![CDATA[{content}]]></content:encoded>")
        if item.get("orig_link") is not None:
            parts.append(f"<feedburner:origLink>{escape(item['orig_link'])}</feedburner:origLink>")
        parts.append("</item>")
    parts += ["</channel>", "</rss>"]
    return "\n".join(parts)


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(
    entries: list[dict[str, Any]],
    *,
    title: str = "Test feed",
    link: str = "https://example.test/",
) -> str:
    """An Atom 1.0 document from dicts.

    Entry keys (all optional): title, link, id, summary, content (HTML), published and
    updated (datetime or ISO string), author, source (publisher name).
    """
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title>",
        f"<link href={quoteattr(link)}/>",
        f"<id>{escape(link)}</id>",
        "<updated>2024-01-01T00:00:00Z</updated>",
    ]
    for entry in entries:
        parts.append("<entry>")
        if entry.get("title") is not None:
            parts.append(f"<title>{escape(str(entry['title']))}</title>")
        if entry.get("link") is not None:
            parts.append(f'<link rel="alternate" href={quoteattr(str(entry["link"]))}/>')
        entry_id = entry.get("id", entry.get("link"))
        if entry_id is not None:
            parts.append(f"<id>{escape(str(entry_id))}</id>")
        for key in ("published", "updated"):
            if entry.get(key) is not None:
                parts.append(f"<{key}>{_iso(entry[key])}</{key}>")
        if entry.get("summary") is not None:
            parts.append(f"<summary>{escape(str(entry['summary']))}</summary>")
        if entry.get("content") is not None:
            parts.append(f'<content type="html">{escape(str(entry["content"]))}</content>')
        if entry.get("author") is not None:
            parts.append(f"<author><name>{escape(str(entry['author']))}</name></author>")
        if entry.get("source") is not None:
            parts.append(f"<source><title>{escape(str(entry['source']))}</title></source>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts)


class StaticResolver(AbstractResolver):
    """A DNS resolver from a dict, for tests that need hostnames without real DNS.

    ``answers`` maps a hostname to its addresses, or to a list of answers (lists of
    addresses) given out in turn, the last repeating: ``{"rebind.test": [["127.0.0.1"],
    ["10.0.0.1"]]}`` answers a public address first and a private one afterwards.
    Unknown names fail like a real lookup (``OSError``). ``lookups`` logs every name asked.
    """

    def __init__(self, answers: Mapping[str, str | list[str] | list[list[str]]]) -> None:
        self._answers: dict[str, list[list[str]]] = {}
        for host, value in answers.items():
            if isinstance(value, str):
                self._answers[host] = [[value]]
            elif value and isinstance(value[0], list):
                self._answers[host] = [list(a) for a in value]
            else:
                self._answers[host] = [list(value)]  # type: ignore[arg-type]
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        turns = self._answers.get(host.rstrip("."))
        if not turns:
            raise OSError(socket.EAI_NONAME, f"unknown test host {host}")
        asked = self.lookups.count(host)
        addresses = turns[min(asked, len(turns)) - 1]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass
