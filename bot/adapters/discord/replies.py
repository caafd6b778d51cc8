"""Core command replies (:mod:`bot.core.commands.reply`) as Discord content and embeds.

Plain spans are untrusted and go through ``clean`` (markdown escaped, mentions broken); a
:class:`Cmd` becomes ``/watch list``; a :class:`When` is a Discord timestamp every reader
sees in their own time zone; a :class:`UserRef` shows the member without pinging (every
reply is sent with no allowed mentions).
"""

from __future__ import annotations

import discord

from bot.adapters.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    TITLE_LIMIT,
    clean,
    embed_size,
    fit,
    render_articles,
    utf16_len,
)
from bot.core.commands.catalogue import lookup
from bot.core.commands.reply import (
    Articles,
    Cmd,
    Code,
    Line,
    Link,
    Native,
    Paragraph,
    Pre,
    Reply,
    Section,
    Span,
    Strong,
    Tone,
    UserRef,
    When,
    plain_text,
)
from bot.core.commands.textargs import CommandTextError, parse_args

# A section with less room than this is left out rather than shown as "…and N more".
SECTION_ROOM_MIN = 60
# How far a listing's long pieces (queries, addresses) shrink, in turn, before lines that
# still do not fit are counted as "…and N more" instead of shown.
SHRINK_STEPS = (120, 60, 32, 20)

_COLOURS = {
    Tone.INFO: discord.Colour.blurple(),
    Tone.SUCCESS: discord.Colour.green(),
    Tone.WARNING: discord.Colour.orange(),
    Tone.ERROR: discord.Colour.red(),
}


def _code(text: str) -> str:
    # A backtick inside would end the code span early; the look-alike keeps it readable.
    return "`" + " ".join(text.split()).replace("`", "ˋ") + "`"


def _edges(text: str, inner: str) -> str:
    # ``clean`` trims, but spans are pieces of a sentence: keep the space between them.
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and text.strip() else ""
    return lead + inner + trail


def _clean_keeping_edges(text: str) -> str:
    return _edges(text, clean(text))


# Discord names an option once per command; the catalogue's plural is one pick here.
OPTION_NAMES = {
    "watches": "watch",
    "per-hour": "per_hour",
    "min-outlets": "min_outlets",
    "no-ping": "no_ping",
    "google-news": "google_news",
    "no-google-news": "no_google_news",
}


def option_name(param: str) -> str:
    """A catalogue parameter's name as a Discord option."""
    return OPTION_NAMES.get(param, param)


def command_text(cmd: Cmd) -> str:
    """A command to type, in Discord's words: its arguments as the named options a slash
    command takes (``/watch add query:lithium name:li``), its usage as the options' names.
    The catalogue writes them as Slack's one line of text (``--name li``), which typed into
    a Discord option became part of a query."""
    spec = lookup(cmd.name)
    plain = f"/{cmd.name}" + (f" {cmd.args}" if cmd.args else "")
    if spec is None or not cmd.args:
        return plain
    if cmd.args == spec.usage:
        shown = sorted((p for p in spec.params), key=lambda p: not p.required)
        names = [option_name(p.name) if p.required else f"[{option_name(p.name)}]" for p in shown]
        return f"/{spec.name} " + " ".join(names)
    try:
        given = parse_args(spec, cmd.args)
    except CommandTextError:
        return plain
    options: list[str] = []
    for param in spec.params:
        value = given.get(param.name)
        if value is None or value == param.default:
            continue
        if isinstance(value, tuple):
            value = " ".join(str(v) for v in value)
        options.append(f"{option_name(param.name)}:{value}")
    return f"/{spec.name}" + "".join(f" {o}" for o in options)


def markdown(spans: Line) -> str:
    out: list[str] = []
    for span in spans:
        if isinstance(span, str):
            out.append(_clean_keeping_edges(span))
        elif isinstance(span, Cmd):
            out.append(_code(command_text(span)))
        elif isinstance(span, Code):
            out.append(_code(span.text))
        elif isinstance(span, Strong):
            out.append(_edges(span.text, f"**{clean(span.text)}**"))
        elif isinstance(span, Link):
            out.append(f"[{clean(span.label)}](<{span.url}>)" if span.label else f"<{span.url}>")
        elif isinstance(span, UserRef):
            out.append(f"<@{span.user_id}>" if span.user_id.isdigit() else clean(span.user_id))
        elif isinstance(span, Native):
            out.append(span.text)
        elif isinstance(span, When):
            style = "f" if span.absolute else "R"  # the reader's local date and time
            out.append("never" if span.at is None else f"<t:{int(span.at.timestamp())}:{style}>")
    return "".join(out)


def listing(lines: list[str], limit: int = DESCRIPTION_LIMIT) -> str:
    """Lines joined within ``limit``; what does not fit is counted, not cut mid-line."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left_after = len(lines) - i - 1
        reserve = utf16_len(f"…and {left_after} more") + 1 if left_after else 0
        size = utf16_len(line) + (1 if out else 0)
        if used + size + reserve > limit:
            out.append(f"…and {len(lines) - i} more")
            break
        out.append(line)
        used += size
    return "\n".join(out)


def _shrunk(spans: Line, limit: int) -> Line:
    """``spans`` with each query, address or other long piece cut to ``limit`` characters."""

    def cut(text: str) -> str:
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

    out: list[Span] = []
    for span in spans:
        if isinstance(span, str):
            out.append(cut(span))
        elif isinstance(span, Code):
            out.append(Code(cut(span.text)))
        elif isinstance(span, Strong):
            out.append(Strong(cut(span.text)))
        else:
            out.append(span)
    return tuple(out)


def section_listing(lines: tuple[Line, ...], room: int) -> str:
    """A section's lines within ``room``: when they do not all fit, their long pieces shrink
    step by step first, so a channel's 50 watches are all listed, each query shortened
    (15 of them fitted, and the rest were only counted, with no way to see them)."""
    rows = [markdown(r) for r in lines]
    for limit in SHRINK_STEPS:
        if utf16_len("\n".join(rows)) <= room:
            break
        rows = [markdown(_shrunk(r, limit)) for r in lines]
    return listing(rows, room)


def render_reply(reply: Reply) -> tuple[str | None, list[discord.Embed]]:
    """(content, embeds) of one interaction response, inside Discord's limits."""
    paragraphs: list[str] = []
    embeds: list[discord.Embed] = []
    colour = _COLOURS[reply.tone]
    used = 0  # Discord refuses a message whose embeds hold more than 6000 in all
    for block in reply.blocks:
        if isinstance(block, Paragraph):
            paragraphs.append(markdown(block.spans))
        elif isinstance(block, Pre):
            paragraphs.append("```\n" + block.text.replace("`", "ˋ") + "\n```")
        elif isinstance(block, Section):
            title = fit(plain_text(block.heading), TITLE_LIMIT)
            room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - used - utf16_len(title))
            if room < SECTION_ROOM_MIN:
                continue  # no room left: later sections are left out whole
            lines = block.lines or ((block.empty,) if block.empty else ())
            embed = discord.Embed(
                title=title, description=section_listing(lines, room) or None, colour=colour
            )
            embeds.append(embed)
            used += embed_size(embed)
        elif isinstance(block, Articles):
            for embed in render_articles(block.articles):
                if used + embed_size(embed) > EMBED_TOTAL_LIMIT:
                    break
                embeds.append(embed)
                used += embed_size(embed)
    content = fit_paragraphs(paragraphs, CONTENT_LIMIT) if paragraphs else None
    return content, embeds[:EMBEDS_PER_MESSAGE]


def fit_paragraphs(paragraphs: list[str], limit: int) -> str:
    """The paragraphs on lines of their own within ``limit`` UTF-16 units: when they are
    too long together, the shorter keep whole and the longer share what is left, so a
    long first paragraph never pushes out the ones after it (what was not understood in
    a long ``subscribe``, the hint at the end of an error)."""
    room = limit - (len(paragraphs) - 1)
    sizes = [utf16_len(p) for p in paragraphs]
    if sum(sizes) <= room:
        return "\n".join(paragraphs)
    budget = [0] * len(paragraphs)
    left = room
    by_size = sorted(range(len(paragraphs)), key=lambda i: sizes[i])
    for n, i in enumerate(by_size):
        budget[i] = min(sizes[i], left // (len(paragraphs) - n))
        left -= budget[i]
    return "\n".join(fit(p, budget[i]) for i, p in enumerate(paragraphs))
