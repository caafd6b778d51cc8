"""OPML 2.0 subscription lists: read one safely, write one from a list of feeds.

Reading is for files strangers hand us (``feeds import``), so it is hardened the way
defusedxml hardens the standard library, with expat itself:

* a DOCTYPE is refused outright, so no entity is ever declared: no "billion laughs"
  expansion, no external entity (XXE) fetched or read, no parameter entities;
* an entity that was never declared is an expat error, not text;
* the document is capped in bytes, in feeds and in nesting depth before and while it is
  read, so a hostile file costs at most a bounded parse.

Only what an importer needs is kept: the document's title and, for every ``<outline>``
with an ``xmlUrl`` (at any depth: folders are flattened), the feed URL and its title.
Both functions are pure: bytes in, data out.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from bot.core.errors import ParseError
from bot.core.models import FeedInfo

MAX_BYTES = 1024 * 1024
MAX_FEEDS = 1000
MAX_DEPTH = 32
TITLE_MAX = 300


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    title: str | None
    feeds: tuple[OpmlFeed, ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``feeds import`` did with each feed of a file, in the file's order."""

    title: str | None  # the file's own title
    listed: int  # feeds the file lists
    added: tuple[FeedInfo, ...]
    present: tuple[str, ...]  # URLs this workspace already reads
    refused: tuple[tuple[str, str], ...]  # (URL, reason)


class _Refused(Exception):
    """Raised from an expat handler to stop the parse at once."""


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())[:TITLE_MAX]
    return text or None


def parse_opml(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_feeds: int = MAX_FEEDS
) -> OpmlDocument:
    """The feeds listed in an OPML document, in document order, each URL once.

    Raises :class:`ParseError` with a short reason for anything that is not a readable,
    DTD-free OPML document within the caps.
    """
    if len(data) > max_bytes:
        raise ParseError(f"the file is too large ({len(data)} bytes, at most {max_bytes})")
    if not data.strip():
        raise ParseError("the file is empty")
    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[str] = []
    feeds: dict[str, OpmlFeed] = {}
    title_parts: list[str] = []

    def refuse_dtd(*_: object) -> None:
        raise _Refused("it declares a DOCTYPE (refused: entities could expand or reach out)")

    def refuse_entity(*_: object) -> None:
        raise _Refused("it declares entities (refused)")

    def start(name: str, attrs: dict[str, str]) -> None:
        if not stack and name.lower() != "opml":
            raise _Refused(f"the root element is <{name}>, not <opml>")
        stack.append(name.lower())
        if len(stack) > MAX_DEPTH:
            raise _Refused(f"outlines nest deeper than {MAX_DEPTH} levels")
        if stack[-1] != "outline" or "body" not in stack:
            return
        lowered = {k.lower(): v for k, v in attrs.items()}
        url = (lowered.get("xmlurl") or "").strip()
        if not url or url in feeds:
            return
        if len(feeds) >= max_feeds:
            raise _Refused(f"it lists more than {max_feeds} feeds")
        feeds[url] = OpmlFeed(url, _clean(lowered.get("title") or lowered.get("text")))

    def end(name: str) -> None:
        stack.pop()

    def text(chunk: str) -> None:
        if stack[-2:] == ["head", "title"] and len(title_parts) < 64:
            title_parts.append(chunk)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except _Refused as e:
        raise ParseError(f"not a usable OPML file: {e}") from e
    except xml.parsers.expat.ExpatError as e:
        reason = xml.parsers.expat.errors.messages.get(e.code, str(e))
        raise ParseError(f"not an OPML file: {reason} (line {e.lineno})") from e
    return OpmlDocument(_clean("".join(title_parts)), tuple(feeds.values()))


def _xml_text(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped.
    return "".join(ch for ch in text if ch >= " " or ch in "\t\n\r")


def render_opml(title: str, feeds: Sequence[OpmlFeed], *, created: datetime) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (UTF-8 bytes)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape(_xml_text(title))}</title>",
        f"    <dateCreated>{format_datetime(created)}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for feed in feeds:
        label = quoteattr(_xml_text(feed.title or feed.url))
        url = quoteattr(_xml_text(feed.url))
        lines.append(f'    <outline type="rss" text={label} title={label} xmlUrl={url}/>')
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")
