"""Delivering alerts to Slack: ``slack:CHANNEL`` via chat.postMessage, ``slack-webhook:URL``
via incoming webhooks.

Both implement ``bot.core.ports.Notifier``. They pace themselves to about one message per
second per channel (Slack's posting limit), honour one short ``Retry-After`` in place and
otherwise report back to the delivery engine with the error tree:

* ``RetryableDeliveryError`` — 5xx, network trouble: the outbox tries again later
  (``RateLimitedError`` for a 429: after Retry-After, and the channel is not failing);
* ``PermanentDeliveryError`` — the channel is gone, the bot is not in it, the token is
  revoked: the destination is marked failing with the reason in plain words;
* ``RejectedMessageError`` — Slack refuses this message itself (also as plain text): that
  alert is dead-lettered, the channel carries on.

Resends are idempotent for ``slack:`` destinations: every message carries metadata with
the alert id (a notice its notice id, a thread reply a key of its words), and a resend
after an unconfirmed attempt first looks for it in the channel's recent history (a reply,
in its thread). An attempt is unconfirmed when the core says so (``maybe_sent``: it keeps
that durably, so a restart or another instance looks too) or, for alerts, when this
notifier saw an ambiguous failure itself (a 5xx or a dropped connection after the request
went out). When that history cannot be read for now (rate limited, Slack's own trouble)
the resend waits, still unconfirmed, rather than post blind. Give the notifier a client
without slack_sdk's connection-error retry handler (``retry_handlers=[]``): that handler
resends a post blindly. Incoming webhooks cannot be read back, so they are at-least-once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack.render import (
    EVENT_TYPE,
    LISTING_MAX,
    SlackMessage,
    alert_metadata,
    clip,
    render_alerts,
    render_update,
    without_buttons,
)
from bot.adapters.slack.replies import mrkdwn
from bot.core.errors import (
    PermanentDeliveryError,
    RateLimitedError,
    RejectedMessageError,
    RetryableDeliveryError,
)
from bot.core.living import Growth
from bot.core.models import Alert
from bot.core.notices import Notice, notice_line

log = logging.getLogger(__name__)

# Metadata of a thread reply (a story's growth), keyed by the reply: a retry finds it.
UPDATE_EVENT_TYPE = "wirewatch_update"
# Metadata of an operational notice, keyed by its id in the notices outbox, likewise.
NOTICE_EVENT_TYPE = "wirewatch_notice"

NOTICE_LIMIT = 3000  # characters of a notice's text; Slack truncates longer messages


def notice_message(notice: Notice, command: str) -> SlackMessage:
    """A notice as one plain mrkdwn message (no blocks: nothing in it needs layout)."""
    return SlackMessage(text=clip(mrkdwn(notice_line(notice), command), NOTICE_LIMIT))


Sleep = Callable[[float], Awaitable[None]]

# Slack error codes that will not go away by retrying, in words an operator can act on.
PERMANENT_ERRORS: dict[str, str] = {
    "channel_not_found": (
        "the channel does not exist, or it is private and Wirewatch was not invited"
    ),
    "not_in_channel": "Wirewatch is not a member of this channel: type /invite @Wirewatch in it",
    "is_archived": "the channel is archived",
    "invalid_auth": "Slack rejected the bot token (invalid_auth): check SLACK_BOT_TOKEN",
    "not_authed": "no Slack bot token was sent: set SLACK_BOT_TOKEN",
    "account_inactive": "the Slack app's token belongs to a deactivated or uninstalled app",
    "token_revoked": "the Slack bot token was revoked: reinstall, then update SLACK_BOT_TOKEN",
    "token_expired": "the Slack bot token expired: reinstall the app and update SLACK_BOT_TOKEN",
    "missing_scope": "the Slack app lacks a permission: reinstall it from bot/slack/manifest.yaml",
    "restricted_action": "this workspace does not let apps post in this channel",
    "restricted_action_read_only_channel": "the channel is read-only for apps",
    "restricted_action_thread_only_channel": "the channel only allows replies in threads",
    "restricted_action_non_threadable_channel": "the channel does not allow apps to post",
    "team_access_not_granted": "the app is not allowed in this workspace or channel",
    "ekm_access_denied": "the workspace's encryption keys deny access",
    "no_permission": "the workspace does not let Wirewatch post there",
}
# Block Kit errors are ours, not the channel's: resend as plain text instead of failing.
_BLOCK_ERRORS = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
}
# Refusals of this one message (also after the plain-text resend): it fails, the channel
# does not (RejectedMessageError: the alert is dead-lettered with the code).
_MESSAGE_ERRORS = _BLOCK_ERRORS | {
    "no_text",
    "invalid_arguments",
    "too_many_attachments",
    "msg_blocks_too_long",
}

# Slack's own trouble, answered in a 200 (or beside a 5xx): it passes by waiting.
_SLACK_TROUBLE = {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}
# Of those, the ones Slack says may come after "some aspect of the operation succeeded":
# a post answered so may be in the channel, as after a 5xx.
_MAYBE_DONE = {"fatal_error", "internal_error"}

_WEBHOOK_PERMANENT: dict[str, str] = {
    "channel_not_found": "the webhook's channel no longer exists",
    "channel_is_archived": "the webhook's channel is archived",
    "no_service": "the incoming webhook was removed or its app uninstalled",
    "no_service_id": "the webhook URL is incomplete",
    "no_team": "the webhook URL is incomplete",
    "team_disabled": "the workspace behind the webhook is disabled",
    "action_prohibited": "the workspace does not allow this webhook to post",
    "posting_to_general_channel_denied": "only admins may post to that channel",
    "invalid_token": "the webhook URL is not valid",
}


class _Pacer:
    """At most one message per ``interval`` seconds per key, in call order."""

    def __init__(self, interval: float, monotonic: Callable[[], float], sleep: Sleep) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next_at: dict[str, float] = {}

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks[key]

    async def wait_turn(self, key: str) -> None:
        wait = self._next_at.get(key, 0.0) - self._monotonic()
        if wait > 0:
            await self._sleep(wait)

    def sent(self, key: str, *, extra_wait: float = 0.0) -> None:
        self._next_at[key] = self._monotonic() + max(self._interval, extra_wait)


def _slack_error(e: SlackApiError) -> tuple[int | None, str, float | None]:
    """(HTTP status, Slack error code, Retry-After seconds) from a SlackApiError."""
    response = e.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    code = data.get("error", "") if isinstance(data, dict) else ""
    headers = getattr(response, "headers", None) or {}
    retry_after: float | None = None
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is not None:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    return status, code, retry_after


class _Ambiguous(Exception):
    """The post may or may not have reached Slack (5xx, dropped connection, timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlackNotifier:
    """Posts alerts and notices to ``slack:CHANNEL_ID`` destinations with the bot token,
    and to ``slack-dm:USER_ID`` (a person's own watches) in their direct messages."""

    kinds = frozenset({"slack", "slack-dm"})
    max_batch = LISTING_MAX

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pace_seconds: float = 1.0,
        max_inline_wait: float = 5.0,
        history_limit: int = 50,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        command: str = "/wirewatch",
    ) -> None:
        self._client = client
        self._command = command  # the app's slash command, which notices tell people to type
        self._pacer = _Pacer(pace_seconds, monotonic, sleep)
        self._max_inline_wait = max_inline_wait
        self._history_limit = history_limit
        self._sleep = sleep
        # First alert ids whose last post may have reached Slack without us hearing back.
        self._uncertain: set[int] = set()
        self._dm_channels: dict[str, str] = {}  # user id -> their DM channel with the app

    async def _resolve(self, destination: str) -> str:
        """The channel id to post to: a DM destination opens (or finds) the conversation
        with that person (``conversations.open``, scope ``im:write``)."""
        kind, _, user = destination.partition(":")
        if kind != "slack-dm":
            return _channel(destination)
        if not user.startswith(("U", "W")) or not user.isalnum():
            raise PermanentDeliveryError(f"not a Slack user: {user!r}")
        known = self._dm_channels.get(user)
        if known is not None:
            return known
        try:
            response = await self._client.conversations_open(users=user)
        except SlackApiError as e:
            status, code, retry_after = _slack_error(e)
            if status == 429 or code == "ratelimited":
                raise RateLimitedError(
                    "Slack is rate limiting direct messages", retry_after=retry_after
                ) from e
            if (status is not None and status >= 500) or code in _SLACK_TROUBLE:
                raise RetryableDeliveryError(
                    f"Slack could not open the direct message ({code or f'HTTP {status}'})"
                ) from e
            if code in PERMANENT_ERRORS:
                raise PermanentDeliveryError(PERMANENT_ERRORS[code]) from e
            raise PermanentDeliveryError(f"cannot message {user} directly: {code}") from e
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise RetryableDeliveryError(f"could not reach Slack ({type(e).__name__})") from e
        channel = str((response.get("channel") or {}).get("id", ""))
        if not channel:
            raise RetryableDeliveryError("Slack opened no direct message channel")
        self._dm_channels[user] = channel
        return channel

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Post ``alerts`` as one message and return its ``ts`` (see ``Notifier.send``)."""
        channel = await self._resolve(destination)
        alert_id = alerts[0].id
        async with self._pacer.lock(channel):
            if maybe_sent or alert_id in self._uncertain:
                existing = await self._find_existing(channel, EVENT_TYPE, "alert_id", alert_id)
                if existing is not None:
                    log.info(
                        "resend found earlier message",
                        extra={"channel": channel, "alert": alert_id, "ts": existing},
                    )
                    self._uncertain.discard(alert_id)
                    return existing
            message = render_alerts(alerts)
            try:
                ts = await self._post(channel, message, metadata=alert_metadata(alerts))
            except _Ambiguous as e:
                self._uncertain.add(alert_id)
                raise RetryableDeliveryError(e.reason, maybe_sent=True) from e.__cause__
            self._uncertain.discard(alert_id)
            return ts

    async def reply(
        self,
        destination: str,
        message_id: str,
        grown: Sequence[Growth],
        *,
        maybe_sent: bool = False,
    ) -> None:
        """Post a story's growth in its message's thread (``thread_ts``), for channels that
        asked for replies instead of edits. ``maybe_sent``: this same reply may be in the
        thread already (the core keeps that durably): it is looked for there first."""
        channel = await self._resolve(destination)
        message = render_update(grown)
        key = hashlib.sha256(f"{message_id}\n{message.text}".encode()).hexdigest()[:24]
        async with self._pacer.lock(channel):
            if maybe_sent and await self._reply_posted(channel, message_id, key):
                log.info(
                    "resend found earlier thread reply",
                    extra={"channel": channel, "thread": message_id},
                )
                return
            try:
                await self._post(
                    channel,
                    message,
                    metadata={"event_type": UPDATE_EVENT_TYPE, "event_payload": {"key": key}},
                    thread_ts=message_id,
                )
            except _Ambiguous as e:
                # It may be in the thread: the retry of this same reply looks there first.
                raise RetryableDeliveryError(e.reason, maybe_sent=True) from e.__cause__

    async def _reply_posted(self, channel: str, message_id: str, key: str) -> bool:
        """Whether the thread of ``message_id`` holds the reply ``key`` already."""
        try:
            response = await self._client.conversations_replies(
                channel=channel, ts=message_id, include_all_metadata=True, limit=200
            )
        except SlackApiError as e:
            status, code, retry_after = _slack_error(e)
            if status == 429 or code == "ratelimited":
                raise RateLimitedError(
                    "Slack is rate limiting the thread lookup before a resend",
                    retry_after=retry_after,
                    maybe_sent=True,
                ) from e
            if code in PERMANENT_ERRORS:
                raise PermanentDeliveryError(PERMANENT_ERRORS[code]) from e
            if (status is not None and status >= 500) or code in _SLACK_TROUBLE:
                raise RetryableDeliveryError(
                    f"Slack could not show the thread before a resend ({code or status})",
                    maybe_sent=True,
                ) from e
            return False  # cannot look (no history scope): replying again is the lesser evil
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise RetryableDeliveryError(
                f"could not reach Slack ({type(e).__name__})", maybe_sent=True
            ) from e
        for reply in response.get("messages") or []:
            meta = reply.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == UPDATE_EVENT_TYPE and payload.get("key") == key:
                return True
        return False

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """Re-render a posted message (``chat.update``) now its stories have grown."""
        channel = await self._resolve(destination)
        message = render_alerts(alerts)
        async with self._pacer.lock(channel):
            await self._pacer.wait_turn(channel)
            try:
                await self._client.chat_update(
                    channel=channel, ts=message_id, text=message.text, blocks=message.blocks
                )
            except SlackApiError as e:
                status, code, retry_after = _slack_error(e)
                if status == 429 or code == "ratelimited":
                    self._pacer.sent(channel, extra_wait=retry_after or 1.0)
                    raise RateLimitedError(
                        "Slack is rate limiting this channel", retry_after=retry_after
                    ) from e
                if code in PERMANENT_ERRORS:
                    raise PermanentDeliveryError(PERMANENT_ERRORS[code]) from e
                if (status is not None and status >= 500) or code in _SLACK_TROUBLE:
                    raise RetryableDeliveryError(
                        f"Slack could not update the message ({code or f'HTTP {status}'})"
                    ) from e
                # message_not_found, cant_update_message, edit_window_closed, bad blocks
                raise RejectedMessageError(f"Slack refused the update ({code})") from e
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise RetryableDeliveryError(f"no answer from Slack ({type(e).__name__})") from e
            finally:
                self._pacer.sent(channel)

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice as mrkdwn text: commands as ``/wirewatch …``, feed
        names and errors escaped (they are feed text). It carries ``notice_id`` as
        metadata; ``maybe_sent``: the channel's recent history is searched for it first."""
        channel = await self._resolve(destination)
        message = notice_message(notice, self._command)
        metadata = (
            {"event_type": NOTICE_EVENT_TYPE, "event_payload": {"notice_id": notice_id}}
            if notice_id is not None
            else None
        )
        async with self._pacer.lock(channel):
            if maybe_sent and notice_id is not None:
                existing = await self._find_existing(
                    channel, NOTICE_EVENT_TYPE, "notice_id", notice_id
                )
                if existing is not None:
                    log.info(
                        "resend found earlier notice",
                        extra={"channel": channel, "notice": notice_id, "ts": existing},
                    )
                    return
            try:
                await self._post(channel, message, metadata=metadata)
            except _Ambiguous as e:
                # It may be in the channel: the retry looks in its history first.
                raise RetryableDeliveryError(e.reason, maybe_sent=True) from e.__cause__

    async def _post(
        self,
        channel: str,
        message: SlackMessage,
        *,
        metadata: dict[str, Any] | None,
        thread_ts: str | None = None,
    ) -> str:
        waited = False
        blocks: list[dict[str, Any]] | None = message.blocks or None
        while True:
            await self._pacer.wait_turn(channel)
            try:
                response = await self._client.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=blocks,
                    metadata=metadata,
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as e:
                status, code, retry_after = _slack_error(e)
                if status == 429 or code == "ratelimited":
                    wait = retry_after if retry_after is not None else 1.0
                    self._pacer.sent(channel, extra_wait=wait)
                    if not waited and wait <= self._max_inline_wait:
                        # A short Retry-After is cheaper to honour here than via the outbox.
                        waited = True
                        log.info(
                            "slack rate limited, waiting",
                            extra={"channel": channel, "retry_after": wait},
                        )
                        continue
                    raise RateLimitedError(
                        "Slack is rate limiting this channel", retry_after=wait
                    ) from e
                if code in PERMANENT_ERRORS:
                    raise PermanentDeliveryError(PERMANENT_ERRORS[code]) from e
                if code in _BLOCK_ERRORS and blocks is not None:
                    log.error(
                        "slack refused our blocks; resending as text",
                        extra={"channel": channel, "error": code},
                    )
                    blocks = None
                    continue
                if code in _MESSAGE_ERRORS:
                    raise RejectedMessageError(f"Slack refused this message ({code})") from e
                if (status is not None and status >= 500) or code in _MAYBE_DONE:
                    # It may be in the channel: it counts toward the channel's pace.
                    self._pacer.sent(channel)
                    raise _Ambiguous(f"Slack answered {code or f'HTTP {status}'}") from e
                raise RetryableDeliveryError(f"Slack refused the message ({code or status})") from e
            except aiohttp.ClientConnectorError as e:
                # The connection never opened: certainly not posted.
                raise RetryableDeliveryError(f"could not reach Slack ({type(e).__name__})") from e
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                self._pacer.sent(channel)
                raise _Ambiguous(f"no answer from Slack ({type(e).__name__})") from e
            self._pacer.sent(channel)
            return str(response["ts"])

    async def _find_existing(
        self, channel: str, event_type: str, field: str, value: int
    ) -> str | None:
        """The ts of a recent message in ``channel`` whose metadata is of ``event_type``
        with ``field`` = ``value`` (an alert's id, a notice's)."""
        try:
            # Slack leaves message metadata out of history unless asked for it.
            response = await self._client.conversations_history(
                channel=channel, limit=self._history_limit, include_all_metadata=True
            )
        except SlackApiError as e:
            status, code, retry_after = _slack_error(e)
            if code in PERMANENT_ERRORS:
                raise PermanentDeliveryError(PERMANENT_ERRORS[code]) from e
            if status == 429 or code == "ratelimited":
                # The post may be in the channel: look again once Slack lets us, never
                # post blind (history is rate limited harder than posting).
                raise RateLimitedError(
                    "Slack is rate limiting the history lookup before a resend",
                    retry_after=retry_after,
                    maybe_sent=True,
                ) from e
            if (status is not None and status >= 500) or code in _SLACK_TROUBLE:
                raise RetryableDeliveryError(
                    f"Slack could not show the channel's history before a resend "
                    f"({code or f'HTTP {status}'})",
                    maybe_sent=True,
                ) from e
            # A refusal that will not pass by waiting: posting again is the lesser evil.
            log.warning(
                "could not read channel history to deduplicate",
                extra={"channel": channel, "error": code},
            )
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise RetryableDeliveryError(
                f"could not reach Slack ({type(e).__name__})", maybe_sent=True
            ) from e
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == event_type and payload.get(field) == value:
                return str(message["ts"])
        return None


class SlackWebhookNotifier:
    """Posts to ``slack-webhook:URL`` incoming webhooks: no bot app needed, at-least-once."""

    kinds = frozenset({"slack-webhook"})
    max_batch = LISTING_MAX

    def __init__(
        self,
        *,
        pace_seconds: float = 1.0,
        max_inline_wait: float = 5.0,
        timeout: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        command: str = "/wirewatch",
    ) -> None:
        self._pacer = _Pacer(pace_seconds, monotonic, sleep)
        self._max_inline_wait = max_inline_wait
        self._timeout = timeout
        self._command = command

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Post ``alerts`` as one message. Webhooks return no message id: ``webhook:<alert id>``."""
        url = _webhook_url(destination)
        async with self._pacer.lock(url):
            await self._post(url, without_buttons(render_alerts(alerts)))
        return f"webhook:{alerts[0].id}"

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice, worded as :class:`SlackNotifier` words it. A webhook
        cannot be read back: a notice is posted at least once."""
        url = _webhook_url(destination)
        async with self._pacer.lock(url):
            await self._post(url, notice_message(notice, self._command))

    async def _post(self, url: str, message: SlackMessage) -> None:
        client = AsyncWebhookClient(url, timeout=int(self._timeout))
        blocks: list[dict[str, Any]] | None = message.blocks or None
        waited = False
        while True:
            await self._pacer.wait_turn(url)
            try:
                response = await client.send(
                    text=message.text, blocks=blocks, unfurl_links=False, unfurl_media=False
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise RetryableDeliveryError(
                    f"could not reach the Slack webhook ({type(e).__name__})"
                ) from e
            status, body = response.status_code, (response.body or "").strip()
            if status == 200:
                self._pacer.sent(url)
                return
            if status == 429:
                raw = response.headers.get("Retry-After") or response.headers.get("retry-after")
                wait = float(raw) if raw and raw.replace(".", "", 1).isdigit() else 1.0
                self._pacer.sent(url, extra_wait=wait)
                if not waited and wait <= self._max_inline_wait:
                    waited = True
                    continue
                raise RateLimitedError("Slack is rate limiting this webhook", retry_after=wait)
            if status >= 500:
                raise RetryableDeliveryError(f"the Slack webhook answered HTTP {status}")
            if body in _WEBHOOK_PERMANENT:
                raise PermanentDeliveryError(_WEBHOOK_PERMANENT[body])
            if status == 400 and blocks is not None:
                log.error(
                    "slack webhook refused our blocks; resending as text", extra={"error": body}
                )
                blocks = None
                continue
            if status in (403, 404, 410):
                raise PermanentDeliveryError(
                    f"the Slack webhook refused the message ({body or status})"
                )
            if status == 400:
                # Refused as plain text too: this message, not the webhook, is at fault.
                raise RejectedMessageError(
                    f"the Slack webhook refused this message ({body or status})"
                )
            raise RetryableDeliveryError(
                f"the Slack webhook refused the message ({body or status})"
            )


def _channel(destination: str) -> str:
    kind, _, channel = destination.partition(":")
    if kind != "slack" or not channel:
        raise PermanentDeliveryError(f"not a Slack channel destination: {destination!r}")
    return channel


def _webhook_url(destination: str) -> str:
    kind, _, url = destination.partition(":")
    if kind != "slack-webhook" or not url.startswith(("https://", "http://")):
        raise PermanentDeliveryError(
            "not a Slack webhook destination (expected slack-webhook:https://…)"
        )
    return url
