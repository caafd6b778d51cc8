"""Console destination: alerts as readable lines (or JSON lines) on stdout.

Feed text reaches a terminal here, so every field from outside goes through
:func:`line` (no escape sequences, no control or bidi characters, one line) and JSON lines
escape the C1 controls ``json.dumps`` leaves raw: a headline cannot retitle the window,
clear the screen or write the clipboard.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from bot.core.commands.reply import Cmd, Line
from bot.core.commands.reply import plain_text as _plain_text
from bot.core.display import display_text
from bot.core.models import Alert, iso_utc
from bot.core.notices import Audience, Notice, notice_line
from bot.logs import mask_secrets
from bot.terminal import terminal_text

# json.dumps(ensure_ascii=False) escapes C0 only; U+009B alone is a CSI to many terminals,
# and U+2028/2029 break line-based readers.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def line(text: str | None) -> str:
    """Outside text fit for one line of a terminal, a webhook's secret masked (a terminal's
    output is often a log: `docker compose logs`, a cron mail)."""
    if not text:
        return ""
    return " ".join(display_text(terminal_text(mask_secrets(text))).split())


def json_line(obj: Any) -> str:
    """``obj`` as one JSON line that is safe to print on a terminal (values unchanged)."""
    text = json.dumps(obj, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


CLI = "wirewatch"
# Chat command -> the command line's own name for it, where the CLI has one.
_CLI_NAMES = {
    "feeds add": "feed add",
    "feeds list": "feed list",
    "feeds remove": "feed remove",
    "watch add": "watch add",
    "watch list": "watch list",
    "watch remove": "watch remove",
    "watch test": "watch test",
    "latest": "latest",
    "status": "status",
    "why": "why",
}


def cli_command(cmd: Cmd) -> str:
    """A command reference as the operator types it: ``wirewatch feed remove 4``. A chat
    command the CLI lacks is named as chat users type it (only they can run it)."""
    name = _CLI_NAMES.get(cmd.name)
    words = f"{CLI} {name}" if name else cmd.name
    return words + (f" {cmd.args}" if cmd.args else "")


def cli_text(spans: Line) -> str:
    """Spans as plain terminal text, commands in the command line's syntax."""
    return "".join(
        f"`{cli_command(span)}`" if isinstance(span, Cmd) else _plain_text((span,))
        for span in spans
    )


def notice_console_text(notice: Notice) -> str:
    """A notice for the operator's terminal (the console and the log)."""
    return cli_text(notice_line(notice, Audience.OPERATOR))


def format_alert_line(alert: Alert) -> str:
    return format_story([alert])


def format_story(alerts: Sequence[Alert]) -> str:
    """One story (possibly matched by several watches) as a few readable lines."""
    first = alerts[0]
    when = iso_utc(first.published) or "undated"
    mark = " (headline updated)" if first.updated else ""
    lines = [f"[{when}] {line(first.source)}: {line(first.title)}{mark}", f"    {line(first.url)}"]
    for hit in (h for alert in alerts for h in alert.hits):
        terms = ", ".join(line(t) for t in hit.matched)
        label = line(hit.watch_name or hit.watch_query)
        lines.append(f"    matched: {terms} · watch #{hit.watch_id} “{label}”")
    if first.also_reported_by:
        outlets = ", ".join(line(o) for o in first.also_reported_by)
        lines.append(f"    also reported by: {outlets}")
    for source, title, url in first.further:
        lines.append(f"    more on this story: {line(source)}: {line(title)} ({line(url)})")
    return "\n".join(lines)


def group_by_story(alerts: Sequence[Alert]) -> list[list[Alert]]:
    """Alerts grouped per (destination, story), in first-seen order."""
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault((alert.destination, alert.story_key), []).append(alert)
    return list(groups.values())


class ConsoleNotifier:
    """Prints alerts; with ``json_lines`` one JSON object per alert per line."""

    kinds = frozenset({"console"})
    max_batch = 10  # no platform limit: a burst stays a listing one can read in a terminal

    def __init__(self, out: TextIO | None = None, *, json_lines: bool = False) -> None:
        self.out = out or sys.stdout
        self.json_lines = json_lines

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        if self.json_lines:
            for alert in alerts:
                self.out.write(json_line(alert.as_json()) + "\n")
        else:
            if alerts[0].digest:
                self.out.write(f"== {line(alerts[0].digest)} ==\n")
            for group in group_by_story(alerts):
                self.out.write(format_story(group) + "\n\n")
        self.out.flush()
        return f"console-{alerts[0].id}"

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """A terminal cannot change printed lines: the story is printed again, marked."""
        for group in group_by_story(alerts):
            self.out.write(f"[updated {line(message_id)}] " + format_story(group) + "\n\n")
        self.out.flush()

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Print a notice; its commands are the command line's (``wirewatch feed …``).
        Printing cannot fail halfway: nothing to look for before printing again."""
        self.out.write(f"[notice] {line(notice_console_text(notice))}\n")
        self.out.flush()
