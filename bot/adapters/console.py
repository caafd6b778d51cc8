"""Console destination: alerts as readable lines (or JSON lines) on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.core.models import Alert, iso_utc


def format_alert_line(alert: Alert) -> str:
    when = iso_utc(alert.published) or "undated"
    terms = ", ".join(alert.matched)
    also = f"  (also: {', '.join(alert.also_reported_by)})" if alert.also_reported_by else ""
    return (
        f"[{when}] {alert.source}: {alert.title}\n"
        f"    {alert.url}\n"
        f"    matched: {terms} · watch #{alert.watch_id} “{alert.watch_name or alert.watch_query}”{also}"
    )


class ConsoleNotifier:
    """Prints alerts; with ``json_lines`` one JSON object per alert per line."""

    kinds = frozenset({"console"})

    def __init__(self, out: TextIO | None = None, *, json_lines: bool = False) -> None:
        self.out = out or sys.stdout
        self.json_lines = json_lines

    async def send(self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False) -> str:
        for alert in alerts:
            if self.json_lines:
                self.out.write(json.dumps(alert.as_json(), ensure_ascii=False) + "\n")
            else:
                self.out.write(format_alert_line(alert) + "\n")
        self.out.flush()
        return f"console-{alerts[0].id}"

    async def send_notice(self, destination: str, text: str) -> None:
        self.out.write(f"[notice] {text}\n")
        self.out.flush()
