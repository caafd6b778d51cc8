"""The ports the core talks through. Adapters implement them; ``bot.app`` wires them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.core.living import Growth
from bot.core.models import Alert
from bot.core.notices import Notice


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

    @property
    def max_batch(self) -> int:
        """Alerts one message carries in full (a burst's condensed listing): the platform's
        limit, which the sender claims up to for each destination."""
        ...

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Deliver ``alerts`` (same destination, oldest first) as ONE message; return its id.

        The core batches: usually one story (several alerts when several watches matched
        the same story: render them as ONE item listing every watch and its terms); during
        a burst up to ``max_batch`` alerts, which the notifier condenses into one message (a
        listing for Slack, up to 10 embeds for Discord). Group by ``Alert.story_key``.
        ``maybe_sent`` is True when an earlier attempt of this same batch ended without a
        confirmation (crash, timeout): the notifier must make the resend idempotent
        (Discord: nonce = f"ww{alerts[0].id}" with enforce_nonce; Slack: look for
        metadata alert id in recent channel history) and return the existing message id.
        Raises ``RetryableDeliveryError`` (try later, maybe after ``retry_after`` seconds) or
        ``PermanentDeliveryError`` (the destination is broken: unknown channel, no access).
        Must only return once the platform confirmed the message.
        """
        ...

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice (feed failing / recovered, channel recovered) to a
        destination, worded natively (:func:`bot.core.notices.notice_line`: commands in
        this platform's syntax, feed text escaped). It must ping nobody.

        ``notice_id`` identifies the notice on the platform where it can (Slack metadata,
        Discord nonce); ``maybe_sent``: an earlier attempt may have posted it, so post
        only if it is not there. Raises like ``send`` (``maybe_sent`` on an error after
        which it may be there)."""
        ...


@runtime_checkable
class ThreadReplier(Protocol):
    """A notifier that can answer a message it posted in its thread (Slack thread_ts, a
    Discord reply): for channels that want story growth as replies instead of edits."""

    async def reply(
        self,
        destination: str,
        message_id: str,
        grown: Sequence[Growth],
        *,
        maybe_sent: bool = False,
    ) -> None:
        """Post what is new about the stories of ``message_id`` that grew (their coverage
        now; "headline now" only for a ``retitled`` one; each story's headline first when
        it is ``named``, one of a listing's) under it. Raises like ``send``.

        ``maybe_sent``: this same reply (same words) was sent before without confirmation
        and may be in the thread: reply only if it is not (Slack looks in the thread,
        Discord's nonce answers with the reply it made)."""
        ...


@runtime_checkable
class MessageEditor(Protocol):
    """A notifier that can change a message it posted (Slack chat.update, Discord message
    edit). Webhook notifiers cannot: their messages keep the coverage they were sent with."""

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """Re-render the message ``message_id`` from ``alerts`` (the same alerts it was sent
        with, their story's coverage now larger; a story muted here as the message last
        showed it), as ``send`` would. Raises like ``send``."""
        ...
