"""The ports the core talks through. Adapters implement them; ``bot.app`` wires them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from bot.core.models import Alert


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Notifier(Protocol):
    """Sends alerts to destinations of the kinds it owns (``slack``, ``discord-webhook``...)."""

    kinds: frozenset[str]

    async def send(self, destination: str, alerts: Sequence[Alert]) -> list[str]:
        """Deliver ``alerts`` (same destination, oldest first) and return platform message ids.

        Several alerts may be condensed into one message; the list then repeats that id.
        Raises ``RetryableDeliveryError`` (try later, maybe after ``retry_after`` seconds) or
        ``PermanentDeliveryError`` (the destination is broken: unknown channel, no access).
        Must only return once the platform confirmed the message.
        """
        ...

    async def send_notice(self, destination: str, text: str) -> None:
        """Post a plain operational notice (feed failing / recovered) to a destination."""
        ...
