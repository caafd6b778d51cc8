"""Delivery to Discord: bot messages to ``discord:CHANNEL_ID`` and webhook posts to
``discord-webhook:URL``.

Both speak through discord.py, so its rate-limit handling (buckets, ``retry_after``, the
global limit) applies; on top, a per-channel pace keeps a burst under Discord's ~5 messages
per 5 seconds per channel before a 429 is ever needed. Errors are sorted for the outbox:
no access, missing permissions, unknown channel or webhook -> ``PermanentDeliveryError``
with the reason in words a server admin can act on; long rate limits ->
``RateLimitedError``; 5xx, network, a Cloudflare ban -> ``RetryableDeliveryError`` (a 5xx
as maybe sent: Discord may have created the message before its answer failed); a 400
about the message itself (Invalid Form Body) -> ``RejectedMessageError``, which fails that
message only.

Bot messages carry ``nonce = "ww<first alert id>"`` (a notice ``wn<notice id>``, a
thread reply ``wr<digest of its words>``) with ``enforce_nonce``: when a send
whose answer was lost is retried, Discord returns the message it already created instead
of posting a second one (Discord remembers nonces for a few minutes). Webhook posts have
no such check: webhook delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord

from bot.adapters.discord import render
from bot.adapters.discord.client import configure_endpoints
from bot.adapters.discord.replies import markdown
from bot.core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RateLimitedError,
    RejectedMessageError,
    RetryableDeliveryError,
)
from bot.core.living import Growth
from bot.core.models import Alert
from bot.core.notices import Notice, PlainNotice, notice_line
from bot.settings import DiscordSettings

log = logging.getLogger(__name__)


def notice_content(notice: Notice) -> str:
    """A notice as message content within 2000 characters: commands as ``/feeds …``, feed
    text escaped, mentions broken (and it is sent with no allowed mentions besides)."""
    if isinstance(notice, PlainNotice):
        # Text from before notices were data: posted exactly as it was then.
        return render.notice_text(notice.text)
    return render.fit(markdown(notice_line(notice)), render.CONTENT_LIMIT)


# Discord error codes worth a sentence of their own.
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027

_REASONS = {
    MISSING_ACCESS: (
        "Missing Access: the bot cannot see this channel. Add the bot to the channel or give "
        "its role View Channel there."
    ),
    MISSING_PERMISSIONS: (
        "Missing Permissions: the bot may not post here. Give its role Send Messages and "
        "Embed Links in this channel."
    ),
    UNKNOWN_CHANNEL: (
        "Unknown Channel: the channel was deleted or the bot was removed from the server."
    ),
    UNKNOWN_WEBHOOK: (
        "Unknown Webhook: the webhook was deleted. Create a new one and update the URL."
    ),
    INVALID_WEBHOOK_TOKEN: "Invalid Webhook Token: the webhook URL is wrong or was reset.",
}


class ChannelPacer:
    """At most ``limit`` sends per ``per`` seconds for each key; a full window waits.

    Discord allows about 5 messages per 5 s in one channel; staying under it avoids 429s
    (and the shared bucket penalties they bring) when a burst of alerts lands at once.
    ``clock`` and ``sleep`` are injectable so tests run on a fake clock.
    """

    def __init__(
        self,
        limit: int = 5,
        per: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.per = per
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait_turn(self, key: str) -> None:
        """Return when one more send to ``key`` stays within the pace; counts that send."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            sent = self._sent.setdefault(key, deque())
            while True:
                now = self._clock()
                while sent and sent[0] <= now - self.per:
                    sent.popleft()
                if len(sent) < self.limit:
                    sent.append(now)
                    return
                await self._sleep(sent[0] + self.per - now)


def delivery_error(exc: BaseException, *, what: str = "Discord") -> DeliveryError | OSError:
    """Sort a discord.py / network failure for the outbox.

    ``PermanentDeliveryError``: stop for this destination (no access, deleted channel).
    ``RetryableDeliveryError``: Discord did not take the message; try again later.
    ``ConnectionError``: the connection broke after the request may have arrived, so the
    outcome is unknown; the outbox keeps the batch "maybe sent" (the nonce then makes
    the resend safe).
    """
    if isinstance(exc, discord.RateLimited):
        return RateLimitedError(
            f"{what} rate limit: retry in {exc.retry_after:.0f} s", retry_after=exc.retry_after
        )
    if isinstance(exc, discord.HTTPException):
        reason = _REASONS.get(exc.code)
        if exc.status == 429:
            retry_after = _retry_after(exc)
            if exc.response.headers.get("Via"):
                # Discord's own limiter, still limiting after discord.py's retries.
                return RateLimitedError(f"{what} rate limit (HTTP 429)", retry_after=retry_after)
            # No Via: Cloudflare in front of Discord banned this address for a while (too
            # many refused requests); that is a fault to see, not pacing.
            return RetryableDeliveryError(
                f"{what} refused this address for now (HTTP 429 from Cloudflare)",
                retry_after=retry_after,
            )
        if exc.code == UNKNOWN_MESSAGE:
            # The message to edit or answer was deleted: refused for good, the channel is fine.
            return RejectedMessageError(f"{what}: Unknown Message (the message was deleted)")
        if exc.status >= 500:
            # Discord may have created the message before its answer failed: the resend
            # must be of this same batch, whose nonce then returns that message.
            return RetryableDeliveryError(
                f"{what} server error (HTTP {exc.status})", maybe_sent=True
            )
        if reason is not None:
            return PermanentDeliveryError(reason)
        if exc.status == 401:
            return PermanentDeliveryError(
                f"{what} rejected the credentials (HTTP 401): check the token"
            )
        if exc.status in (403, 404):
            return PermanentDeliveryError(
                f"{what} refused (HTTP {exc.status}): {exc.text or 'no reason'}"
            )
        # Any other 4xx (400 Invalid Form Body, 413...) is about this message, not the
        # channel: Discord will refuse it however often we try, and take the next one.
        return RejectedMessageError(
            f"{what} refused this message (HTTP {exc.status}): {exc.text or 'no reason'}"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return RetryableDeliveryError(f"cannot connect to {what}: {exc}")
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return ConnectionError(f"connection to {what} lost mid-send, outcome unknown: {exc!r}")
    return RetryableDeliveryError(f"unexpected error talking to {what}: {exc!r}")


def _retry_after(exc: discord.HTTPException) -> float | None:
    try:
        return float(exc.response.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


def channel_id_of(destination: str) -> int:
    """``discord:1234`` -> 1234; anything else is a destination this notifier cannot serve."""
    kind, _, address = destination.partition(":")
    if kind != "discord" or not address.isdigit():
        raise PermanentDeliveryError(f"not a Discord channel destination: {destination!r}")
    return int(address)


class DiscordNotifier:
    """Sends alerts as bot messages (embeds) to ``discord:CHANNEL_ID`` through REST.

    The channel need not be in the gateway cache: messages go through a
    ``PartialMessageable``, so REST alone is enough (an instance without the gateway
    connection can deliver too).
    """

    kinds: frozenset[str] = frozenset({"discord", "discord-dm"})
    max_batch = render.EMBEDS_PER_MESSAGE

    def __init__(self, client: discord.Client, *, pacer: ChannelPacer | None = None) -> None:
        self._client = client
        self._pacer = pacer or ChannelPacer()
        self._dm_channels: dict[int, int] = {}  # user id -> their DM channel with the bot

    async def _channel(self, destination: str) -> discord.PartialMessageable:
        if self._client.is_closed() or self._client.http.token is None:
            raise RetryableDeliveryError("the Discord bot is not logged in")
        kind, _, user = destination.partition(":")
        if kind != "discord-dm":
            return self._client.get_partial_messageable(channel_id_of(destination))
        # A person's own watches: their DM channel with the bot (created once, then cached).
        if not user.isdigit():
            raise PermanentDeliveryError(f"not a Discord user: {user!r}")
        channel_id = self._dm_channels.get(int(user))
        if channel_id is None:
            try:
                data = await self._client.http.start_private_message(int(user))
            except Exception as e:
                raise delivery_error(e) from e
            channel_id = self._dm_channels[int(user)] = int(data["id"])
        return self._client.get_partial_messageable(channel_id)

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Post ``alerts`` as one message (up to ten embeds); return the Discord message id.

        The nonce makes a retry of an unconfirmed send return the existing message, so
        ``maybe_sent`` needs nothing more here (within Discord's nonce window).
        """
        if not alerts:
            raise ValueError("send() needs at least one alert")
        channel = await self._channel(destination)
        message = render.alert_message(alerts)
        await self._pacer.wait_turn(destination)
        try:
            sent = await channel.send(
                content=message.content,
                embeds=message.embeds,
                allowed_mentions=message.allowed_mentions,
                nonce=f"ww{alerts[0].id}",  # discord.py adds enforce_nonce=True with a nonce
                view=_buttons(render.alert_buttons(alerts), render.story_menu(alerts)),
            )
        except Exception as e:
            error = delivery_error(e)
            log.warning(
                "discord delivery failed",
                extra={
                    "destination": destination,
                    "alert": alerts[0].id,
                    "reason": str(error),
                    "maybe_sent": maybe_sent,
                },
            )
            raise error from e
        return str(sent.id)

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """Re-render a posted message now its stories have grown (an edit pings nobody)."""
        channel = await self._channel(destination)
        message = render.alert_message(alerts)
        await self._pacer.wait_turn(destination)
        try:
            await channel.get_partial_message(int(message_id)).edit(
                content=message.content,
                embeds=message.embeds,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except Exception as e:
            raise delivery_error(e) from e

    async def reply(
        self,
        destination: str,
        message_id: str,
        grown: Sequence[Growth],
        *,
        maybe_sent: bool = False,
    ) -> None:
        """Answer a story's message with its growth (a Discord reply), for channels that
        asked for replies instead of edits; it pings nobody. ``maybe_sent`` needs nothing
        more here: the same reply carries the same nonce (within Discord's window)."""
        channel = await self._channel(destination)
        content = render.update_text(grown)
        await self._pacer.wait_turn(destination)
        try:
            await channel.send(
                content=content,
                # The same reply retried after an unconfirmed attempt (a 5xx, a lost
                # answer) carries the same nonce: Discord returns the reply it made.
                nonce=reply_nonce(message_id, content),
                # Refused when the message is gone (deleted by a moderator): the update
                # then stops, as a failed edit does, rather than post loose in the channel.
                reference=discord.MessageReference(
                    message_id=int(message_id), channel_id=channel.id, fail_if_not_exists=True
                ),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except Exception as e:
            raise delivery_error(e) from e

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice as message content; nothing in it can ping anyone.
        It carries ``nonce = wn<notice id>``: a resend of one that may have been created
        gets the message Discord made (within its nonce window), not a second one."""
        channel = await self._channel(destination)
        fields: dict[str, Any] = {} if notice_id is None else {"nonce": f"wn{notice_id}"}
        await self._pacer.wait_turn(destination)
        try:
            await channel.send(
                content=notice_content(notice),
                allowed_mentions=discord.AllowedMentions.none(),
                **fields,
            )
        except Exception as e:
            raise delivery_error(e) from e


def reply_nonce(message_id: str, content: str) -> str:
    """A thread reply's nonce: the same for the same update of the same message (Discord
    takes up to 25 characters)."""
    digest = hashlib.sha256(f"{message_id}\n{content}".encode()).hexdigest()
    return f"wr{digest[:23]}"


def _buttons(
    buttons: list[tuple[str, str]], menu: list[tuple[str, str]] | None = None
) -> discord.ui.View:
    """The buttons (and a listing's "Mute a story…" menu) as components. The view is
    stopped before sending: clicks and picks arrive as interactions the client routes by
    custom_id (``DiscordCommands.on_component``), so no view object needs to live per
    message (nor survive a restart). An edit leaves a message's components as they are."""
    view = discord.ui.View(timeout=None)
    for label, custom_id in buttons:
        view.add_item(
            discord.ui.Button(label=label, custom_id=custom_id, style=discord.ButtonStyle.secondary)
        )
    if menu:
        view.add_item(
            discord.ui.Select(
                custom_id=render.STORY_MENU_ID,
                placeholder="Mute a story…",
                options=[discord.SelectOption(label=label, value=value) for label, value in menu],
            )
        )
    view.stop()
    return view


class DiscordWebhookNotifier:
    """Sends alerts to ``discord-webhook:https://discord.com/api/webhooks/ID/TOKEN``.

    No bot token needed: a channel webhook URL is the whole setup. Messages carry a custom
    name and avatar. A ``?thread_id=`` on the URL posts into that thread. Discord cannot
    deduplicate webhook posts, so this path is at-least-once.
    """

    kinds: frozenset[str] = frozenset({"discord-webhook"})
    max_batch = render.EMBEDS_PER_MESSAGE

    def __init__(
        self,
        *,
        username: str = "Wirewatch",
        avatar_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.username = username
        self.avatar_url = avatar_url
        self._session = session
        self._own_session = session is None
        self._pacer = pacer or ChannelPacer()

    @classmethod
    def from_settings(cls, settings: DiscordSettings, **kwargs: Any) -> DiscordWebhookNotifier:
        """A webhook notifier honouring the configured API base URL (no token needed)."""
        configure_endpoints(settings)
        return cls(**kwargs)

    def _session_for_send(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    def _webhook(self, destination: str) -> tuple[discord.Webhook, discord.abc.Snowflake | None]:
        kind, _, url = destination.partition(":")
        if kind != "discord-webhook":
            raise PermanentDeliveryError(f"not a Discord webhook destination: {destination!r}")
        try:
            webhook = discord.Webhook.from_url(url, session=self._session_for_send())
        except ValueError as e:
            raise PermanentDeliveryError(
                "not a Discord webhook URL (expected https://discord.com/api/webhooks/ID/TOKEN)"
            ) from e
        thread_ids = parse_qs(urlsplit(url).query).get("thread_id", [])
        thread = (
            discord.Object(id=int(thread_ids[0]))
            if thread_ids and thread_ids[0].isdigit()
            else None
        )
        return webhook, thread

    async def _post(
        self,
        destination: str,
        webhook: discord.Webhook,
        thread: discord.abc.Snowflake | None,
        **fields: Any,
    ) -> discord.WebhookMessage:
        await self._pacer.wait_turn(f"webhook:{webhook.id}")
        kwargs: dict[str, Any] = {"username": self.username, "wait": True, **fields}
        if self.avatar_url:
            kwargs["avatar_url"] = self.avatar_url
        if thread is not None:
            kwargs["thread"] = thread
        try:
            sent: discord.WebhookMessage = await webhook.send(**kwargs)
            return sent
        except Exception as e:
            error = delivery_error(e, what="Discord webhook")
            log.warning(
                "discord webhook delivery failed",
                extra={"destination": f"discord-webhook:{webhook.id}", "reason": str(error)},
            )
            raise error from e

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Post ``alerts`` as one webhook message; return its id. ``maybe_sent`` cannot be
        checked for webhooks (at-least-once)."""
        if not alerts:
            raise ValueError("send() needs at least one alert")
        webhook, thread = self._webhook(destination)
        message = render.alert_message(alerts)
        sent = await self._post(
            destination,
            webhook,
            thread,
            content=message.content or discord.utils.MISSING,
            embeds=message.embeds,
            allowed_mentions=message.allowed_mentions,
        )
        return str(sent.id)

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice through the webhook, worded as for a bot message
        (at least once: a webhook post has no duplicate check)."""
        webhook, thread = self._webhook(destination)
        await self._post(
            destination,
            webhook,
            thread,
            content=notice_content(notice),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def aclose(self) -> None:
        """Close the HTTP session this notifier opened (not one it was given)."""
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
