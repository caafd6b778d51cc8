"""Feed autodiscovery: the feeds a web page announces with ``<link rel="alternate">``.

``feeds add https://site`` fetches the URL; when it is an HTML page rather than a feed,
:func:`feed_links` lists the feeds the page names, best first, and the caller fetches
them (through the same fetch guard as any chat URL) until one parses. Pure: HTML in,
absolute URLs out; nothing here touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# What a page may say its feed is, in the order we prefer them when it names several.
FEED_TYPES: tuple[str, ...] = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
)
# A page's <head> is near its start; a huge page is not read to its end.
MAX_HTML_CHARS = 512 * 1024
MAX_LINKS = 20

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head)\b", re.I | re.S)


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    type: str
    title: str | None = None


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """Whether a fetched body is a web page (where to look for feed links)."""
    mime = (content_type or "").partition(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return True
    return _HTML_START.match(body[:4096]) is not None


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str, str | None]] = []  # (href, type, title)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"].strip()
        if tag != "link" or len(self.links) >= MAX_LINKS:
            return
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").partition(";")[0].strip().lower()
        href = values.get("href", "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            self.links.append((href, kind, " ".join(values.get("title", "").split()) or None))


def feed_links(html: bytes | str, page_url: str) -> list[FeedLink]:
    """The feeds ``html`` (fetched from ``page_url``) links to, best first: RSS, then Atom,
    then JSON Feed, each in the order the page lists them. Relative hrefs are resolved
    against ``<base href>`` or the page URL; only http(s) URLs are kept, each once."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    collector = _LinkCollector()
    collector.feed(text[:MAX_HTML_CHARS])
    collector.close()
    base = urljoin(page_url, collector.base) if collector.base else page_url
    found: dict[str, FeedLink] = {}
    for href, kind, title in collector.links:
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found[url] = FeedLink(url, kind, title)
    return sorted(found.values(), key=lambda link: FEED_TYPES.index(link.type))
