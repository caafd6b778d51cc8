"""Alerts and articles as Discord embeds, inside Discord's limits, with feed text defused.

Feed text is untrusted: it may carry markdown that would restyle the alert, or
``@everyone`` / ``<@&role>`` that would ping a server. Every piece of it goes through
``clean`` (markdown escaped, mentions broken with a zero-width space) before it reaches an
embed, and messages are sent with ``allowed_mentions`` none; the single exception is the role
a watch was configured to ping (``Alert.mention``), which goes in the message content.

Limits (Discord counts UTF-16 code units, so we do too, which is never more lenient):
title 256, description 4096, field value 1024, footer 2048, author 256, content 2000,
10 embeds per message and 6000 characters across a message's embeds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from bot.core import templates
from bot.core.display import display_text, web_url
from bot.core.highlight import highlight_spans
from bot.core.living import Growth
from bot.core.models import Alert, ArticleView

log = logging.getLogger(__name__)

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000
URL_LIMIT = 2048
# A summary longer than this reads as a wall of text in a channel; the link has the rest.
DEFAULT_SUMMARY_CHARS = 600

ELLIPSIS = "…"
_ZWSP = "\u200b"
# Broader than discord.utils.escape_mentions (which wants 17-20 digit ids): any @digits,
# @everyone and @here are broken, whatever the length.
_MENTION = re.compile(r"@(everyone|here|[!&]?\d+)", re.IGNORECASE)
_ROLE_MENTION = re.compile(r"^(?:<@&(\d{1,20})>|role:(\d{1,20})|(\d{1,20}))$")
_WS = re.compile(r"\s+")
# What Discord's markdown gives a meaning to anywhere in a line: emphasis, spoilers, code,
# masked links, mentions and timestamps (``<...>``), headings, the escape itself.
_MARKDOWN_CHAR = re.compile(r"[\\*_~|`\[\]<>#]")
# A list item or subtext marker opens a line: "- x", "+ x", "-# x", "1. x", "1) x".
_LINE_START = re.compile(r"^(?:[-+]|\d+[.)](?=\s))")
# Discord's own notion of a bare link (its autolink rule): links are left as they are.
_BARE_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")


def utf16_len(text: str) -> int:
    """Length as Discord counts it (astral characters such as emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending in an ellipsis when cut."""
    if utf16_len(text) <= limit:
        return text
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that, with an ellipsis added, fits ``limit``."""
    if limit <= 0:
        return ""
    out: list[str] = []
    used = 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return _trim_dangling_escape("".join(out).rstrip()) + ELLIPSIS


def _trim_dangling_escape(text: str) -> str:
    # A cut right after a markdown-escaping backslash would escape the ellipsis instead.
    stripped = text.rstrip("\\")
    if (len(text) - len(stripped)) % 2:
        return text[:-1]
    return text


def neutralise_mentions(text: str) -> str:
    """Break @everyone, @here, <@user>, <@!user> and <@&role> so none of them can ping."""
    return _MENTION.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)


def escape_markdown(text: str) -> str:
    """Every character Discord's markdown acts on, escaped with a backslash.

    discord.utils.escape_markdown escapes only the first of several masked links (its
    pattern swallows everything from the first ``[`` to the last ``)`` and escapes that
    once), so it is not used. Here every ``[`` and ``]`` is escaped, so no ``[text](url)``,
    ``[text](<url>)`` or nested form can form a link; bare URLs are kept as they are (Discord
    links them itself, an escape inside one would break it) except their brackets.
    """
    out: list[str] = []
    pos = 0
    for found in _BARE_URL.finditer(text):
        out.append(_MARKDOWN_CHAR.sub(r"\\\g<0>", text[pos : found.start()]))
        out.append(found.group().replace("[", "%5B").replace("]", "%5D"))
        pos = found.end()
    out.append(_MARKDOWN_CHAR.sub(r"\\\g<0>", text[pos:]))
    escaped = "".join(out)
    # List items and subtext open a line; whitespace is collapsed, so only the start can.
    start = _LINE_START.match(escaped)
    if start is None:
        return escaped
    marker = start.group()
    return f"{marker[:-1]}\\{marker[-1]}{escaped[start.end() :]}"


def clean(text: str) -> str:
    """Feed text made safe for places Discord renders markdown: escaped and defused."""
    return neutralise_mentions(escape_markdown(plain_line(text)))


def plain(text: str) -> str:
    """Feed text for places without markdown (author, footer): only defused."""
    return neutralise_mentions(plain_line(text))


def plain_line(text: str) -> str:
    """Feed text on one line, without control or bidi characters."""
    return _WS.sub(" ", display_text(text)).strip()


def role_id(mention: str | None) -> int | None:
    """The role id a watch pings: accepts ``123``, ``<@&123>`` or ``role:123``."""
    if not mention:
        return None
    m = _ROLE_MENTION.match(mention.strip())
    if m is None:
        return None
    return int(next(g for g in m.groups() if g))


def watch_colour(watch_id: int) -> discord.Colour:
    """A colour per watch, stable across restarts: hues spread by the golden ratio."""
    hue = (watch_id * 0.618033988749895) % 1.0
    return discord.Colour.from_hsv(hue, 0.62, 0.88)


def highlighted(text: str, terms: Iterable[str], limit: int) -> str:
    """``text`` cleaned, matched terms in **bold**, cut to ``limit`` without breaking markup."""
    text = plain_line(text)
    if limit <= 0 or not text:
        return ""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in highlight_spans(text, terms):
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((text[start:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))

    out: list[str] = []
    used = 0
    for i, (raw, bold) in enumerate(pieces):
        core = clean(raw)
        if bold:
            rendered = f"**{core}**"
        elif not core:
            rendered = " "  # only whitespace between two matched terms
        else:
            lead = " " if raw[:1].isspace() else ""
            trail = " " if raw[-1:].isspace() else ""
            rendered = f"{lead}{core}{trail}"
        last = i == len(pieces) - 1
        room = limit - used - (0 if last else 1)  # keep one unit for the ellipsis
        if utf16_len(rendered) <= room:
            out.append(rendered)
            used += utf16_len(rendered)
            continue
        # This piece does not fit: cut it (bold pieces are dropped whole, never half-bolded).
        out.append(ELLIPSIS if bold else cut(rendered, limit - used))
        break
    return "".join(out).strip()


def _http_url(url: str | None) -> str | None:
    return web_url(url, max_length=URL_LIMIT)


def footer_text(alert: Alert) -> str:
    """``matched: rare earth · watch #3 (name)``, for every watch that matched the story
    here, and ``updated`` when its headline changed after it was first posted."""
    parts = []
    for hit in alert.hits:
        matched = ", ".join(hit.matched) or hit.watch_query
        part = f"matched: {matched} · watch #{hit.watch_id}"
        if hit.watch_name:
            part += f" ({hit.watch_name})"
        parts.append(part)
    if alert.updated:
        parts.append("headline updated")
    return plain("; ".join(parts))


def also_reported_text(item: Alert | ArticleView) -> str:
    """``[Reuters](<url>), [SCMP](<url>) (+3)``: the outlets carrying the story too."""
    links = dict(item.coverage)
    shown = []
    for name in item.also_reported_by[:3]:
        url = _http_url(links.get(name))
        shown.append(f"[{clean(name)}](<{url}>)" if url else clean(name))
    more = len(item.also_reported_by) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more else "")


def further_text(item: Alert | ArticleView) -> str:
    """``[headline](<url>) · Outlet`` per line: the story's articles that are news of
    their own beside this one."""
    lines = []
    for source, title, url in item.further:
        target = _http_url(url)
        headline = fit(clean(title), 150)
        lines.append(
            (f"[{headline}](<{target}>)" if target else headline) + f" · {fit(clean(source), 60)}"
        )
    return "\n".join(lines)


def render_alert(
    alert: Alert, *, summary_limit: int = DEFAULT_SUMMARY_CHARS, compact: bool = False
) -> discord.Embed:
    """One alert as an embed. ``compact`` trims everything so ten fit in one message."""
    title_limit, small_limit = (100, 100) if compact else (TITLE_LIMIT, FOOTER_LIMIT)
    summary_limit = min(summary_limit, DESCRIPTION_LIMIT)
    embed = discord.Embed(
        title=fit(clean(alert.title) or alert.url, title_limit),
        url=_http_url(alert.url),
        description=highlighted(alert.summary, alert.matched, summary_limit) or None,
        colour=watch_colour(alert.watch_id),
        timestamp=_aware(alert.published),
    )
    if alert.source:
        embed.set_author(name=fit(plain(alert.source), 64 if compact else AUTHOR_LIMIT))
    embed.set_footer(text=fit(footer_text(alert), small_limit))
    image = _http_url(alert.image_url)
    if image:
        embed.set_thumbnail(url=image)
    if alert.also_reported_by and not compact:
        embed.add_field(
            name="Also reported by",
            value=fit(also_reported_text(alert), FIELD_VALUE_LIMIT),
            inline=False,
        )
    if alert.further and not compact:
        embed.add_field(
            name="More on this story",
            value=fit(further_text(alert), FIELD_VALUE_LIMIT),
            inline=False,
        )
    return embed


def _aware(value: datetime | None) -> datetime | None:
    # discord.py reads a naive datetime as local time; ours are UTC.
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)


def _unix(value: datetime) -> int:
    """Seconds since the epoch, for Discord's ``<t:…>`` markup (a naive time is UTC)."""
    return int((value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp())


def embed_size(embed: discord.Embed) -> int:
    """The characters Discord counts towards a message's 6000 (UTF-16 units)."""
    total = utf16_len(embed.title or "") + utf16_len(embed.description or "")
    for f in embed.fields:
        total += utf16_len(f.name or "") + utf16_len(f.value or "")
    total += utf16_len(embed.footer.text or "") + utf16_len(embed.author.name or "")
    return total


def _overflow_embed(alerts: Sequence[Alert]) -> discord.Embed:
    lines = []
    for a in alerts:
        title, source = fit(clean(a.title), 120), fit(clean(a.source), 40)
        url = _http_url(a.url)
        if url:
            # Parentheses would end the link target early: encoded like any other.
            target = url.replace("(", "%28").replace(")", "%29")
            lines.append(f"• [{title or clean(url)}]({target}) — {source}")
        else:
            lines.append(f"• {title} — {source}")
    description = ""
    for i, line in enumerate(lines):
        more = f"\n…and {len(lines) - i} more" if i else f"…and {len(lines)} more"
        candidate = f"{description}\n{line}" if description else line
        if utf16_len(candidate) + utf16_len(more) > 1500:
            description = f"{description}{more}" if description else more
            break
        description = candidate
    return discord.Embed(title=f"{len(alerts)} more alerts", description=description)


def render_alerts(alerts: Sequence[Alert]) -> list[discord.Embed]:
    """Up to ten embeds for one message, together within Discord's 6000 characters.

    More than ten alerts: nine embeds and a tenth listing the rest as links. When the
    full embeds are too big together, summaries share what is left, and failing that
    every embed goes compact (short title, no summary, no extra field).
    """
    if not alerts:
        return []
    head = list(alerts[: EMBEDS_PER_MESSAGE - 1] if len(alerts) > EMBEDS_PER_MESSAGE else alerts)
    rest = list(alerts[len(head) :])
    extra = [_overflow_embed(rest)] if rest else []

    def build(
        summary_limit: int = DEFAULT_SUMMARY_CHARS, compact: bool = False
    ) -> list[discord.Embed]:
        return [render_alert(a, summary_limit=summary_limit, compact=compact) for a in head] + extra

    embeds = build()
    if sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT:
        return embeds
    fixed = sum(embed_size(e) - utf16_len(e.description or "") for e in embeds)
    share = (EMBED_TOTAL_LIMIT - fixed) // len(head)
    if share >= 80:
        embeds = build(summary_limit=share)
        if sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT:
            return embeds
    compact = build(summary_limit=0, compact=True)
    fixed = sum(embed_size(e) for e in compact)
    share = (EMBED_TOTAL_LIMIT - fixed) // len(head)
    return build(summary_limit=max(share, 0), compact=True)


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """Everything one Discord message for a batch of alerts needs."""

    content: str | None
    embeds: list[discord.Embed]
    allowed_mentions: discord.AllowedMentions


DIGEST_LINE_LIMIT = 500  # ten of them, with the titles, stay inside the 6000 a message has
DIGEST_URL_LIMIT = 300


def _digest_line(alert: Alert, limit: int = DIGEST_LINE_LIMIT) -> str:
    # The channel's template shapes each story's line here as in its own message.
    templated = templated_line(alert, one_line=True)
    title = templated or fit(clean(alert.title) or clean(alert.url), min(200, limit // 2))
    outlets = 1 + len(alert.also_reported_by)
    facts = [fit(clean(alert.source), 60), f"{outlets} outlet{'s' if outlets > 1 else ''}"]
    if alert.published is not None:
        facts.append(f"<t:{_unix(alert.published)}:R>")
    if alert.also_matched:
        facts.append("also " + ", ".join(f"#{h.watch_id}" for h in alert.also_matched))
    tail = " — " + " · ".join(f for f in facts if f)
    url = _http_url(alert.url)
    if templated is None and url and len(url) <= DIGEST_URL_LIMIT:
        linked = f"[{title}]({url.replace('(', '%28').replace(')', '%29')})"
        # A line cut inside its link would break it: the headline goes unlinked instead.
        if len(f"• {linked}{tail}") <= limit:
            return f"• {linked}{tail}"
    return fit(f"• {title}{tail}", limit)


def render_digest(alerts: Sequence[Alert]) -> list[discord.Embed]:
    """One page of a summary: an embed per watch listing its stories (queue order, which
    the core sorted newest first) with outlet counts; the first embed carries the heading.
    Lines shrink (links, then headlines) until the page fits Discord's 6,000 characters,
    which it would otherwise refuse whole (the page was then sent a story at a time)."""
    for limit in (DIGEST_LINE_LIMIT, 300, 200, 120):
        embeds, whole = _digest_embeds(alerts, limit)
        if whole and sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT:
            break
    return embeds


def _digest_embeds(alerts: Sequence[Alert], limit: int) -> tuple[list[discord.Embed], bool]:
    """The page's embeds with lines of at most ``limit``, and whether every watch's lines
    fit its embed whole (else one was cut, perhaps inside a link)."""
    whole = True
    groups: dict[int, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.watch_id, []).append(alert)
    heading = fit(plain(alerts[0].digest or "Summary"), 200)
    count = f"{len(alerts)} {'story' if len(alerts) == 1 else 'stories'}"
    embeds = []
    for index, group in enumerate(list(groups.values())[:EMBEDS_PER_MESSAGE]):
        first = group[0]
        label = f"watch #{first.watch_id}" + (f" ({first.watch_name})" if first.watch_name else "")
        lines = "\n".join(_digest_line(a, limit) for a in group)
        whole = whole and utf16_len(lines) <= DESCRIPTION_LIMIT
        embed = discord.Embed(
            title=fit(f"{heading} · {count}" if index == 0 else plain(label), TITLE_LIMIT),
            description=fit(lines, DESCRIPTION_LIMIT),
            colour=watch_colour(first.watch_id),
        )
        if index == 0:
            embed.set_author(name=fit(plain(label), AUTHOR_LIMIT))
        embeds.append(embed)
    return embeds, whole


def update_text(grown: Sequence[Growth]) -> str:
    """A reply under a story's message: each story that grew (by the headline the thread
    knows it by, under a listing), its coverage now and a headline changed since."""
    lines = []
    for growth in grown:
        alert = growth.alert
        if growth.named:
            lines.append(f"🗞️ **{fit(clean(growth.headline) or clean(alert.url), 200)}**")
        if growth.retitled:
            lines.append(f"✏️ Headline now: **{fit(clean(alert.title), 200)}**")
        if alert.also_reported_by:
            outlets = 1 + len(alert.also_reported_by)
            lines.append(f"📰 Now carried by {outlets} outlets — {also_reported_text(alert)}")
        if alert.further:
            lines.append("🧵 More on this story:\n" + further_text(alert))
    return fit("\n".join(lines) or "Coverage of this story grew.", CONTENT_LIMIT)


def templated_line(alert: Alert, *, one_line: bool = False) -> str | None:
    """The channel's template for this alert in Discord markdown, or None (no template, or
    one that fails: the embed alone then, and a log line; templates are checked when set)."""
    if not alert.template:
        return None
    try:
        out = templates.render(alert.template, templates.fields_of(alert, clean), one_line=one_line)
    except templates.TemplateError as e:
        log.warning("template failed at send time: %s", e)
        return None
    return neutralise_mentions(out)


def alert_message(alerts: Sequence[Alert]) -> AlertMessage:
    """The message for a batch: embeds, and the watch's role ping as the only mention."""
    if alerts and alerts[0].digest:
        # Summaries never ping: they are what a channel reads when it chooses to.
        return AlertMessage(None, render_digest(alerts), discord.AllowedMentions.none())
    roles: list[int] = []
    for hit in (h for alert in alerts for h in alert.hits):
        rid = role_id(hit.mention)
        if rid is not None and rid not in roles:
            roles.append(rid)
    content = " ".join(f"<@&{rid}>" for rid in roles) or None
    # The channel's template shapes each story's line: beside the embed of a one-story
    # message, one line per story above a listing's compact embeds.
    one_line = len(alerts) > 1
    templated = "\n".join(
        line for alert in alerts if (line := templated_line(alert, one_line=one_line))
    )
    if templated:
        content = fit(f"{content} {templated}" if content else templated, CONTENT_LIMIT)
    allowed = discord.AllowedMentions(
        everyone=False,
        users=False,
        replied_user=False,
        roles=[discord.Object(id=rid) for rid in roles] if roles else False,
    )
    return AlertMessage(content, render_alerts(alerts), allowed)


BUTTON_PREFIX = "ww"  # custom_id "ww:<action>:<value>"; on_component reads it back


def alert_buttons(alerts: Sequence[Alert]) -> list[tuple[str, str]]:
    """(label, custom_id) of the buttons under a one-story message; none under listings or
    summaries (their stories each have their own message, or none)."""
    if len(alerts) != 1 or alerts[0].digest:
        return []
    alert = alerts[0]
    return [
        ("Mute this story", f"{BUTTON_PREFIX}:story:{alert.id}"),
        ("Not relevant", f"{BUTTON_PREFIX}:irrelevant:{alert.id}"),
        ("Pause watch 24h", f"{BUTTON_PREFIX}:pause:{alert.watch_id}"),
    ]


STORY_MENU_ID = f"{BUTTON_PREFIX}:story-pick"  # a listing's menu; the value is an alert id
MENU_OPTIONS_LIMIT = 25
MENU_LABEL_LIMIT = 100


def story_menu(alerts: Sequence[Alert]) -> list[tuple[str, str]]:
    """(label, value) of a listing's "Mute a story…" menu: each story it shows by its
    headline (within Discord's 100 characters; select labels show no markdown) and its
    alert id, at most Discord's 25. None under one story's message (it has its buttons)
    or a summary."""
    if len(alerts) < 2 or alerts[0].digest:
        return []
    options: dict[str, tuple[str, str]] = {}
    for alert in alerts:
        if alert.story_key not in options:
            label = fit(plain_line(alert.title) or alert.url, MENU_LABEL_LIMIT)
            options[alert.story_key] = (label, str(alert.id))
    return list(options.values())[:MENU_OPTIONS_LIMIT]


def notice_text(text: str) -> str:
    """An operational notice kept as text (from before notices were data) as message
    content: it holds a feed's title and a server's error text, so it is escaped as feed
    text is (no masked link, spoiler or heading of theirs), defused, within 2000."""
    return fit(neutralise_mentions(escape_markdown(display_text(text))), CONTENT_LIMIT)


def render_article(article: ArticleView, *, summary_limit: int = 300) -> discord.Embed:
    """A stored article for ``/latest`` and ``/watch test``: its story's first report, with
    the other outlets carrying it and the story's news of its own (left out with the
    summary, when ten must fit)."""
    embed = discord.Embed(
        title=fit(clean(article.title) or article.url, TITLE_LIMIT),
        url=_http_url(article.url),
        description=highlighted(article.summary, article.matched, summary_limit) or None,
        colour=watch_colour(article.watch_id) if article.watch_id else discord.Colour.light_grey(),
        timestamp=_aware(article.published),
    )
    if article.source:
        embed.set_author(name=fit(plain(article.source), AUTHOR_LIMIT))
    if article.matched:
        embed.set_footer(text=fit(plain(f"matched: {', '.join(article.matched)}"), FOOTER_LIMIT))
    image = _http_url(article.image_url)
    if image:
        embed.set_thumbnail(url=image)
    if article.latest_at is not None:
        # The embed's own time is the first report's; the listing is ordered by this one.
        embed.add_field(
            name="Latest coverage",
            value=f"<t:{_unix(article.latest_at)}:R>",
            inline=False,
        )
    if article.also_reported_by and summary_limit:
        embed.add_field(
            name="Also reported by",
            value=fit(also_reported_text(article), FIELD_VALUE_LIMIT),
            inline=False,
        )
    if article.further and summary_limit:
        embed.add_field(
            name="More on this story",
            value=fit(further_text(article), FIELD_VALUE_LIMIT),
            inline=False,
        )
    return embed


def render_articles(articles: Sequence[ArticleView]) -> list[discord.Embed]:
    """Up to ten article embeds within 6000 characters, shrinking summaries as needed."""
    head = list(articles[:EMBEDS_PER_MESSAGE])
    for limit in (300, 120, 0):
        embeds = [render_article(a, summary_limit=limit) for a in head]
        if sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT:
            return embeds
    # Titles alone (10 x 256 + authors/footers) can still exceed: drop to eight, then fewer.
    while embeds and sum(embed_size(e) for e in embeds) > EMBED_TOTAL_LIMIT:
        embeds.pop()
    return embeds
