"""Console destination: alerts as readable lines (or JSON lines) on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.core.models import Alert, iso_utc


def format_alert_line(alert: Alert) -> str:
    return format_story([alert])


def format_story(alerts: Sequence[Alert]) -> str:
    """One story (possibly matched by several watches) as a few readable lines."""
    first = alerts[0]
    when = iso_utc(first.published) or "undated"
    mark = " (headline updated)" if first.updated else ""
    lines = [f"[{when}] {first.source}: {first.title}{mark}", f"    {first.url}"]
    for hit in (h for alert in alerts for h in alert.hits):
        terms = ", ".join(hit.matched)
        label = hit.watch_name or hit.watch_query
        lines.append(f"    matched: {terms} · watch #{hit.watch_id} “{label}”")
    if first.also_reported_by:
        lines.append(f"    also reported by: {', '.join(first.also_reported_by)}")
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
                self.out.write(json.dumps(alert.as_json(), ensure_ascii=False) + "\n")
        else:
            if alerts[0].digest:
                self.out.write(f"== {alerts[0].digest} ==\n")
            for group in group_by_story(alerts):
                self.out.write(format_story(group) + "\n\n")
        self.out.flush()
        return f"console-{alerts[0].id}"

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """A terminal cannot change printed lines: the story is printed again, marked."""
        for group in group_by_story(alerts):
            self.out.write(f"[updated {message_id}] " + format_story(group) + "\n\n")
        self.out.flush()

    async def send_notice(self, destination: str, text: str) -> None:
        self.out.write(f"[notice] {text}\n")
        self.out.flush()
