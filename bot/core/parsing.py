"""Feed bytes -> :class:`ParsedFeed`: a fast parser guarded by a cheap pre-parse check.

Why this design
---------------
Parsing is the hottest step of a poll: every *changed* feed is parsed, and the product must
keep up with ~1,000+ changed feeds per second per core. feedparser is the most tolerant
parser there is, but it runs at ~40 feeds/s; feedparser-rs (a Rust port with feedparser's
field names) runs at ~2,000 feeds/s with HTML sanitising off (we turn documents into plain
text ourselves, so sanitising is wasted work). The fast parser has known ways to lose data
*silently* on malformed input, so it never sees a document we have not checked first:

1. **Guards.** Bodies over :data:`MAX_BODY_BYTES` are refused (the fetcher's size cap is the
   first line; this is the second). Empty bodies, HTML pages and JSON that is not a feed are
   refused with a plain reason.
2. **Encoding.** Every XML document is handed to the parser as UTF-8 with its encoding
   declaration removed. Valid UTF-8 wins over any declaration (a cp1252 label on UTF-8
   bytes is a common lie); otherwise the declared encoding, then the HTTP charset, then a
   small sniffer (kana share for Shift_JIS, isolated high bytes for Latin-1, the document's
   ``<language>``) decide. Both fast parsers mis-decode a wrong declaration, and feedparser
   guesses ISO-8859-2 for undeclared Shift_JIS; transcoding ourselves fixes both. UTF-8
   with a few stray legacy bytes pasted in stays UTF-8 (only those bytes read as cp1252).
3. **Markup repair, only when flagged.** One regex scan (~40 µs on 50 KB) looks for a raw
   ``&`` that starts no entity, HTML named entities (``&nbsp;``) that XML does not define,
   and character references to control characters. Only if something is found *outside
   CDATA* do we rewrite those segments (``&amp;``, numeric references). feedparser-rs drops
   a whole item that contains a raw ``&``; after the repair it keeps it. Raw control
   characters are *not* scanned for on the fast path: feedparser-rs keeps such items
   (checked), ``clean_text`` removes the characters, and the tolerant fallback gets them
   stripped first because expat refuses them. A DOCTYPE (even an XHTML one printed by a
   CMS template before ``<rss>``) is always removed before parsing: the root element
   decides what the document is, and entity-expansion bombs ("billion laughs") and
   external entities (XXE) never expand: their references become literal text.
4. **Verification.** The number of ``<item>``/``<entry>`` start tags in the bytes (also
   prefixed ones: ``<r:item>``, ``<a:entry>``) is compared with the number of entries the
   fast parser returned. If the fast parser returned fewer, or flagged the document as
   broken, or skipped markup feedparser reads (item text only in ``<body>``/``<fullitem>``,
   dates only in ``dcterms:``, relative links under ``xml:base``), feedparser parses the
   same (repaired) bytes and the result with more usable entries wins (the fallback wins a
   tie when the fast parser skipped markup). So the fast path is never silently worse than
   feedparser, and items neither could read are counted in the warning; the slow path
   costs time only for the few documents that need it (one of the 80 real feeds in
   ../shared/feeds). The slow parser is never given what would make
   it slow: nesting beyond the fast parser's limit is refused outright, and documents over
   4 MB or with >10k unclosed tags keep the fast result with a warning saying so. More
   than 10,000 items are cut to the first 10,000 (feedparser-rs's limit), with a warning.
5. **JSON** (JSON Feed 1.0/1.1, and Dave Winer's RSS-in-JSON) is read with the ``json``
   module: it is a small mapping and feedparser does not read JSON Feed at all. A truncated
   JSON Feed yields the complete items before the cut.

Dates come from the parser's own parsed tuples when it has them; :func:`parse_date` covers
the rest (RFC 822 with odd zones, no seconds or two-digit years; ISO 8601 with nanoseconds;
``2020/1/10 14:33:00``). All datetimes are UTC-aware. Relative links are resolved against
``xml:base`` where the document sets one, else the feed's ``<link>`` (itself resolved against
the feed URL).
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import json
import logging
import re
import warnings
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from html import unescape
from html.entities import html5 as _HTML5_ENTITIES
from typing import Any
from urllib.parse import urljoin

import feedparser_rs

from bot.core.errors import ParseError
from bot.core.models import FeedEntry, ParsedFeed

log = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "parse_date", "parse_feed"]

MAX_BODY_BYTES = 20 * 1024 * 1024
# Limits for handing a document the fast parser flagged to feedparser (see _fallback_refusal).
MAX_FALLBACK_BYTES = 4 * 1024 * 1024
MAX_UNCLOSED_TAGS = 10_000
_BIG = 1 << 62

# ---------------------------------------------------------------------------------------
# Byte-level patterns (compiled once; all run over bytes, never decoded text).

_XML_DECL = re.compile(rb"\A\s*<\?xml[^>]*?\?>")
_DECL_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# Something after '&' that XML would reject or mis-read: a raw '&', a name XML does not
# define (HTML entities), or a reference to a control character.
_AMP_PROBLEM = re.compile(
    rb"&(?:(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);)"
    rb"|#0*(?:[0-8]|1[124-9]|2[0-9]|3[01]);"
    rb"|#[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]);)"
)
_AMP_TOKEN = re.compile(
    rb"&(?:(amp|lt|gt|quot|apos);|#([0-9]{1,8});|#[xX]([0-9a-fA-F]{1,8});|([A-Za-z][A-Za-z0-9]{0,31});)?"
)
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13))
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>]")
# One pass counts item/entry start tags; a group ending in "/>" is an empty <item />.
_ITEM_TAG = re.compile(rb"<(?:item|entry)(\s*/?>|\s)")
# The same under a namespace prefix (<r:item>, <a:entry>), counted only in documents
# whose root is prefixed: twice the cost of the plain scan, for a rare dialect.
_PREFIXED_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(\s*/?>|\s)")
# Markup feedparser reads and feedparser-rs skips (see _skipped_by_fast_parser).
_BODY_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?body[\s>]|<fullitem[\s>]")
_DCTERMS_PREFIX = re.compile(
    rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']http://purl\.org/dc/terms/?["']"""
)
_LANG_HINT = re.compile(
    rb"""<(?:language|dc:language)>\s*([A-Za-z]{2})|xml:lang\s*=\s*["']([A-Za-z]{2})"""
)
_TTL = re.compile(rb"<ttl>\s*([0-9]{1,7})\s*</ttl>")
_SY_PERIOD = re.compile(rb"<sy:updatePeriod>\s*([a-zA-Z]+)\s*</sy:updatePeriod>")
_SY_FREQ = re.compile(rb"<sy:updateFrequency>\s*([0-9]{1,6})\s*</sy:updateFrequency>")
_NAME = re.compile(rb"[A-Za-z_][\w.:-]*")
_JUNK_THEN_XML = re.compile(rb"<\?xml\s|<rss[\s>]|<feed[\s>]|<rdf:RDF[\s>]")

# A byte that is not UTF-8, as the surrogateescape error handler represents it; and a
# character that came from a valid multibyte sequence.
_STRAY_BYTE = re.compile("[\udc80-\udcff]")
_VALID_NON_ASCII = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")

_FEED_ROOTS = frozenset({"rss", "rdf", "feed", "channel"})
# Error pages and soft-404s often start without <html>.
_HTML_ROOTS = frozenset({"html", "head", "body", "meta", "title", "div", "p", "script", "link"})
_SY_PERIOD_SECONDS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}

# Legacy labels -> the superset codec browsers actually use for them.
_ENCODING_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
}
_UTF8_LABELS = frozenset({"utf-8", "utf8", "utf_8"})
_LANG_ENCODINGS = {
    "ja": "cp932",
    "zh": "gb18030",
    "ko": "cp949",
    "ru": "cp1251",
    "uk": "cp1251",
    "be": "cp1251",
    "bg": "cp1251",
    "sr": "cp1251",
    "mk": "cp1251",
    "kk": "cp1251",
    "el": "cp1253",
    "tr": "cp1254",
    "he": "cp1255",
    "ar": "cp1256",
    "fa": "cp1256",
    "pl": "cp1250",
    "cs": "cp1250",
    "sk": "cp1250",
    "hu": "cp1250",
    "sl": "cp1250",
    "hr": "cp1250",
    "ro": "cp1250",
}


# ---------------------------------------------------------------------------------------
# Public entry point


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom 0.3/1.0 or JSON Feed document.

    ``body`` must be bytes (a str that looks like a URL would make the fast parser fetch
    it). ``url`` is the feed URL, used to resolve relative links. ``content_type`` is the
    HTTP header, used only for its charset. Raises :class:`ParseError` with a short reason
    when the body is not a feed we can read; a repaired or partly recovered document comes
    back with ``warning`` set.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"parse_feed needs bytes, got {type(body).__name__}")
    body = bytes(body)
    notes: list[str] = []
    if body[:2] == _GZIP_MAGIC:
        body = _inflate(body)
        notes.append("inflated a gzip body sent without Content-Encoding")
    if len(body) > MAX_BODY_BYTES:
        raise ParseError(f"feed too large: {len(body) // (1024 * 1024)} MB (limit 20 MB)")
    body = _utf16_to_utf8(body)
    start = _first_significant_byte(body)
    if start is None:
        raise ParseError("empty body")
    if body[start : start + 1] in (b"{", b"["):
        return _parse_json(body, url=url)
    if body[start : start + 1] != b"<":
        # A PHP notice or stray text printed before the document (WordPress plugins do
        # this) does not make the feed unreadable.
        match = _JUNK_THEN_XML.search(body, start, start + 4096)
        if match is None:
            raise ParseError("not a feed: body is neither XML nor JSON")
        return _parse_xml(
            body[match.start() :],
            url=url,
            content_type=content_type,
            notes=[*notes, "removed text before the XML document"],
        )
    return _parse_xml(body, url=url, content_type=content_type, notes=notes)


_GZIP_MAGIC = b"\x1f\x8b"


def _inflate(body: bytes) -> bytes:
    """A pre-compressed file served without ``Content-Encoding`` (object stores do this
    when the upload's metadata is missing) is still the feed; inflated under the same
    cap as any body, so a small bomb cannot grow past it."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise ParseError("not a feed: a corrupt gzip file") from exc
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise ParseError("feed too large: over 20 MB inflated (limit 20 MB)")
    return out


# ---------------------------------------------------------------------------------------
# XML: preparation (encoding, prolog, repairs), fast parse, verification, fallback


def _utf16_to_utf8(body: bytes) -> bytes:
    """UTF-16 (with BOM, or '<'/'{' as a 16-bit unit) becomes UTF-8 before anything else."""
    head = body[:2]
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        codec = "utf-16"
    elif head in (b"<\x00", b"{\x00"):
        codec = "utf-16-le"
    elif head in (b"\x00<", b"\x00{"):
        codec = "utf-16-be"
    else:
        return body
    text = body.decode(codec, errors="replace").lstrip("\ufeff")
    return _drop_declaration(text.encode("utf-8"))


def _first_significant_byte(body: bytes) -> int | None:
    stripped = body.removeprefix(codecs.BOM_UTF8).lstrip()
    if not stripped:
        return None
    return len(body) - len(stripped)


def _parse_xml(
    raw: bytes, *, url: str, content_type: str | None, notes: list[str] | None = None
) -> ParsedFeed:
    notes = [] if notes is None else notes
    body = _to_utf8(raw, content_type, notes)
    body = _strip_prolog_junk(body, notes)
    root = _root_element(body)
    if root is None:
        raise ParseError("not a feed: no XML root element")
    root_local = root.split(":")[-1].lower()
    if root_local not in _FEED_ROOTS and root_local != "html":
        # Markup-ish junk before the document ("<br /><b>Warning</b>: ...").
        match = _JUNK_THEN_XML.search(body, 1, 4096)
        if match is not None:
            body = _strip_prolog_junk(body[match.start() :], notes)
            root = _root_element(body) or root
            root_local = root.split(":")[-1].lower()
            notes.append("removed text before the XML document")
    if root_local in _HTML_ROOTS:
        raise ParseError("not a feed: looks like an HTML page")
    if root_local not in _FEED_ROOTS:
        raise ParseError(f"not a feed: XML root element <{root}> is not RSS, RDF or Atom")
    body = _repair_markup(body, notes)
    item_tag = _PREFIXED_ITEM_TAG if ":" in root else _ITEM_TAG
    expected = sum(1 for tail in item_tag.findall(body) if not tail.endswith(b"/>"))
    truncated = _looks_truncated(body, root)

    fast = _parse_fast(body)
    fast_entries: tuple[FeedEntry, ...] = ()
    fast_feed: Any = None
    problem: str | None = None
    # When the fast parser skipped markup the fallback reads, the fallback wins a tie.
    prefer_slow = False
    if fast is None:
        problem = "fast parser failed"
    else:
        if fast.bozo and "nesting depth" in str(fast.get("bozo_exception") or ""):
            raise ParseError("refused: markup nested too deeply")
        fast_feed = fast.feed
        fast_entries = _entries(fast.entries, url=url, feed=fast_feed)
        if root_local == "rss" and not fast.bozo and _fields_astray(fast_entries):
            opened, count = _open_empty_elements(body)
            again = _parse_fast(opened) if count else None
            if again is not None and not again.bozo and len(again.entries) >= len(fast.entries):
                body, fast, fast_feed = opened, again, again.feed
                fast_entries = _entries(fast.entries, url=url, feed=fast_feed)
                notes.append(f"opened {count} empty self-closed elements")
        if fast.bozo and "limit exceeded" in str(fast.get("bozo_exception") or ""):
            # More items than any real feed carries: keep the first ones rather than hand
            # a huge document to the slow parser.
            notes.append(f"kept the first {len(fast.entries)} items (item limit)")
        elif fast.bozo:
            problem = f"fast parser: {fast.get('bozo_exception')}"
        elif len(fast.entries) < expected:
            problem = f"fast parser read {len(fast.entries)} of {expected} items"
        else:
            problem = _skipped_by_fast_parser(body, fast.entries, fast_entries)
            if problem is None and root_local == "rss" and _nested_title(body, fast_entries):
                problem = "an item nests a second <title>, which the fast parser takes for its own"
            prefer_slow = problem is not None

    chosen_feed, chosen_entries, parser = fast_feed, fast_entries, "fast"
    read = len(fast.entries) if fast is not None else 0
    if problem is not None:
        refusal = _fallback_refusal(body)
        if refusal is None:
            slow = _parse_tolerant(body)
            slow_entries = _entries(slow.entries, url=url, feed=slow.feed)
            if (
                len(slow_entries) > len(fast_entries)
                or fast_feed is None
                or (prefer_slow and len(slow_entries) == len(fast_entries))
            ):
                chosen_feed, chosen_entries, parser = slow.feed, slow_entries, "feedparser"
                read = len(slow.entries)
        elif fast_feed is None or not fast_entries:
            raise ParseError(f"refused: {refusal}")
        else:
            notes.append(f"{problem}; not retried: {refusal}")
        log.debug("feed %s: %s; using %s", url, problem, parser)

    # A relaying service (FeedBurner, Pheedo, Bing News) is known by the namespace it
    # declares; without the fast parser's reading, by its element.
    if fast is None:
        relayed, bing = b"origLink>" in body, False
    else:
        spaces = fast.get("namespaces") or {}
        relayed = "feedburner" in spaces or "pheedo" in spaces
        bing = "bing.com" in (spaces.get("News") or "")
    if relayed:
        chosen_entries = _original_links(body, chosen_entries, url)
    if bing:
        chosen_entries = _bing_sources(body, chosen_entries)
    if parser == "fast" and any(not e.link for e in chosen_entries):
        chosen_entries = _dropped_links(body, chosen_entries, url)
    title = _text(_get(chosen_feed, "title")) if chosen_feed is not None else None
    if not chosen_entries and truncated:
        raise ParseError("truncated XML: no items recovered")
    if not chosen_entries and problem is not None and expected:
        raise ParseError(f"malformed XML: none of its {expected} items could be read")
    if truncated:
        notes.append(f"truncated XML: recovered {len(chosen_entries)} items")
    elif read < expected and fast is not None and not fast.bozo:
        # Items neither parser could see (an unknown dialect or namespace) are lost
        # silently unless said here.
        notes.append(f"read {read} of {expected} items")
    if parser == "feedparser":
        notes.append("parsed by the tolerant fallback")
    return ParsedFeed(
        title=title or None,
        link=_feed_link(chosen_feed, url),
        entries=chosen_entries,
        ttl_seconds=_ttl_seconds(body),
        parser=parser,
        warning="; ".join(notes) or None,
    )


def _skipped_by_fast_parser(
    body: bytes, items: Sequence[Any], entries: Sequence[FeedEntry]
) -> str | None:
    """What of this document the fast parser skipped and feedparser reads, or None.

    ``items`` are the fast parser's raw entries, ``entries`` the usable ones made of them.
    Each check starts from a symptom in the result, so an ordinary feed pays a few
    attribute reads and no scan of the document: an item that came back empty (its text
    only in <body>, <xhtml:body> or <fullitem>); an item without a date (its date only in
    dcterms:modified / issued / created); a relative link (to resolve against xml:base).
    """
    if len(entries) < len(items):
        bodies = [m.start() for m in _BODY_TAG.finditer(body)]
        if bodies:
            spans = _cdata_spans(body)
            if any(not _inside(pos, spans) for pos in bodies):
                return "item text in <body> or <fullitem>, which the fast parser skips"
    if any(e.published is None for e in entries) and b"purl.org/dc/terms" in body[:8192]:
        for prefix in set(_DCTERMS_PREFIX.findall(body[:8192])):
            tag = rb"<" + re.escape(prefix) + rb":(?:modified|issued|created)[\s>]"
            if re.search(tag, body):
                return "dates in dcterms: elements, which the fast parser skips"
    if any(
        link and not link.startswith(("http://", "https://"))
        for link in (_s(getattr(item, "link", None)) for item in items)
    ) and (b"xml:base" in body):
        return "relative links under xml:base, which the fast parser ignores"
    return None


def _nested_title(body: bytes, entries: Sequence[FeedEntry]) -> bool:
    """Whether the fast parser took a nested ``<title>`` for the first RSS item's own: an
    author block with a job title, or an Open Graph block (Google's blogs write both in
    every item); it keeps the last title it reads, feedparser the item's. Read from the
    first item alone, so a feed pays a few kilobytes of search; a nested title that
    repeats the item's (an ``<image>`` block) changes nothing."""
    start = body.find(b"<item>", 0, 65536)
    if start < 0 or not entries:
        return False
    end = body.find(b"</item>", start)
    if end < 0 or body.count(b"<title", start, end) < 2:
        return False
    own = _FIRST_TITLE.search(body, start, end)
    said = b"" if own is None else own.group(1) or own.group(2) or b""
    text = unescape(said.decode("utf-8", "replace"))
    return " ".join(text.split()) != " ".join(entries[0].title.split())


# Linear on hostile text: no lazy run beside another quantifier over the same characters.
_FIRST_TITLE = re.compile(rb"<title>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))", re.S)


_ITEM_LINK = re.compile(rb"<link>\s*([^<\s]+)")
_NEWS_SOURCE = re.compile(rb"<News:Source>([^<]*)</News:Source>")


def _bing_sources(body: bytes, entries: tuple[FeedEntry, ...]) -> tuple[FeedEntry, ...]:
    """Bing News names each item's publisher in ``<News:Source>`` ("Harbor Daily"),
    which the parsers skip: it becomes the entry's source, as Google News' ``<source>``
    does, rather than the article's host."""
    named: dict[str, str] = {}
    for start, end in _item_spans(body):
        link = _ITEM_LINK.search(body, start, end)
        source = _NEWS_SOURCE.search(body, start, end)
        if link is not None and source is not None:
            named[unescape(link.group(1).decode("utf-8", "replace"))] = unescape(
                source.group(1).decode("utf-8", "replace")
            ).strip()
    if not named:
        return entries
    return tuple(
        replace(e, source_name=named[e.link])
        if e.link in named and named[e.link] and not e.source_name
        else e
        for e in entries
    )


def _fallback_refusal(body: bytes) -> str | None:
    """Why the slow parser must not see this document, or None.

    feedparser runs at ~4 MB/s on the event loop's thread and far slower on pathological
    nesting (100k unclosed tags take seconds), so it only gets documents of ordinary size
    whose start and end tags roughly balance.
    """
    if len(body) > MAX_FALLBACK_BYTES:
        return f"document over {MAX_FALLBACK_BYTES // (1024 * 1024)} MB for the tolerant parser"
    starts = body.count(b"<") - 2 * body.count(b"</") - body.count(b"<!") - body.count(b"<?")
    if starts - body.count(b"/>") > MAX_UNCLOSED_TAGS:
        return "markup nested too deeply or badly unbalanced"
    return None


def _parse_fast(body: bytes) -> Any:
    try:
        return feedparser_rs.parse(body, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # a Rust panic or limit surfaces as a plain exception
        log.debug("feedparser-rs raised %r", exc)
        return None


def _parse_tolerant(body: bytes) -> Any:
    # expat refuses raw control characters outright; the fast parser tolerates them.
    if len(stripped := body.translate(None, _CONTROL_BYTES)) != len(body):
        body = stripped
    body = _surrogate_refs_replaced(body)
    with warnings.catch_warnings():
        # feedparser warns about its own internals (and we run tests with warnings=error).
        warnings.simplefilter("ignore")
        # Imported on first use: the fallback is rare and feedparser costs memory at start.
        import feedparser

        return feedparser.parse(
            body,
            sanitize_html=False,
            resolve_relative_uris=False,
            response_headers={"content-type": "application/xml; charset=utf-8"},
        )


def _to_utf8(body: bytes, content_type: str | None, notes: list[str]) -> bytes:
    """Return ``body`` as UTF-8 bytes without an encoding declaration that could mislead."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    if body.isascii():
        return body
    declared = _declared_encoding(body)
    header = _header_charset(content_type)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared is not None and _codec_name(declared) not in (None, "utf-8"):
            notes.append(f"encoding: declared {declared} but bytes are UTF-8")
            return _drop_declaration(body)
        return body
    for label in (declared, header):
        codec = _codec_name(label)
        if codec is None or codec == "utf-8":
            continue
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            if codec == "cp1252":  # five bytes cp1252 leaves undefined; latin-1 has them all
                text = body.decode("latin-1")
            else:
                continue
        return _drop_declaration(text.encode("utf-8"))
    if _codec_name(declared) in (None, "utf-8") and _codec_name(header) in (None, "utf-8"):
        repaired = _utf8_with_stray_bytes(body)
        if repaired is not None:
            text, strays = repaired
            notes.append(f"encoding: {strays} stray non-UTF-8 bytes read as cp1252")
            return _drop_declaration(text.encode("utf-8"))
    guess = _sniff_legacy_encoding(body)
    notes.append(f"encoding: bytes are not {declared or header or 'UTF-8'}; decoded as {guess}")
    return _drop_declaration(body.decode(guess, errors="replace").encode("utf-8"))


def _utf8_with_stray_bytes(body: bytes) -> tuple[str, int] | None:
    """(text, number of stray bytes) when ``body`` is UTF-8 with a few bytes of a legacy
    encoding pasted in (a CMS copy-paste), else None.

    Such a document holds more valid multibyte characters than stray bytes; one written in
    a legacy encoding holds almost none, because its accented bytes seldom form valid UTF-8
    sequences. Decoding the whole of it as cp1252 would garble every valid character.
    """
    text = body.decode("utf-8", errors="surrogateescape")
    strays = len(_STRAY_BYTE.findall(text))
    if len(_VALID_NON_ASCII.findall(text)) <= strays:
        return None
    return _STRAY_BYTE.sub(_legacy_char, text), strays


def _legacy_char(match: re.Match[str]) -> str:
    raw = bytes([ord(match.group(0)) - 0xDC00])  # surrogateescape's mapping of one byte
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined
        return raw.decode("latin-1")


def _declared_encoding(body: bytes) -> str | None:
    match = _DECL_ENCODING.match(body[:512])
    return match.group(1).decode("ascii").lower() if match else None


def _header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1).lower() if match else None


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    label = label.lower()
    if label in _UTF8_LABELS:
        return "utf-8"
    label = _ENCODING_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "utf-8" if name in ("utf-8", "utf_8") else label


def _drop_declaration(body: bytes) -> bytes:
    match = _XML_DECL.match(body)
    return body[match.end() :] if match else body


def _sniff_legacy_encoding(body: bytes) -> str:
    """Best guess for undeclared, non-UTF-8 bytes (rare path: cost does not matter)."""
    kana = _script_share(body, "cp932", ((0x3040, 0x30FF),))
    if kana > 0.15:
        return "cp932"
    runs = re.findall(rb"[\x80-\xff]+", body)
    # Western text has isolated accented letters between ASCII ones; multibyte and
    # Cyrillic text comes in runs.
    if runs and sum(1 for run in runs if len(run) == 1) / len(runs) > 0.6:
        return "cp1252"
    hint = _LANG_HINT.search(body[:4096])
    if hint:
        lang = (hint.group(1) or hint.group(2)).decode("ascii").lower()
        codec = _LANG_ENCODINGS.get(lang)
        if codec:
            try:
                body.decode(codec)
            except UnicodeDecodeError:
                pass
            else:
                return codec
    for codec, ranges in (
        ("cp949", ((0xAC00, 0xD7A3),)),
        ("gb18030", ((0x4E00, 0x9FFF), (0x3000, 0x303F), (0xFF00, 0xFFEF))),
        ("cp1251", ((0x0400, 0x04FF),)),
    ):
        if _script_share(body, codec, ranges) > 0.5:
            return codec
    return "cp1252"


def _script_share(body: bytes, codec: str, ranges: Sequence[tuple[int, int]]) -> float:
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return 0.0
    wide = [ord(c) for c in text if ord(c) > 127]
    if not wide:
        return 0.0
    hits = sum(1 for cp in wide if any(lo <= cp <= hi for lo, hi in ranges))
    return hits / len(wide)


def _strip_prolog_junk(body: bytes, notes: list[str]) -> bytes:
    """Drop whitespace before the declaration and any DOCTYPE (entities are never expanded)."""
    stripped = body.lstrip()
    if len(stripped) != len(body) and stripped.startswith(b"<?xml"):
        notes.append("whitespace before the XML declaration")
    body = stripped
    pos = 0
    while True:
        pos = _skip_space(body, pos)
        if body.startswith(b"<?", pos):
            end = body.find(b"?>", pos + 2)
            if end < 0:
                return body
            pos = end + 2
        elif body.startswith(b"<!--", pos):
            end = body.find(b"-->", pos + 4)
            if end < 0:
                return body
            pos = end + 3
        elif body[pos : pos + 9].upper() == b"<!DOCTYPE":
            # Even an XHTML DOCTYPE says nothing: CMS templates print one before <rss>.
            # The root element decides whether this is a feed or an HTML page.
            end = _doctype_end(body, pos)
            if b"[" in body[pos:end]:
                notes.append("removed a DTD internal subset (entities not expanded)")
            return body[:pos] + body[end:]
        else:
            return body


def _skip_space(body: bytes, pos: int) -> int:
    while pos < len(body) and body[pos] in b" \t\r\n":
        pos += 1
    return pos


def _doctype_end(body: bytes, pos: int) -> int:
    """Index just past a DOCTYPE declaration, honouring quotes and an internal subset."""
    depth = 0
    quote = 0
    i = pos + 9
    n = len(body)
    while i < n:
        c = body[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " or '
            quote = c
        elif c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:  # ]
            depth -= 1
        elif c == 0x3E and depth <= 0:  # >
            return i + 1
        i += 1
    raise ParseError("not a feed: unterminated DOCTYPE")


def _root_element(body: bytes) -> str | None:
    pos = 0
    while True:
        lt = body.find(b"<", pos)
        if lt < 0:
            return None
        nxt = body[lt + 1 : lt + 2]
        if nxt == b"?":
            pos = body.find(b"?>", lt)
        elif body.startswith(b"<!--", lt):
            pos = body.find(b"-->", lt)
        elif nxt == b"!":
            pos = body.find(b">", lt)
        else:
            match = _NAME.match(body, lt + 1)
            return match.group(0).decode("ascii", "replace") if match else None
        if pos < 0:
            return None
        pos += 1


def _looks_truncated(body: bytes, root: str) -> bool:
    tail = body[-256:].rstrip()
    return not tail.endswith(b">") or (b"</" + root.encode("ascii", "replace") not in body[-4096:])


def _cdata_spans(body: bytes) -> list[tuple[int, int]]:
    spans = []
    pos = body.find(b"<![CDATA[")
    while pos >= 0:
        end = body.find(b"]]>", pos + 9)
        end = len(body) if end < 0 else end + 3
        spans.append((pos, end))
        pos = body.find(b"<![CDATA[", end)
    return spans


def _repair_markup(body: bytes, notes: list[str]) -> bytes:
    """Fix what makes XML parsers drop or cut items; touches only text outside CDATA."""
    first = _AMP_PROBLEM.search(body)
    if first is None:
        return body
    spans = _cdata_spans(body)
    if spans and not any(
        not _inside(m.start(), spans) for m in _AMP_PROBLEM.finditer(body, first.start())
    ):
        return body  # every '&' oddity sits inside CDATA, where it is legal
    kinds: set[str] = set()

    def fix(match: re.Match[bytes]) -> bytes:
        builtin, dec, hexa, name = match.groups()
        if builtin:
            return match.group(0)
        if dec or hexa:
            code = int(dec) if dec else int(hexa, 16)
            if _xml_char_ok(code):
                return match.group(0)
            kinds.add("invalid character references")
            return b""
        if name:
            text = _HTML5_ENTITIES.get(name.decode("ascii") + ";")
            if text is None:
                kinds.add("unknown entities")
                return b"&amp;" + match.group(0)[1:]
            kinds.add("HTML entities")
            return "".join(f"&#{ord(c)};" for c in text).encode("ascii")
        kinds.add("raw '&'")
        return b"&amp;"

    out: list[bytes] = []
    pos = 0
    for start, end in [*spans, (len(body), len(body))]:
        out.append(_AMP_TOKEN.sub(fix, body[pos:start]))
        out.append(body[start:end])
        pos = end
    if kinds:
        notes.append("repaired " + ", ".join(sorted(kinds)))
    return b"".join(out)


# An empty element written self-closed (``<category/>``, ``<dc:creator />``,
# ``<guid isPermaLink="false"/>``). Those whose meaning is their attributes (enclosures,
# media, links) are read right by the fast parser and left alone, and so are empty items
# (counted apart: see ``_ITEM_TAG``).
_EMPTY_ELEMENT = re.compile(
    rb"<(?!(?:media:|enclosure\b|[\w.-]+:link\b|link\s+href|itunes:(?:image|category)\b"
    rb"|item\b|[\w.-]+:item\b))"
    rb"([A-Za-z_][\w.:-]*)(\s[^<>]*)?/>"  # greedy: a lazy run beside \s* went quadratic
)


# FeedBurner and Pheedo put a click-tracking redirect in an item's link and the
# publisher's own URL beside it.
_ORIG_LINK = re.compile(rb"<(?:feedburner|pheedo):origLink>\s*(?:<!\[CDATA\[)?\s*([^<\s\]]+)")
_BLOCK_ID = re.compile(rb"<(?:guid|id)(?:\s[^>]*)?>\s*(?:<!\[CDATA\[)?([^<\]]*)")


def _item_spans(body: bytes) -> Iterable[tuple[int, int]]:
    """Each RSS item's or Atom entry's (start, end) offsets, found with plain searches
    (a regex spanning items re-scanned the rest of a document with no closing tags once
    per item)."""
    for opening, closing in ((b"<item", b"</item>"), (b"<entry", b"</entry>")):
        pos = body.find(opening)
        while pos >= 0:
            end = body.find(closing, pos)
            if end < 0:
                break
            yield pos, end
            pos = body.find(opening, end)


_BLOCK_LINK = re.compile(
    rb"<link>\s*(?:<!\[CDATA\[)?\s*([^<\s\]]+)|<link\b[^>]*?\bhref=[\"']([^\"']+)"
)


def _original_links(body: bytes, entries: tuple[FeedEntry, ...], url: str) -> tuple[FeedEntry, ...]:
    """Each entry's link is the publisher's URL its ``<feedburner:origLink>`` (or
    Pheedo's) gives, not the tracker's redirect: alerts link the article itself, and the
    same article from the publisher's own feed (or Google News) is the same URL.

    Items are matched to entries by guid, else by link (one channel link repeated on
    every item is ambiguous and matches nothing)."""
    found: dict[str, str | None] = {}
    for start, end in _item_spans(body):
        text = body[start:end]
        orig = _ORIG_LINK.search(text)
        if orig is None:
            continue
        target = unescape(orig.group(1).decode("utf-8", "replace"))
        if not target.startswith(("http://", "https://")):
            continue
        ident = _BLOCK_ID.search(text)
        said = unescape(ident.group(1).decode("utf-8", "replace")).strip() if ident else ""
        keys = [f"id:{said}"] if said else []
        keys += [
            "link:" + unescape((m.group(1) or m.group(2)).decode("utf-8", "replace"))
            for m in _BLOCK_LINK.finditer(text)
        ]
        for key in keys:
            found[key] = None if key in found and found[key] != target else target
    if not found:
        return entries
    out = []
    for entry in entries:
        publisher = found.get(f"id:{entry.guid}") if entry.guid else None
        if publisher is None and entry.link:
            publisher = found.get(f"link:{entry.link}")
        out.append(entry if publisher is None else replace(entry, link=_resolve(publisher, url)))
    return tuple(out)


# An RSS item's <link> text; an Atom entry's <link> tags and their attributes. Possessive:
# linear on a run of spaces after <link> with nothing behind it.
_RSS_LINK = re.compile(rb"<link>\s*+(?:<!\[CDATA\[)?\s*+([^<\s\]]++)")
_LINK_TAG = re.compile(rb"<link\b([^>]*+)>")
_HREF = re.compile(rb"\bhref=[\"']([^\"']++)")
_REL = re.compile(rb"\brel=[\"']([^\"']++)")


def _dropped_links(body: bytes, entries: tuple[FeedEntry, ...], url: str) -> tuple[FeedEntry, ...]:
    """The fast parser drops a link to a private or local host (``127.0.0.1``, ``10.x``,
    ``wiki.corp.local``, ``*.internal``): an intranet feed's items would alert without
    their links. Such an entry gets the link its own item carries, when items and entries
    pair one to one (a feed with items the parser skipped keeps what it read)."""
    spans = list(_item_spans(body))
    if len(spans) != len(entries):
        return entries
    out = []
    for entry, (start, end) in zip(entries, spans, strict=True):
        found = None if entry.link else _item_link(body[start:end])
        out.append(entry if found is None else replace(entry, link=_resolve(found, url)))
    return tuple(out)


def _item_link(item: bytes) -> str | None:
    """An item's own link: RSS ``<link>`` text, else Atom's alternate ``<link href>``."""
    text = _RSS_LINK.search(item)
    raw = text.group(1) if text is not None else None
    if raw is None:
        for tag in _LINK_TAG.finditer(item):
            rel = _REL.search(tag.group(1))
            href = _HREF.search(tag.group(1))
            if href is not None and (rel is None or rel.group(1) == b"alternate"):
                raw = href.group(1)
                break
    if raw is None:
        return None
    link = unescape(raw.decode("utf-8", "replace")).strip()
    return link if link.startswith(("http://", "https://")) else None


def _fields_astray(entries: Sequence[FeedEntry]) -> bool:
    """Whether the fast parser may have misread an empty self-closed element: it gives
    the element after one nothing (a title, link or date missing) and its text to the
    empty one (a byline that is a date). Read from the result, so a clean feed pays a
    glance at its entries, not a scan of its body."""
    return any(
        not e.title or not e.link or e.published is None or (e.author or "x")[0].isdigit()
        for e in entries
    )


def _open_empty_elements(body: bytes) -> tuple[bytes, int]:
    """``<category/>`` becomes ``<category></category>``: the fast parser reads the text
    of the element after an empty self-closed one in an RSS item as that element's (a
    title vanished, a date became a category). Touches only markup outside CDATA.
    Returns the document and how many elements it opened."""
    if _EMPTY_ELEMENT.search(body) is None:
        return body, 0
    spans = _cdata_spans(body)
    opened = 0

    def fix(match: re.Match[bytes]) -> bytes:
        nonlocal opened
        if _inside(match.start(), spans):
            return match.group(0)
        opened += 1
        name, attributes = match.group(1), match.group(2) or b""
        return b"<" + name + attributes + b"></" + name + b">"

    out = _EMPTY_ELEMENT.sub(fix, body)
    return (out, opened) if opened else (body, 0)


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    # Spans are sorted and disjoint: binary search keeps a hostile document (many CDATA
    # sections, many '&') linear-logarithmic instead of quadratic.
    index = bisect_right(spans, (pos, _BIG)) - 1
    return index >= 0 and spans[index][0] <= pos < spans[index][1]


def _xml_char_ok(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _ttl_seconds(body: bytes) -> int | None:
    head_end = _ITEM_START.search(body)
    head = body[: head_end.start()] if head_end else body[:8192]
    ttl = _TTL.search(head)
    if ttl:
        minutes = int(ttl.group(1))
        if minutes > 0:
            return minutes * 60
    period = _SY_PERIOD.search(head)
    if period:
        seconds = _SY_PERIOD_SECONDS.get(period.group(1).decode("ascii").lower())
        if seconds:
            freq = _SY_FREQ.search(head)
            frequency = int(freq.group(1)) if freq else 1
            return seconds // max(frequency, 1)
    return None


# ---------------------------------------------------------------------------------------
# Parser result (feedparser or feedparser-rs, same field names) -> FeedEntry


def _get(obj: Any, name: str) -> Any:
    # feedparser gives dicts; feedparser-rs gives objects whose attributes are cheapest.
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _feed_link(feed: Any, url: str) -> str | None:
    link = _text(_get(feed, "link"))
    if not link:
        return None
    try:
        return urljoin(url, link)
    except ValueError:
        return None


def _entries(items: Iterable[Any], *, url: str, feed: Any) -> tuple[FeedEntry, ...]:
    base = _feed_link(feed, url) or url
    out = []
    for item in items:
        entry = _entry(item, base)
        if entry is not None:
            out.append(entry)
    return tuple(out)


def _entry(item: Any, base: str) -> FeedEntry | None:
    # Top-level fields by attribute: both feedparser-rs entries and feedparser's
    # FeedParserDict answer getattr, and a builtin getattr is the cheapest lookup there is
    # (this loop runs for every item of every changed feed).
    guid = _s(getattr(item, "id", None)) or None
    link = _s(getattr(item, "link", None))
    if not link:
        for candidate in getattr(item, "links", None) or ():
            if _s(_get(candidate, "rel")) in ("", "alternate"):
                link = _s(_get(candidate, "href"))
                if link:
                    break
    title = _s(getattr(item, "title", None))
    summary = _s(getattr(item, "summary", None))
    content = ""
    for block in getattr(item, "content", None) or ():
        content = _s(_get(block, "value"))
        if content:
            break
    if not (title or link or guid or summary or content):
        return None  # an empty <item/> (illegally nested or a template leftover)
    resolved = _resolve(link, base)
    source = getattr(item, "source", None)
    source_name = source_url = None
    if source is not None:
        source_name = _s(_get(source, "title")) or None
        source_url = _s(_get(source, "href")) or None
    return FeedEntry(
        guid=guid,
        link=resolved,
        title=title,
        summary=summary,
        content=content,
        published=_entry_date(item),
        source_name=source_name,
        source_url=source_url,
        image_url=_resolve(_image(item), resolved or base),
        author=_author(item),
    )


def _s(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _resolve(link: str | None, base: str) -> str | None:
    if not link:
        return None
    if "&amp;" in link:
        # feedparser-rs leaves '&amp;' undecoded in Atom link hrefs (Google Alerts).
        link = link.replace("&amp;", "&")
    if link.startswith(("http://", "https://")):
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


_DATE_FIELDS = (
    ("published_parsed", "published"),
    ("updated_parsed", "updated"),
    ("dc_date_parsed", "dc_date"),
    ("created_parsed", "created"),
)


def _entry_date(item: Any) -> datetime | None:
    for parsed_name, raw_name in _DATE_FIELDS:
        parsed = getattr(item, parsed_name, None)
        if parsed:
            # Both parsers hand back UTC struct_times; building the datetime directly is
            # 3x cheaper than timegm + fromtimestamp. A leap second (tm_sec 60) takes the
            # arithmetic route.
            try:
                year, month, day, hour, minute, second = parsed[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (ValueError, TypeError):
                try:
                    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
                except (OverflowError, ValueError, TypeError, OSError):
                    pass
        raw = getattr(item, raw_name, None)
        if raw:
            when = parse_date(str(raw))
            if when is not None:
                return when
    return None


def _image(item: Any) -> str | None:
    fallback = None
    for media in _get(item, "media_content") or ():
        href = _text(_get(media, "url"))
        if not href:
            continue
        medium = _text(_get(media, "medium")).lower()
        kind = _text(_get(media, "type")).lower()
        if medium == "image" or kind.startswith("image/"):
            return href
        if (
            fallback is None
            and medium in ("", "unknown")
            and not kind.startswith(("video/", "audio/"))
        ):
            fallback = href
    if fallback:
        return fallback
    for thumb in _get(item, "media_thumbnail") or ():
        href = _text(_get(thumb, "url"))
        if href:
            return href
    for enclosure in _get(item, "enclosures") or ():
        href = _text(_get(enclosure, "href"))
        if href and _text(_get(enclosure, "type")).lower().startswith("image/"):
            return href
    return None


def _author(item: Any) -> str | None:
    author = _text(_get(item, "author")) or _text(_get(item, "dc_creator"))
    if not author:
        for person in _get(item, "authors") or ():
            author = _text(_get(person, "name"))
            if author:
                break
    return author or None


# ---------------------------------------------------------------------------------------
# Dates


_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_SLASH_DATE = re.compile(
    r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$"
)


# Month names as feeds in other languages write them in RFC 822 dates ("Seg, 24 Set 2018
# 19:25:00 -0300", "Di, 03 Mär 2026"): Portuguese, Spanish, French, German, Italian and
# Dutch, in full and abbreviated. None of them names another month in another language.
_MONTH_NAMES = (
    "jan janeiro enero ene janvier janv januar jänner gennaio gen januari",
    "feb fevereiro fev febrero février févr fevr februar febbraio februari",
    "mar março marco marzo mars märz mär mrz maart mrt",
    "apr abril abr avril avr april aprile",
    "may maio mai mayo maggio mag mei",
    "jun junho junio juin juni giugno giu",
    "jul julho julio juillet juil juli luglio lug",
    "aug agosto ago août aout august augustus",
    "sep setembro set septiembre setiembre sept septembre september settembre",
    "oct outubro out octubre octobre oktober okt ottobre ott",
    "nov novembro noviembre novembre november",
    "dec dezembro dez diciembre dic décembre déc dezember dicembre december",
)
_ENGLISH_MONTH = {
    name: names.split()[0].title() for names in _MONTH_NAMES for name in names.split()
}
# [weekday,] day month year rest: the weekday (any language) is dropped, the month named.
_LOCAL_RFC822 = re.compile(r"(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{2,4}\s.*)")


def parse_date(value: str) -> datetime | None:
    """Parse a feed date into an aware UTC datetime, or None when it is not a date.

    Handles RFC 822 (also 'Z' zones, missing seconds, two-digit years, and day and month
    names in six other languages), ISO 8601 (also nanoseconds and a space instead of
    'T') and ``2020/1/10 14:33:00``. A date without a zone is taken as UTC.
    """
    value = value.strip()
    if not value:
        return None
    iso = _ISO_DATE.match(value) or _SLASH_DATE.match(value)
    if iso:
        return _from_parts(iso.groups())
    parts = parsedate_tz(value)
    if parts is None:
        local = _LOCAL_RFC822.fullmatch(value)
        month = _ENGLISH_MONTH.get(local.group(2).casefold()) if local else None
        if local and month:
            parts = parsedate_tz(f"{local.group(1)} {month} {local.group(3)}")
    if parts is not None:
        try:
            # Built field by field, so "31 Feb" is no date rather than 3 March.
            when = datetime(*parts[:6], tzinfo=UTC)
            return when - timedelta(seconds=parts[9] or 0)
        except (OverflowError, ValueError):
            return None
    return None


def _from_parts(groups: Sequence[str | None]) -> datetime | None:
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in groups[:6])
    fraction = groups[6] if len(groups) > 7 else None
    zone = groups[-1]
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        when = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        when = when.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))
    return when.astimezone(UTC)


# ---------------------------------------------------------------------------------------
# JSON Feed and RSS-in-JSON


def _parse_json(body: bytes, *, url: str) -> ParsedFeed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("invalid JSON: not UTF-8") from exc
    try:
        doc = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        return _recover_truncated_json(text, exc, url=url)
    except RecursionError as exc:  # the json module recurses per nesting level
        raise ParseError("refused: JSON nested too deeply") from exc
    if not isinstance(doc, dict):
        raise ParseError("not a feed: JSON document is not an object")
    if isinstance(doc.get("rss"), dict):
        return _rss_in_json(doc["rss"], url=url)
    version = str(doc.get("version") or "")
    if "jsonfeed.org" not in version and not (
        isinstance(doc.get("items"), list) and ("title" in doc or "home_page_url" in doc)
    ):
        keys = ", ".join(sorted(doc)[:5])
        raise ParseError(f"not a feed: JSON document is not a JSON Feed (keys: {keys})")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed without an items list")
    return _json_feed(doc, items, url=url, warning=None)


def _json_feed(
    doc: dict[str, Any], items: list[Any], *, url: str, warning: str | None
) -> ParsedFeed:
    link = _resolve(_str(doc.get("home_page_url")), url)
    base = link or url
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        entry = _json_entry(item, base)
        if entry is not None:
            entries.append(entry)
    return ParsedFeed(
        title=_str(doc.get("title")) or None,
        link=link,
        entries=tuple(entries),
        ttl_seconds=None,
        parser="json",
        warning=warning,
    )


def _json_entry(item: dict[str, Any], base: str) -> FeedEntry | None:
    guid = _str(item.get("id")) or None
    link = _str(item.get("url")) or _str(item.get("external_url"))
    title = _str(item.get("title"))
    summary = _str(item.get("summary"))
    content = _str(item.get("content_html")) or _str(item.get("content_text"))
    if not (title or link or guid or summary or content):
        return None
    author = None
    authors = item.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = _str(authors[0].get("name")) or None
    elif isinstance(item.get("author"), dict):
        author = _str(item["author"].get("name")) or None
    published = None
    for key in ("date_published", "date_modified"):
        raw = _str(item.get(key))
        if raw:
            published = parse_date(raw)
            if published:
                break
    resolved = _resolve(link, base)
    image = _str(item.get("image")) or _str(item.get("banner_image")) or None
    return FeedEntry(
        guid=guid,
        link=resolved,
        title=title,
        summary=summary,
        content=content,
        published=published,
        image_url=_resolve(image, resolved or base),
        author=author,
    )


def _rss_in_json(rss: dict[str, Any], *, url: str) -> ParsedFeed:
    channel = rss.get("channel")
    if not isinstance(channel, dict):
        raise ParseError("not a feed: RSS-in-JSON without a channel")
    items = channel.get("item") or []
    if isinstance(items, dict):
        items = [items]
    link = _resolve(_str(channel.get("link")), url)
    base = link or url
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        guid = item.get("guid")
        if isinstance(guid, dict):
            guid = guid.get("#value")
        title = _str(item.get("title"))
        entry_link = _str(item.get("link"))
        summary = _str(item.get("description"))
        if not (title or entry_link or summary):
            continue
        enclosure = item.get("enclosure")
        image = None
        if isinstance(enclosure, dict) and _str(enclosure.get("type")).startswith("image/"):
            image = _str(enclosure.get("url")) or None
        entries.append(
            FeedEntry(
                guid=_str(guid) or None,
                link=_resolve(entry_link, base),
                title=title,
                summary=summary,
                published=parse_date(_str(item.get("pubDate"))),
                image_url=image,
                author=_str(item.get("author")) or None,
            )
        )
    ttl = str(channel.get("ttl") or "").strip()
    return ParsedFeed(
        title=_str(channel.get("title")) or None,
        link=link,
        entries=tuple(entries),
        ttl_seconds=int(ttl) * 60 if ttl.isdigit() and int(ttl) > 0 else None,
        parser="json",
    )


def _str(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text: str = value
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _without_surrogates(text)
    return text.strip()


def _without_surrogates(text: str) -> str:
    """A lone UTF-16 surrogate ("\\ud83d": an emoji cut in half by a script) is valid
    JSON but no text: the database and every chat API refuse it. It becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
# A character reference to a UTF-16 surrogate (&#xD83D;, &#55357;): no XML character, and
# the tolerant parser raises on it (the fast one reads U+FFFD).
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _surrogate_refs_replaced(body: bytes) -> bytes:
    def replaced(match: re.Match[bytes]) -> bytes:
        hex_digits, digits = match.groups()
        code = int(hex_digits, 16) if hex_digits else int(digits)
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CHAR_REF.sub(replaced, body) if b"&#" in body else body


def _recover_truncated_json(text: str, exc: json.JSONDecodeError, *, url: str) -> ParsedFeed:
    """Keep the complete items of a JSON Feed cut off mid-download."""
    truncated = exc.pos >= len(text.rstrip()) - 1 or "Unterminated" in exc.msg
    if not truncated:
        raise ParseError(f"invalid JSON: {exc.msg} at offset {exc.pos}") from exc
    match = re.search(r'"items"\s*:\s*\[', text)
    if match is None:
        raise ParseError("truncated JSON: no items recovered") from exc
    decoder = json.JSONDecoder(strict=False)
    items: list[Any] = []
    pos = match.end()
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            break
        items.append(item)
    head: dict[str, Any] = {}
    for key in ("title", "home_page_url"):
        found = re.search(rf'"{key}"\s*:\s*', text[: match.start()])
        if found:
            with contextlib.suppress(json.JSONDecodeError):
                head[key], _ = decoder.raw_decode(text, found.end())
    parsed = _json_feed(head, items, url=url, warning="truncated JSON")
    if not parsed.entries:
        raise ParseError("truncated JSON: no items recovered") from exc
    return replace(parsed, warning=f"truncated JSON: recovered {len(parsed.entries)} items")
