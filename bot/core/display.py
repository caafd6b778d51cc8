"""Feed text and links made fit to show on any platform.

Feed text is written by strangers. Before an adapter escapes it for its own markup, two
things are removed here, once for every platform:

* **Control characters** (C0, DEL, C1, line and paragraph separators) become spaces: a
  title with a raw newline or a terminal escape must not restyle or split a message.
* **Bidirectional and invisible formatting controls** (U+202A-U+202E embeddings and
  overrides, U+2066-U+2069 isolates, LRM/RLM/ALM, the deprecated U+206A-U+206F, the BOM and
  interlinear annotation marks) are deleted. A right-to-left override turns
  ``evil.com/gpj.exe`` into something that reads as ``exe.jpg``; no headline needs one.
  Zero-width joiners stay: emoji sequences are built from them.

Links get the same single treatment: :func:`web_url` accepts http(s) only and
percent-encodes whatever a strict URL parser refuses (spaces, brackets, quotes, non-ASCII),
so Discord does not answer 400 "Not a well formed URL" and a Slack ``<url|label>`` cannot
be split by a ``|`` or ``>`` inside the URL.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["display_text", "web_url"]

# ECMA-48 sequences, 7-bit (ESC-introduced) and 8-bit (C1) forms. A string sequence with no
# terminator runs to the end of the text, as a terminal would swallow it.
ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [\x20-/]* [@-~]             # CSI: cursor, erase, colours
    | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]) .*? (?:\x07|\x1b\\|\x9c|\Z)
                                                          # OSC, DCS, SOS, PM, APC strings
    | \x1b [\x20-/]* [0-~]                                # other escapes (ESC c resets)
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INVISIBLE_FORMATTING = re.compile(
    "[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u206a-\u206f\ufeff\ufff9-\ufffb]"
)
# RFC 3986 characters a path, query or fragment may hold as they are; "%" only as the
# start of an escape (a stray one is encoded below).
_SAFE_IN_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_IN_QUERY = _SAFE_IN_PATH + "?"
_STRAY_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")
_HOST = re.compile(r"[a-z0-9._-]+")


def display_text(text: str) -> str:
    """``text`` without control characters (made spaces) or bidi/invisible format controls."""
    if text.isascii():
        # The common case: only C0 controls and DEL can be present.
        return _CONTROLS.sub(" ", text) if not text.isprintable() else text
    return _INVISIBLE_FORMATTING.sub("", _CONTROLS.sub(" ", text))


def web_url(url: str | None, *, max_length: int) -> str | None:
    """``url`` as a well-formed http(s) URL, or None when it must not be linked.

    The host is IDNA-encoded, user info is dropped, and path, query and fragment are
    percent-encoded where RFC 3986 requires it (existing escapes are kept). None for other
    schemes, unparsable URLs and results longer than ``max_length``.
    """
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = _ascii_host(parts.hostname)
    if host is None:
        return None
    netloc = host if port is None else f"{host}:{port}"
    encoded = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            _encode(parts.path, _SAFE_IN_PATH),
            _encode(parts.query, _SAFE_IN_QUERY),
            _encode(parts.fragment, _SAFE_IN_QUERY),
        )
    )
    return encoded if len(encoded) <= max_length else None


def _ascii_host(hostname: str) -> str | None:
    if ":" in hostname:  # an IPv6 literal (urlsplit removed its brackets)
        return f"[{hostname}]" if re.fullmatch(r"[0-9a-f:.]+", hostname) else None
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _HOST.fullmatch(host) else None


def _encode(component: str, safe: str) -> str:
    return quote(_STRAY_PERCENT.sub("%25", component), safe=safe)


def without_escape_sequences(text: str) -> str:
    """``text`` without terminal escape sequences, removed whole: dropping only their ESC
    would leave ``]0;title`` or ``[2J`` on screen as text."""
    return text if "\x1b" not in text and not _C1.search(text) else ESCAPE_SEQUENCE.sub("", text)


_C1 = re.compile("[\x90\x98\x9b\x9d\x9e\x9f]")
