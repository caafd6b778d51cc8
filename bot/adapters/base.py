"""What the composition root (``bot.app``) expects of a chat adapter."""

from __future__ import annotations

from typing import Protocol

from bot.core.ports import Notifier


class ChatAdapter(Protocol):
    name: str

    async def start(self) -> None:
        """Connect (gateway / socket mode / HTTP endpoint); return once connected."""
        ...

    async def stop(self) -> None:
        """Disconnect cleanly; in-flight command replies finish first."""
        ...

    @property
    def ready(self) -> bool:
        """True while connected (used by /readyz)."""
        ...

    def notifiers(self) -> list[Notifier]:
        """Notifiers for the destination kinds this adapter delivers to."""
        ...
