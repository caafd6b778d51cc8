"""Block Kit for Slack: alerts and article cards, built inside Slack's limits.

Every builder here fits Slack's documented limits by construction, so a message is never
refused for its size: 50 blocks per message, 3000 characters per section text, 75 per
button label, 10 elements per context block, 3000 characters per URL. Feed text is
untrusted: ``&``, ``<`` and ``>`` are escaped (so nothing from a feed can become
``<!channel>``, ``<@U…>``, ``<#C…>`` or a link), and bare ``@channel`` / ``@here`` /
``@everyone`` get a zero-width joiner after the ``@``. The only mention an alert carries
is the user group its watch was configured with (``Alert.mention``).

All functions are pure: data in, ``SlackMessage`` out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.core import templates
from bot.core.display import display_text, web_url
from bot.core.highlight import highlight_spans
from bot.core.living import Growth
from bot.core.models import (
    Alert,
    ArticleView,
)

log = logging.getLogger(__name__)

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MAX_ACTION_ELEMENTS = 25
MAX_SELECT_OPTIONS = 100
MAX_OPTION_TEXT = 75
# Slack accepts 40k characters of `text`, but it is the notification line: keep it short.
MAX_FALLBACK_TEXT = 3000
# Stories a condensed listing shows in full: a block each, besides heading, "more", buttons.
LISTING_MAX = MAX_BLOCKS - 3

# Raw (unescaped) lengths we aim for before escaping; escaping can grow text up to 5x
# (`&` -> `&amp;`), so the hard limits above are enforced again after escaping.
TITLE_CHARS = 300
SUMMARY_CHARS = 500
LISTING_SUMMARY_CHARS = 200

ACTION_OPEN = "wirewatch_open"
ACTION_MUTE = "wirewatch_mute"
ACTION_STORY = "wirewatch_story"  # mute this story here
ACTION_STORY_PICK = "wirewatch_story_pick"  # a listing's "Mute a story…" menu
ACTION_IRRELEVANT = "wirewatch_irrelevant"  # not relevant to its watch
ACTION_PAUSE = "wirewatch_pause"  # snooze its watch here for a day
EVENT_TYPE = "wirewatch_alert"

_ZWJ = "\u200d"
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_GROUP_MENTION = re.compile(r"^(?:<!subteam\^)?(S[A-Z0-9]{2,})(?:\|[^>]*)?>?$")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What a Slack message needs: notification text plus Block Kit blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)


class ArticleLike(Protocol):
    """What both ``Alert`` and ``ArticleView`` offer for rendering."""

    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def published(self) -> datetime | None: ...
    @property
    def matched(self) -> tuple[str, ...]: ...


# --- escaping -------------------------------------------------------------------------


def escape_text(text: str) -> str:
    """Make untrusted text inert in mrkdwn: escape control characters, defuse broadcasts,
    drop control and bidi characters (:func:`~bot.core.display.display_text`)."""
    text = display_text(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + _ZWJ, text)


def clip(text: str, limit: int) -> str:
    """Shorten already-escaped mrkdwn to ``limit`` characters without breaking an entity,
    a ``<link|label>``, date or mention token, or a code span (cut open, Slack shows the
    rest of the message as raw markup or as code)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    if cut.count("```") % 2:
        cut = cut[: cut.rfind("```")]
    if cut.replace("```", "").count("`") % 2:
        cut = cut[: cut.rfind("`")]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def shorten(text: str, limit: int) -> str:
    """Shorten raw text to ``limit`` characters at a word boundary when one is near (on one
    line, without control or bidi characters)."""
    text = " ".join(display_text(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def safe_url(url: str) -> str | None:
    """An http(s) URL fit for a link or button, or None when it must not be linked.

    Percent-encoded by :func:`~bot.core.display.web_url`, so nothing in it (a space, ``|``,
    ``<``, ``>``) can end or split a ``<url|label>`` link.
    """
    return web_url(url, max_length=MAX_URL)


def link(url: str, label: str) -> str:
    """``<url|label>`` with the label escaped; just the label when the URL is unusable."""
    target = safe_url(url)
    text = escape_text(label).replace("|", "∣")
    if target is None:
        return text
    return f"<{target.replace('&', '&amp;')}|{text}>"


def mention_markup(mention: str | None) -> str | None:
    """``<!subteam^ID>`` for a configured user-group id; None for anything else."""
    if not mention:
        return None
    found = _GROUP_MENTION.match(mention.strip())
    if found is None:
        log.warning(
            "ignoring mention that is not a Slack user-group id", extra={"mention": mention}
        )
        return None
    return f"<!subteam^{found.group(1)}>"


def slack_date(value: datetime, style: str = "{date_short_pretty} at {time}") -> str:
    """Slack date formatting: each reader sees their own local time; fallback in UTC."""
    fallback = value.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(value.timestamp())}^{style}|{fallback}>"


def ago(value: datetime | None) -> str:
    return "never" if value is None else slack_date(value, "{ago}")


def highlight(text: str, terms: Iterable[str]) -> str:
    """Escape ``text`` and put the matched terms in bold (the spans the core finds)."""
    out: list[str] = []
    pos = 0
    for start, end in highlight_spans(text, terms):
        out.append(escape_text(text[pos:start]))
        out.append(f"*{escape_text(text[start:end])}*")
        pos = end
    out.append(escape_text(text[pos:]))
    return "".join(out)


# --- block builders -------------------------------------------------------------------


def section(text: str, **extra: Any) -> Block:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)},
        **extra,
    }


def context(*texts: str) -> Block:
    elements = [{"type": "mrkdwn", "text": clip(t, MAX_SECTION_TEXT)} for t in texts if t]
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def button(label: str, action_id: str, **extra: Any) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": shorten(label, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        **extra,
    }


def sections_from_lines(lines: Sequence[str], *, max_blocks: int) -> list[Block]:
    """Pack escaped lines into as few sections as fit; say how many were left out."""
    blocks: list[Block] = []
    current: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        line = clip(line, MAX_SECTION_TEXT - 100)
        if current and size + len(line) + 1 > MAX_SECTION_TEXT - 100:
            if len(blocks) == max_blocks - 1:
                rest = len(lines) - index
                current.append(f"_…and {rest} more_")
                blocks.append(section("\n".join(current)))
                return blocks
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def story_menu(alerts: Sequence[Alert]) -> Block | None:
    """A listing's "Mute a story…" menu: one option per story it shows (its headline,
    within Slack's 75 characters; its alert id as the value), at most Slack's 100."""
    options: dict[str, Block] = {}
    for alert in alerts:
        if alert.story_key in options:
            continue
        label = shorten(alert.title, MAX_OPTION_TEXT) or shorten(alert.url, MAX_OPTION_TEXT)
        options[alert.story_key] = {
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": str(alert.id),
        }
        if len(options) == MAX_SELECT_OPTIONS:
            break
    if not options:
        return None
    return {
        "type": "static_select",
        "action_id": ACTION_STORY_PICK,
        "placeholder": {"type": "plain_text", "text": "Mute a story…", "emoji": True},
        "options": list(options.values()),
    }


def fit_blocks(blocks: list[Block]) -> list[Block]:
    """Last line of defence: never more than 50 blocks."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    dropped = len(blocks) - (MAX_BLOCKS - 1)
    return [*blocks[: MAX_BLOCKS - 1], context(f"_…{dropped} more blocks left out_")]


def _fallback(text: str) -> str:
    return clip(text, MAX_FALLBACK_TEXT)


# --- alerts ---------------------------------------------------------------------------


def _watch_label(watch_id: int | None, name: str | None) -> str:
    if watch_id is None:
        return ""
    label = f"watch #{watch_id}"
    return f"{label} ({escape_text(name)})" if name else label


def _matched_label(matched: Sequence[str]) -> str:
    return ", ".join(escape_text(t) for t in matched)


def _also_reported(names: Sequence[str], coverage: Sequence[tuple[str, str]] = ()) -> str:
    """``also reported by Reuters, SCMP (+3)``, each outlet linked to its article."""
    if not names:
        return ""
    links = dict(coverage)
    shown = [
        link(links[n], shorten(n, 60)) if n in links else escape_text(shorten(n, 60))
        for n in names[:3]
    ]
    more = len(names) - len(shown)
    return "also reported by " + ", ".join(shown) + (f" (+{more})" if more else "")


def _further(item: Alert | ArticleView) -> str:
    """``more on this story: <url|headline> (Outlet) · …``: the story's articles that are
    news of their own beside this one, by headline."""
    if not item.further:
        return ""
    shown = [
        f"{link(url, shorten(title, 100))} ({escape_text(shorten(source, 60))})"
        for source, title, url in item.further
    ]
    return "more on this story: " + " · ".join(shown)


def _hits_line(alert: Alert) -> str:
    """Every watch that matched the story here: ``matched: x · watch #1; matched: y · …``."""
    parts = []
    for hit in alert.hits:
        matched = f"matched: {_matched_label(hit.matched)}" if hit.matched else ""
        watch = _watch_label(hit.watch_id, hit.watch_name)
        parts.append(" · ".join(p for p in (matched, watch) if p))
    return "; ".join(parts)


def _mentions(alerts: Sequence[Alert]) -> list[str]:
    marks = (mention_markup(h.mention) for a in alerts for h in a.hits)
    return list(dict.fromkeys(m for m in marks if m))


def _source_line(item: ArticleLike) -> str:
    parts = [f"*{escape_text(shorten(item.source, 100))}*"] if item.source else []
    if item.published is not None:
        parts.append(slack_date(item.published))
    return " · ".join(parts)


def _personal(destination: str) -> bool:
    return destination.startswith("slack-dm:")


def _mute_button(watch_id: int, action_id: str, label: str = "Mute this watch here") -> Block:
    return button(
        label,
        action_id,
        value=str(watch_id),
        confirm={
            "title": {"type": "plain_text", "text": "Mute this watch here?"},
            "text": {
                "type": "mrkdwn",
                "text": f"Stop alerts from watch #{watch_id} in this channel. "
                f"`subscribe {watch_id}` brings them back.",
            },
            "confirm": {"type": "plain_text", "text": "Mute"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    )


def render_alert(alert: Alert) -> SlackMessage:
    """One alert: linked headline, source and time, snippet, match context, buttons."""
    title = shorten(alert.title, TITLE_CHARS) or alert.url
    mention = " ".join(_mentions([alert]))
    headline = f"*{link(alert.url, title)}*"
    if alert.updated:
        headline += " _(updated)_"
    templated = templated_line(alert)
    if templated:
        headline = templated
    if mention:
        headline = f"{mention} {headline}"
    head: Block = section(headline)
    image = safe_url(alert.image_url) if alert.image_url else None
    if image:
        head["accessory"] = {
            "type": "image",
            "image_url": image,
            "alt_text": shorten(alert.source or "image", 100),
        }
    blocks: list[Block] = [head]
    source_line = _source_line(alert)
    if source_line:
        blocks.append(context(source_line))
    if alert.summary.strip():
        blocks.append(section(highlight(shorten(alert.summary, SUMMARY_CHARS), alert.matched)))
    blocks.append(
        context(
            _hits_line(alert),
            _also_reported(alert.also_reported_by, alert.coverage),
            _further(alert),
        )
    )
    buttons: list[Block] = []
    target = safe_url(alert.url)
    if target:
        buttons.append(button("Open article", f"{ACTION_OPEN}:{alert.id}", url=target))
    buttons += [
        button("Mute this story", f"{ACTION_STORY}:{alert.id}", value=str(alert.id)),
        button("Not relevant", f"{ACTION_IRRELEVANT}:{alert.id}", value=str(alert.id)),
        button("Pause watch 24h", f"{ACTION_PAUSE}:{alert.watch_id}", value=str(alert.watch_id)),
    ]
    if _personal(alert.destination):
        pass  # a DM's watches are the person's own: `dm remove`, not a channel's mute
    elif alert.also_matched:
        for hit in alert.hits[:4]:
            buttons.append(
                _mute_button(
                    hit.watch_id, f"{ACTION_MUTE}:{hit.watch_id}", f"Mute watch #{hit.watch_id}"
                )
            )
    else:
        buttons.append(_mute_button(alert.watch_id, f"{ACTION_MUTE}:{alert.watch_id}"))
    blocks.append({"type": "actions", "elements": buttons})
    text = f"{escape_text(title)} — {escape_text(alert.source)}"
    if mention:
        text = f"{mention} {text}"
    return SlackMessage(text=_fallback(text), blocks=fit_blocks(blocks))


def templated_line(alert: Alert, *, one_line: bool = False) -> str | None:
    """The channel's template for this alert in mrkdwn, or None (no template, or one that
    fails: the default headline then, and a log line; templates are checked when set)."""
    if not alert.template:
        return None
    try:
        out = templates.render(
            alert.template,
            templates.fields_of(alert, escape_text, escape_url=escape_text),
            one_line=one_line,
        )
    except templates.TemplateError as e:
        log.warning("template failed at send time: %s", e)
        return None
    # Field values are escaped; the template's own text may link (<url|text>) but never
    # mention or broadcast.
    out = re.sub(r"<(?=[!@#])", "&lt;", out)
    return _BROADCAST.sub("@" + _ZWJ, out)


def render_alert_batch(alerts: Sequence[Alert]) -> SlackMessage:
    """Several alerts for one channel condensed into one listing message."""
    if len(alerts) == 1:
        return render_alert(alerts[0])
    mentions = _mentions(alerts)
    watch_ids = list(dict.fromkeys(h.watch_id for a in alerts for h in a.hits))
    heading = f"*{len(alerts)} new stories*"
    if len(watch_ids) == 1:
        heading += f" for {_watch_label(alerts[0].watch_id, alerts[0].watch_name)}"
    if mentions:
        heading = " ".join(mentions) + " " + heading
    mute_ids = watch_ids[:5]
    # heading + one section per alert + (maybe) "more" context + actions.
    room = LISTING_MAX
    blocks: list[Block] = [section(heading)]
    for alert in alerts[:room]:
        title = shorten(alert.title, TITLE_CHARS) or alert.url
        facts = [_source_line(alert)]
        if len(watch_ids) > 1 or alert.also_matched:
            facts.append(_hits_line(alert))
        elif alert.matched:
            facts.append(f"matched: {_matched_label(alert.matched)}")
        if alert.also_reported_by:
            facts.append(_also_reported(alert.also_reported_by, alert.coverage))
        updated = " _(updated)_" if alert.updated else ""
        # The channel's template shapes each story's line here as in its own message.
        headline = templated_line(alert, one_line=True) or f"*{link(alert.url, title)}*"
        lines = [f"{headline}{updated}", " · ".join(f for f in facts if f)]
        blocks.append(section("\n".join(lines)))
    if len(alerts) > room:
        blocks.append(context(f"_…and {len(alerts) - room} more_"))
    # Every story it shows can be muted from the listing itself, as from its own message.
    menu = story_menu(alerts[:room])
    controls: list[Block] = [menu] if menu is not None else []
    if not _personal(alerts[0].destination):
        controls += [
            _mute_button(w, f"{ACTION_MUTE}:{w}", f"Mute watch #{w} here") for w in mute_ids
        ]
    if controls:
        blocks.append({"type": "actions", "elements": controls[:MAX_ACTION_ELEMENTS]})
    titles = "; ".join(escape_text(shorten(a.title, 120)) for a in alerts)
    text = f"{len(alerts)} new stories: {titles}"
    if mentions:
        text = " ".join(mentions) + " " + text
    return SlackMessage(text=_fallback(text), blocks=fit_blocks(blocks))


def _outlets(alert: Alert) -> str:
    n = 1 + len(alert.also_reported_by)
    return f"{n} outlets" if n > 1 else "1 outlet"


def render_digest(alerts: Sequence[Alert]) -> SlackMessage:
    """One page of a summary: stories grouped by watch (in queue order, which the core
    sorted newest first), each with its outlet count. Summaries never ping."""
    heading = alerts[0].digest or "Summary"
    groups: dict[int, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.watch_id, []).append(alert)
    blocks: list[Block] = [
        section(
            f"*{escape_text(heading)}* · {len(alerts)} {'story' if len(alerts) == 1 else 'stories'}"
        )
    ]
    for group in groups.values():
        first = group[0]
        lines = [f"*{_watch_label(first.watch_id, first.watch_name)}*"]
        for alert in group:
            title = shorten(alert.title, TITLE_CHARS) or alert.url
            facts = [escape_text(shorten(alert.source, 60)), _outlets(alert)]
            if alert.published is not None:
                facts.append(slack_date(alert.published, "{date_short_pretty} {time}"))
            if alert.also_matched:
                facts.append(
                    "also "
                    + ", ".join(_watch_label(h.watch_id, h.watch_name) for h in alert.also_matched)
                )
            headline = templated_line(alert, one_line=True) or link(alert.url, title)
            lines.append(f"• {headline} — " + " · ".join(f for f in facts if f))
        blocks.extend(sections_from_lines(lines, max_blocks=MAX_BLOCKS - len(blocks)))
    titles = "; ".join(escape_text(shorten(a.title, 120)) for a in alerts)
    return SlackMessage(
        text=_fallback(f"{escape_text(heading)}: {titles}"), blocks=fit_blocks(blocks)
    )


def render_update(grown: Sequence[Growth]) -> SlackMessage:
    """A thread reply under a story's message: each story that grew (by the headline the
    thread knows it by, under a listing), its coverage now and a headline changed since."""
    lines = []
    for growth in grown:
        alert = growth.alert
        if growth.named:
            known = shorten(growth.headline, TITLE_CHARS) or alert.url
            lines.append(f"🗞️ *{link(alert.url, known)}*")
        if growth.retitled:
            title = shorten(alert.title, TITLE_CHARS) or alert.url
            lines.append(f"✏️ Headline now: *{link(alert.url, title)}*")
        outlets = 1 + len(alert.also_reported_by)
        if alert.also_reported_by:
            lines.append(
                f"📰 Now carried by {outlets} outlets — "
                + _also_reported(alert.also_reported_by, alert.coverage)
            )
        if alert.further:
            lines.append("🧵 " + _further(alert))
    text = "\n".join(lines) or "Coverage of this story grew."
    return SlackMessage(text=_fallback(text), blocks=[section(clip(text, MAX_SECTION_TEXT))])


def without_buttons(message: SlackMessage) -> SlackMessage:
    """The message with its buttons taken out, for an incoming webhook: a click there would
    reach no app (an "Open article" link button would, but the headline links already)."""
    blocks = [b for b in message.blocks if b.get("type") != "actions"]
    return SlackMessage(text=message.text, blocks=blocks)


def render_alerts(alerts: Sequence[Alert]) -> SlackMessage:
    """The message for one delivery batch (one alert, a condensed listing, or a page of a
    summary)."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    if alerts[0].digest:
        return render_digest(alerts)
    return render_alert(alerts[0]) if len(alerts) == 1 else render_alert_batch(alerts)


def alert_metadata(alerts: Sequence[Alert]) -> dict[str, Any]:
    """Message metadata that lets a resend find the message an earlier attempt posted."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"alert_id": alerts[0].id, "alert_ids": [a.id for a in alerts]},
    }


# --- article cards (latest, watch test) -------------------------------------------


def render_articles(articles: Sequence[ArticleView], heading: str) -> SlackMessage:
    """``latest`` and ``watch test``: a story a line (led by its first report), formatted
    like a condensed alert listing.

    ``heading`` is mrkdwn the caller already escaped.
    """
    blocks: list[Block] = [section(heading)]
    room = MAX_BLOCKS - 2
    for article in articles[:room]:
        title = shorten(article.title, TITLE_CHARS) or article.url
        lines = [f"*{link(article.url, title)}*"]
        facts = [_source_line(article)]
        if article.latest_at is not None:
            facts.append(f"latest coverage {slack_date(article.latest_at, '{ago}')}")
        if article.matched:
            facts.append(f"matched: {_matched_label(article.matched)}")
        if article.watch_id is not None:
            facts.append(_watch_label(article.watch_id, None))
        if article.also_reported_by:
            facts.append(_also_reported(article.also_reported_by, article.coverage))
        lines.append(" · ".join(f for f in facts if f))
        if article.further:
            lines.append(_further(article))
        if article.summary.strip():
            lines.append(
                highlight(shorten(article.summary, LISTING_SUMMARY_CHARS), article.matched)
            )
        blocks.append(section("\n".join(lines)))
    if len(articles) > room:
        blocks.append(context(f"_…and {len(articles) - room} more_"))
    titles = "; ".join(escape_text(shorten(a.title, 80)) for a in articles[:10])
    return SlackMessage(
        text=_fallback(f"{heading}: {titles}" if titles else heading), blocks=fit_blocks(blocks)
    )
