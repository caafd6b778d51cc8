"""HTML (or plain text with entities) -> one line of plain text, fast and linear.

Feed text arrives as HTML fragments of every quality: escaped markup, markup cut off in the
middle of a tag, entities escaped twice by a careless CMS (``Trump&amp;apos;s``), NBSP and
zero-width characters. No parser and no tree: ordinary markup goes through one linear
regex (``[^<>]*`` cannot run past the next '<', so there is no backtracking); comments,
script/style blocks, a quoted '>' and cut-off tags go through a small ``str.find``
tokenizer. Either way a hostile summary cannot make it slow. Block-level tags become
spaces so words on both sides of ``<br>`` or ``</p>`` do not run together; inline tags
vanish.

Titles get a stricter reading (:func:`title_to_text`): there a '<' is as likely a word as
markup ("Use the <dialog> element", "3 < 5"), so only tags that are markup beyond doubt
are removed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from bot.core.display import without_escape_sequences

__all__ = ["html_to_text", "title_to_text"]

# Tags whose content is never text a reader would see.
_SKIP_CONTENT = frozenset({"script", "style", "noscript", "template", "head", "title", "svg"})
# Tags that separate words (block level, line breaks, table cells, list items).
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul", "iframe", "video", "audio", "source",
        "picture", "option", "caption", "center", "font",
    }
)  # fmt: skip
# Elements a title may carry as markup without closing them.
_TITLE_VOID = frozenset({"br", "img", "hr", "wbr"})
_CLOSING_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9:-]*)\s*>")
# Linear: '[^<>]*' cannot run past the next '<', and the possessive name ('*+') never
# hands characters back to it (a greedy one did, one at a time, on '<a' and a long run
# without '>': quadratic, 8 s for 80,000 characters).
_SIMPLE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*+)[^<>]*+>")
_LEFTOVER_TAG = re.compile(r"<[A-Za-z/]")


def _trie(words: Iterable[str]) -> str:
    """A regex matching exactly ``words``, their shared prefixes factored out: the engine
    tries alternatives one by one, so at every '<' a flat list of ~50 names costs ~50 tries,
    a trie a few."""
    heads: dict[str, list[str]] = {}
    for word in sorted(words):
        heads.setdefault(word[:1], []).append(word[1:])
    ends = "" in heads
    branches = [re.escape(head) + _trie(tails) for head, tails in heads.items() if head]
    if not branches:
        return ""
    if len(branches) == 1 and not ends:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if ends else "")


# What _SIMPLE_TAG matches when its whole name is a block element (ASCII case-insensitive,
# as ``name.lower() in _BLOCK``), and when it holds a quote.
_BLOCK_TAG = re.compile(
    r"</?" + _trie(_BLOCK) + r"(?![A-Za-z0-9:-])[^<>]*+>", re.IGNORECASE | re.ASCII
)
_MARK = "<\x01"  # never a tag: '<' is not followed by a letter or '/'
_QUOTED_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*+[^<>\"']*+[\"'][^<>]*+>")
_SKIP_START = re.compile(r"<(?:script|style|noscript|template|head|title|svg)\b", re.IGNORECASE)
_ESCAPED_MARKERS = ("&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#", "&nbsp;")
# Zero-width and control characters that carry no text are removed.
# (A regex finds and removes them ~10x faster than str.translate with a dict.)
_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\u200b-\u200d\u2060\ufeff]+")


def html_to_text(value: str) -> str:
    """Strip tags, decode entities (also doubly escaped ones), fold whitespace, trim."""
    return _to_text(value, _strip_tags)


def title_to_text(value: str) -> str:
    """Like :func:`html_to_text`, for a title: a tag is removed only when it is markup
    beyond doubt, so "Use the &lt;dialog&gt; element" keeps its word.

    Titles are plain text in most feeds (Atom says so with type="text"), yet some carry a
    little markup (<b> from Google Alerts, <em>, escaped once more by a careless CMS). A
    tag counts as markup when its element is closed somewhere in the title (<em>..</em>),
    when it is a void element a title may hold (<br>, <img>), or inside a comment or
    CDATA section. Any other '<' is text, before and after entities are decoded.
    """
    return _to_text(value, _strip_title_tags)


def _to_text(value: str, strip_tags: Callable[[str], str]) -> str:
    if not value:
        return ""
    text = strip_tags(value) if "<" in value else value
    # A second round undoes a CMS that escaped its HTML or entities once more.
    for _ in range(2):
        if "&" not in text:
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
        if "<" in text and ">" in text:
            text = strip_tags(text)
        if not any(marker in text for marker in _ESCAPED_MARKERS):
            break
    return _fold(text)


def _fold(text: str) -> str:
    """``text`` with whitespace folded to single spaces and trimmed, less what _DROP
    matches (and terminal escape sequences, when there is any)."""
    folded = " ".join(text.split())
    # Every character _DROP removes is unprintable, so a printable fold holds none of them
    # but those the split took for whitespace, which _DROP deletes instead (words joined).
    # These checks run at C speed (chained: a generator costs more than the six), where
    # the regex scan cost as much as the split and join.
    if folded.isprintable() and not (
        "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
        or "\x1f" in text
    ):
        return folded
    if _DROP.search(text):
        return " ".join(_DROP.sub("", without_escape_sequences(text)).split())
    return folded


def _strip_title_tags(value: str) -> str:
    if "<!" in value or "<?" in value:
        return _tokenize(value)  # comments and CDATA sections are markup beyond doubt
    closed = {name.lower() for name in _CLOSING_TAG.findall(value)}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if name in closed or name in _TITLE_VOID:
            return " " if name in _BLOCK else ""
        return match.group(0)

    return _SIMPLE_TAG.sub(replace, value)


def _strip_tags(value: str) -> str:
    """Regex fast path for ordinary markup; the tokenizer for anything unusual."""
    if "<!" in value or "<?" in value or _SKIP_START.search(value):
        return _tokenize(value)
    if ('"' in value or "'" in value) and any(
        tag.count('"') % 2 or tag.count("'") % 2 for tag in _QUOTED_TAG.findall(value)
    ):
        return _tokenize(value)  # a '>' inside a quoted attribute: let the tokenizer decide
    if "\x01" in value:  # could make a mark once a tag between '<' and it is gone
        return _strip_tags_one_by_one(value)
    # Without a Python callback per tag (a feed summary has ~10 tags, and every new item's
    # summary is cleaned): block tags become a mark, the other tags go, marks become
    # spaces. The mark starts with '<' so, like the tag it replaces, it stops a tag match
    # begun by a stray '<' before it: the text is what one pass over the tags gives.
    text = _SIMPLE_TAG.sub("", _BLOCK_TAG.sub(_MARK, value))
    if _LEFTOVER_TAG.search(text):
        return _tokenize(value)
    return text.replace(_MARK, " ")


def _strip_tags_one_by_one(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return " " if match.group(1).lower() in _BLOCK else ""

    text = _SIMPLE_TAG.sub(replace, value)
    if _LEFTOVER_TAG.search(text):
        return _tokenize(value)
    return text


def _tokenize(value: str) -> str:
    out: list[str] = []
    lower: str | None = None
    pos = 0
    n = len(value)
    while pos < n:
        lt = value.find("<", pos)
        if lt < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:lt])
        nxt = value[lt + 1 : lt + 2]
        if value.startswith("<!--", lt):
            end = value.find("-->", lt + 4)
            pos = n if end < 0 else end + 3
            continue
        if value.startswith("<![CDATA[", lt):
            end = value.find("]]>", lt + 9)
            out.append(value[lt + 9 : n if end < 0 else end])
            pos = n if end < 0 else end + 3
            continue
        if nxt in ("!", "?"):
            end = value.find(">", lt)
            pos = n if end < 0 else end + 1
            continue
        closing = nxt == "/"
        name_start = lt + 2 if closing else lt + 1
        name_end = name_start
        while name_end < n and (value[name_end].isalnum() or value[name_end] in "-:"):
            name_end += 1
        if name_end == name_start or not value[name_start].isalpha():
            out.append("<")  # a literal '<' as in "a < b"
            pos = lt + 1
            continue
        end = _tag_end(value, name_end)
        if end < 0:
            break  # markup cut off inside a tag: the rest is not text
        name = value[name_start:name_end].lower()
        pos = end + 1
        if name in _BLOCK:
            out.append(" ")
        if not closing and name in _SKIP_CONTENT and value[end - 1] != "/":
            if lower is None:
                lower = value.lower()
            close = lower.find("</" + name, pos)
            if close < 0:
                break
            gt = value.find(">", close)
            pos = n if gt < 0 else gt + 1
            out.append(" ")
    return "".join(out)


def _tag_end(value: str, pos: int) -> int:
    """Index of the '>' closing a tag, skipping quoted attribute values; -1 if none."""
    gt = value.find(">", pos)
    if gt < 0:
        return -1
    segment = value[pos:gt]
    if '"' not in segment and "'" not in segment:
        return gt
    quote = ""
    i = pos
    # Bounded look-ahead: an unbalanced quote must not make every tag scan to the end.
    n = min(len(value), gt + 2048)
    while i < n:
        c = value[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == ">":
            return i
        i += 1
    return gt  # an unbalanced quote (title='it's'): trust the first '>'
