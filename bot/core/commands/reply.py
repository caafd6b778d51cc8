"""The neutral reply every command returns; each adapter renders it natively.

A reply is data, never platform markup: text is a sequence of *spans* (plain strings are
untrusted and escaped by the renderer), a reference to another command is a :class:`Cmd`
that each surface words in its own syntax (``/wirewatch feeds list`` on Slack, ``/feeds
list`` on Discord, ``wirewatch feed list`` on the command line), and lists are
:class:`Section` blocks the renderer fits into its platform's limits ("…and 12 more").
Model: errbot's ``Card``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.models import ArticleView


@dataclass(frozen=True, slots=True)
class Cmd:
    """A command to type, e.g. ``Cmd("watch remove", "7")``."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Code:
    """Inline code (a query, an id)."""

    text: str


@dataclass(frozen=True, slots=True)
class Strong:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class UserRef:
    """A chat user (platform-native id, e.g. ``U0123`` or ``4242``): rendered as a mention
    that never notifies anyone but is readable."""

    user_id: str


@dataclass(frozen=True, slots=True)
class When:
    """A moment, rendered for the reader: relative ("3 minutes ago"), or with
    ``absolute`` as a date and time in the reader's own time zone where the platform
    knows it (Slack and Discord date tokens; UTC elsewhere)."""

    at: datetime | None
    absolute: bool = False


@dataclass(frozen=True, slots=True)
class Native:
    """Text already in the platform's own markup, written by the adapter itself (such as
    who may manage a channel, with real mentions): rendered as is. Never feed or user text."""

    text: str


Span = str | Cmd | Code | Strong | Link | UserRef | When | Native
Line = tuple[Span, ...]


def line(*spans: Span) -> Line:
    return tuple(spans)


@dataclass(frozen=True, slots=True)
class Paragraph:
    spans: Line


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and lines; renderers cut what does not fit and say how many were left."""

    heading: Line
    lines: tuple[Line, ...]
    empty: Line = ()  # shown when there are no lines


@dataclass(frozen=True, slots=True)
class Pre:
    """Preformatted text (a query with a caret under the bad character)."""

    text: str


@dataclass(frozen=True, slots=True)
class Articles:
    """Article cards (``latest``, ``watch test``): rendered like alerts, with matched terms
    in bold."""

    articles: tuple[ArticleView, ...]


Block = Paragraph | Section | Pre | Articles


@dataclass(frozen=True, slots=True)
class FileOut:
    """A file that goes with a reply (a chart, an OPML export): each adapter uploads it
    natively (Slack files upload v2 to the channel, a Discord attachment on the response).

    ``title`` is what people read beside the file; ``alt`` describes a picture for those
    who cannot see it."""

    name: str
    mime_type: str
    data: bytes
    title: str
    alt: str = ""


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Visibility(StrEnum):
    PRIVATE = "private"  # only the person who asked sees it
    CHANNEL = "channel"  # everyone in the channel (``latest share``)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers.

    ``summary`` is the plain one-line fallback (Slack's notification text). ``announce``
    is a separate message for everyone in the channel when the command changed what the
    channel receives, so a change is never silent. ``files`` are uploaded with the answer
    (where the answer is private, Slack still uploads them to the channel: it has no
    private files).
    """

    summary: str
    blocks: tuple[Block, ...] = ()
    tone: Tone = Tone.INFO
    visibility: Visibility = Visibility.PRIVATE
    announce: Line | None = None
    title: str | None = None
    data: dict[str, object] = field(default_factory=dict)  # machine-readable facts for tests
    files: tuple[FileOut, ...] = ()

    @property
    def failed(self) -> bool:
        return self.tone is Tone.ERROR


def text_reply(*spans: Span, tone: Tone = Tone.INFO, announce: Line | None = None) -> Reply:
    """A reply of one paragraph."""
    return Reply(
        summary=plain_text(spans),
        blocks=(Paragraph(tuple(spans)),),
        tone=tone,
        announce=announce,
    )


def plain_text(spans: Line, *, command_prefix: str = "") -> str:
    """Spans as plain text (fallbacks, logs, the console)."""
    out: list[str] = []
    for span in spans:
        if isinstance(span, str):
            out.append(span)
        elif isinstance(span, Cmd):
            out.append(f"{command_prefix}{span.name}" + (f" {span.args}" if span.args else ""))
        elif isinstance(span, Code | Strong | Native):
            out.append(span.text)
        elif isinstance(span, Link):
            out.append(span.label or span.url)
        elif isinstance(span, UserRef):
            out.append(f"@{span.user_id}")
        elif isinstance(span, When):
            out.append(span.at.strftime("%Y-%m-%d %H:%M UTC") if span.at else "never")
    return "".join(out)


def reply_text(reply: Reply, *, command_prefix: str = "") -> str:
    """A whole reply as plain text: what tests and the console read."""
    parts: list[str] = []
    for block in reply.blocks:
        if isinstance(block, Paragraph):
            parts.append(plain_text(block.spans, command_prefix=command_prefix))
        elif isinstance(block, Section):
            parts.append(plain_text(block.heading, command_prefix=command_prefix))
            rows = block.lines or ((block.empty,) if block.empty else ())
            parts.extend(plain_text(r, command_prefix=command_prefix) for r in rows)
        elif isinstance(block, Pre):
            parts.append(block.text)
        elif isinstance(block, Articles):
            parts.extend(
                f"{a.source}: {a.title} {a.url}"
                + (f" (also {', '.join(a.also_reported_by)})" if a.also_reported_by else "")
                for a in block.articles
            )
    parts.extend(f"[{f.name}: {f.title}]" for f in reply.files)
    return "\n".join(p for p in parts if p)
