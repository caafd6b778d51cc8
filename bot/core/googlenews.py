"""Google News items: the article behind a wrapped link, an identity that survives Google
re-encoding that link, and summaries without the publisher names glued into them.

Pure functions only, no I/O.

Google News wraps every article link as ``news.google.com/rss/articles/<token>`` (also
``/articles/`` and ``/__i/rss/rd/articles/``). The token is base64url of a small protobuf
message. In the old format (until about 2024) a field of that message is the article URL
itself, so :func:`article_url` reads it offline. Current tokens carry an opaque id
(``AU_yqL...``) that only Google's servers resolve, one request per article to
news.google.com; we make no such request (it would need a rate limit and an opt-in, and
Google answers scrapers with consent pages), so those items keep the wrapped link, and
:func:`publisher_id` gives them an identity that does not depend on it: one outlet's
headline on one day is one article, whatever token Google gives it next.
"""

from __future__ import annotations

import re
from base64 import urlsafe_b64decode
from binascii import Error as Base64Error
from urllib.parse import urlsplit

__all__ = ["article_url", "is_google_news_host", "publisher_id", "summary_html"]

_ARTICLE_PATHS = ("/rss/articles/", "/articles/", "/__i/rss/rd/articles/")
# A token is a few hundred characters at most; anything far longer is not one.
_MAX_TOKEN = 4096
# The publisher Google glues after each headline of a description (grey), and under the
# thumbnail of old descriptions (small); and the link to the "Full Coverage" page at the
# end of a cluster.
_PUBLISHER_FONT = re.compile(
    r"<font\s+(?:color=[\"']?#6f6f6f|size=[\"']?-2)[\"']?\s*>[^<]*</font>", re.IGNORECASE
)
_LIST_ITEMS = re.compile(r"</li>\s*<li>", re.IGNORECASE)
_FULL_COVERAGE = re.compile(
    r"<a\s[^>]*href=[\"']?https?://news\.google\.com/stories/[^>]*>[^<]*</a>", re.IGNORECASE
)


def is_google_news_host(host: str) -> bool:
    """Whether ``host`` (lowercase) serves Google News feeds or article links."""
    return host == "news.google.com" or host.endswith(".news.google.com")


def article_url(url: str) -> str | None:
    """The article URL inside an old-format Google News link, or None.

    None for anything else: a current opaque token (``AU_yqL...``), a damaged token, or a
    URL that is not a Google News article link.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not is_google_news_host((parts.hostname or "").lower()):
        return None
    for prefix in _ARTICLE_PATHS:
        if parts.path.startswith(prefix):
            token = parts.path[len(prefix) :]
            break
    else:
        return None
    if not token or "/" in token or len(token) > _MAX_TOKEN:
        return None
    try:
        raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (Base64Error, ValueError):
        return None
    return _url_field(raw)


def _url_field(message: bytes) -> str | None:
    """The first length-delimited field of a protobuf message that is an http(s) URL."""
    pos = 0
    while pos < len(message):
        key, pos = _varint(message, pos)
        if key is None:
            return None
        wire_type = key & 7
        if wire_type == 0:
            _, pos = _varint(message, pos)
        elif wire_type == 2:
            length, pos = _varint(message, pos)
            if length is None or pos + length > len(message):
                return None
            value = message[pos : pos + length]
            pos += length
            if value.startswith((b"http://", b"https://")):
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return None
        else:
            return None  # no other wire type occurs in these tokens
    return None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = 0
    for shift in range(0, 35, 7):
        if pos >= len(data):
            return None, pos
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    return None, pos


def publisher_id(source_url: str | None, source_name: str | None) -> str | None:
    """Who published a Google News item: the domain of its ``<source url>`` (without
    ``www.``), else its publisher's name folded, else None."""
    if source_url:
        try:
            host = (urlsplit(source_url.strip()).hostname or "").lower().rstrip(".")
        except ValueError:
            host = ""
        if host:
            return host.removeprefix("www.")
    name = " ".join((source_name or "").casefold().split())
    return name or None


def summary_html(description: str) -> str:
    """A Google News description without the publisher name glued after each headline,
    nor the "View Full Coverage" link: what is left is the headlines, one " · " between
    two (and, in old feeds, a lead sentence)."""
    if "<" not in description:
        return description
    html = _FULL_COVERAGE.sub("", _PUBLISHER_FONT.sub("", description))
    return _LIST_ITEMS.sub("</li> · <li>", html)
