"""The Slack adapter: a slack-bolt ``AsyncApp`` wired to the core, inside our lifecycle.

``bot.app`` constructs ``SlackAdapter(core=..., settings=settings.slack, clock=...)``,
registers ``adapter.notifiers()`` with the delivery engine, then ``await adapter.start()``
and, on shutdown, ``await adapter.stop()``.

* Socket Mode (default): ``AsyncSocketModeHandler(...).connect_async()`` — it returns once
  connected, unlike ``start_async()`` which never returns.
* HTTP mode: bolt's aiohttp app (``/slack/events``, signatures checked with the signing
  secret) served by our own ``AppRunner`` on ``settings.http_port``.

Slash commands are acked within Slack's 3 seconds: quick subcommands answer in the ack
itself, slow ones (a feed check, a search) ack first and answer through ``respond``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.commands import CommandRouter, Invocation, Reply, invite_hint
from bot.adapters.slack.notifier import SlackNotifier, SlackWebhookNotifier
from bot.adapters.slack.permissions import SlackPermissions
from bot.adapters.slack.render import (
    ACTION_IRRELEVANT,
    ACTION_MUTE,
    ACTION_OPEN,
    ACTION_PAUSE,
    ACTION_STORY,
    ACTION_STORY_PICK,
)
from bot.core.api import CoreAPI
from bot.core.commands.catalogue import button_args
from bot.core.errors import ConfigError
from bot.core.ports import Clock, Notifier, SystemClock
from bot.settings import SlackSettings

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# The bot scopes the adapter uses (bot/slack/manifest.yaml asks for exactly these):
# commands (/wirewatch), chat:write (alerts), users:read + usergroups:read (permissions),
# channels:history + groups:history (finding an already-posted alert before a resend),
# files:write (charts and OPML exports a command answers with), im:write (personal
# watches: alerts in a person's direct messages).
BOT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "files:write",
        "users:read",
        "usergroups:read",
        "channels:history",
        "groups:history",
        "im:write",
        "im:history",
    }
)

# Answer in the ack when the work finishes within this; otherwise ack and respond later.
ACK_BUDGET_SECONDS = 2.0
_NOT_A_MEMBER = {"not_in_channel", "channel_not_found"}
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


class SlackAdapter:
    """Wirewatch on Slack: the ``/wirewatch`` command, Mute buttons, and the notifiers."""

    name = "slack"

    def __init__(
        self,
        *,
        core: CoreAPI,
        settings: SlackSettings,
        clock: Clock | None = None,
        http_host: str = "0.0.0.0",
        pace_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        stop_grace_seconds: float = 10.0,
        ack_budget_seconds: float = ACK_BUDGET_SECONDS,
    ) -> None:
        if settings.bot_token is None:
            raise ConfigError("the Slack adapter needs SLACK_BOT_TOKEN")
        if settings.mode == "socket" and settings.app_token is None:
            raise ConfigError(
                'Slack Socket Mode needs SLACK_APP_TOKEN (or set slack.mode = "http")'
            )
        if settings.mode == "http" and settings.signing_secret is None:
            raise ConfigError("Slack HTTP mode needs SLACK_SIGNING_SECRET")
        self._core = core
        self._settings = settings
        self._clock = clock or SystemClock()
        self._http_host = http_host
        self._stop_grace = stop_grace_seconds
        self._ack_budget = ack_budget_seconds
        self.client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(), base_url=settings.api_url
        )
        self.permissions = SlackPermissions(
            self.client,
            allowed_users=settings.allowed_users,
            allowed_usergroup=settings.allowed_usergroup,
            monotonic=monotonic,
        )
        self._bot_name = "Wirewatch"
        self.router = CommandRouter(core, self.permissions, command=settings.command)
        # Delivery gets its own client without slack_sdk's connection-error retry, which
        # would resend a post blindly; the notifier checks history instead.
        delivery_client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_url,
            retry_handlers=[],
        )
        self._notifier = SlackNotifier(
            delivery_client,
            pace_seconds=pace_seconds,
            monotonic=monotonic,
            sleep=sleep,
            command=settings.command,
        )
        self._webhook_notifier = SlackWebhookNotifier(
            pace_seconds=pace_seconds, monotonic=monotonic, sleep=sleep, command=settings.command
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret.get_secret_value()
            if settings.signing_secret
            else None,
            # Socket Mode envelopes are authenticated by the app token, not signatures.
            request_verification_enabled=settings.mode == "http",
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self.app.command(settings.command)(self._on_command)
        self.app.action(_prefix(ACTION_MUTE))(self._button("unsubscribe"))
        self.app.action(_prefix(ACTION_OPEN))(self._on_open)
        # An alert's buttons run catalogue commands, as if typed in the channel.
        for action, command in (
            (ACTION_STORY, "story mute"),
            (ACTION_STORY_PICK, "story mute"),  # a listing's "Mute a story…" menu
            (ACTION_IRRELEVANT, "not-relevant"),
            (ACTION_PAUSE, "snooze"),
        ):
            self.app.action(_prefix(action))(self._button(command))
        self._handler: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._started = False

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Check the tokens, then connect Socket Mode or open the HTTP endpoint."""
        auth = await self._call_checked("SLACK_BOT_TOKEN", self.client.auth_test())
        self._bot_name = str(auth.get("user") or "Wirewatch")
        log.info("slack bot authenticated", extra={"team": auth.get("team"), "bot": self._bot_name})
        if self._settings.mode == "socket":
            assert self._settings.app_token is not None
            app_token = self._settings.app_token.get_secret_value()
            opened = await self._call_checked(
                "SLACK_APP_TOKEN", self.client.apps_connections_open(app_token=app_token)
            )
            self._handler = AsyncSocketModeHandler(self.app, app_token, web_client=self.client)
            # Reuse the URL we just obtained: the handler would otherwise ask for another.
            self._handler.client.wss_uri = opened["url"]
            await self._handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack socket mode connected")
        else:
            self._runner = web.AppRunner(
                self.app.web_app(path="/slack/events"), handle_signals=False
            )
            await self._runner.setup()
            port = self._settings.http_port
            self._site = web.TCPSite(self._runner, self._http_host, port)
            try:
                await self._site.start()
            except OSError as e:
                await self._runner.cleanup()
                self._runner = self._site = None
                if e.errno != errno.EADDRINUSE:
                    raise
                raise ConfigError(
                    f"the port for Slack's requests, {self._http_host}:{port}, is already in "
                    "use: set [slack] http_port (WIREWATCH_SLACK__HTTP_PORT) to a free one"
                ) from e
            log.info("slack http endpoint listening", extra={"address": self.http_address})
        self._started = True

    async def stop(self) -> None:
        """Finish in-flight command replies (briefly), then disconnect."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self._stop_grace)
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
            self._handler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self._site = None
        self._started = False

    @property
    def ready(self) -> bool:
        if not self._started:
            return False
        if self._handler is not None:
            session = self._handler.client.current_session
            return not self._handler.client.closed and session is not None and not session.closed
        return self._runner is not None

    @property
    def http_address(self) -> tuple[str, int] | None:
        """(host, port) the HTTP endpoint listens on (port 0 in settings -> the real one)."""
        if self._site is None or self._site._server is None:
            return None
        sockets = getattr(self._site._server, "sockets", None) or []
        if not sockets:
            return None
        host, port = sockets[0].getsockname()[:2]
        return str(host), int(port)

    def notifiers(self) -> list[Notifier]:
        return [self._notifier, self._webhook_notifier]

    async def _call_checked(self, what: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except SlackApiError as e:
            error = _api_error(e)
            if error in _AUTH_ERRORS or error == "not_allowed_token_type":
                raise ConfigError(f"Slack rejected {what} ({error}): check the token") from e
            raise

    # --- listeners --------------------------------------------------------------------

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        invocation = Invocation(
            user_id=command.get("user_id", ""),
            channel_id=command.get("channel_id", ""),
            text=command.get("text", ""),
            team_id=command.get("team_id", ""),
        )
        self._track_current()
        if self.router.is_slow(invocation.text):
            try:
                async with asyncio.timeout(self._ack_budget):
                    early = await self.router.precheck(invocation)
            except TimeoutError:
                early = None  # run() checks again; the ack must not wait any longer
            if early is not None:
                await ack(text=early.message.text, blocks=early.message.blocks or None)
                return
            working = self.router.working_text(invocation.text)
            if working:
                await ack(text=working, response_type="ephemeral")
            else:
                await ack()
            reply = await self.router.run(invocation)
            await self._respond(respond, reply)
        else:
            task = asyncio.ensure_future(self.router.run(invocation))
            done, _ = await asyncio.wait({task}, timeout=self._ack_budget)
            if done:
                reply = task.result()
                await ack(
                    text=reply.message.text,
                    blocks=reply.message.blocks or None,
                    response_type="in_channel" if reply.public else "ephemeral",
                )
            else:
                await ack()
                reply = await task
                await self._respond(respond, reply)
        if reply.core is not None and reply.core.files:
            await self._upload(invocation.channel_id, reply, respond)
        if reply.announce is not None:
            await self._announce(invocation.channel_id, reply, respond)

    async def _upload(self, channel: str, reply: Reply, respond: Any) -> None:
        """Share a reply's files in the channel (files upload v2: Slack has no private
        files, so they are for the channel even when the answer was only for the caller)."""
        assert reply.core is not None
        uploads: list[dict[str, Any]] = [
            {"content": f.data, "filename": f.name, "title": f.title, "alt_txt": f.alt or None}
            for f in reply.core.files
        ]
        problem: str | None = None
        try:
            await self.client.files_upload_v2(file_uploads=uploads, channel=channel)
        except SlackApiError as e:
            error = _api_error(e)
            if error in _NOT_A_MEMBER:
                problem = f"I'm not a member of this channel: `/invite @{self._bot_name}` first"
            else:
                problem = str(error)
        except (SlackRequestError, aiohttp.ClientError, TimeoutError, OSError) as e:
            problem = type(e).__name__
        if problem is not None:
            log.warning("could not upload a file", extra={"channel": channel, "error": problem})
            await respond(
                text=f":warning: The file could not be uploaded here ({problem}); try again.",
                response_type="ephemeral",
                replace_original=False,
            )

    async def _respond(self, respond: Any, reply: Reply) -> None:
        await respond(
            text=reply.message.text,
            blocks=reply.message.blocks or None,
            response_type="in_channel" if reply.public else "ephemeral",
            replace_original=False,
        )

    async def _announce(self, channel: str, reply: Reply, respond: Any) -> None:
        """Tell the channel; if the bot cannot post there, tell the caller how to invite it."""
        assert reply.announce is not None
        try:
            await self.client.chat_postMessage(
                channel=channel, text=reply.announce.text, blocks=reply.announce.blocks or None
            )
        except SlackApiError as e:
            error = _api_error(e)
            if error in _NOT_A_MEMBER:
                await respond(
                    text=invite_hint(self._bot_name),
                    response_type="ephemeral",
                    replace_original=False,
                )
            else:
                log.warning(
                    "could not announce in channel", extra={"channel": channel, "error": error}
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            # The command itself succeeded; a lost announcement is not worth failing it.
            log.warning(
                "could not announce in channel",
                extra={"channel": channel, "error": type(e).__name__},
            )

    def _button(self, command: str) -> Any:
        """The action handler of an alert button (or a listing's menu): the catalogue
        command it stands for, run as if typed in the channel, answered to the clicker (and
        announced on a change)."""

        async def on_click(
            ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
        ) -> None:
            self._track_current()
            await ack()
            user = (body.get("user") or {}).get("id", "")
            channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
                "channel_id", ""
            )
            team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
            # A button carries its value; a menu, the option picked.
            picked = action.get("selected_option") or {}
            value = str(action.get("value") or picked.get("value") or "")[:20]
            invocation = Invocation(user_id=user, channel_id=channel, text="", team_id=team)
            reply = await self.router.run_command(invocation, command, button_args(command, value))
            log.info(
                "alert button",
                extra={"user": user, "channel": channel, "command": command, "value": value},
            )
            await respond(
                text=reply.message.text,
                blocks=reply.message.blocks or None,
                response_type="ephemeral",
                replace_original=False,
            )
            if reply.announce is not None:
                await self._announce(channel, reply, respond)

        return on_click

    async def _on_open(self, ack: Any) -> None:
        # The URL button opens the article in the browser; Slack still sends the click.
        await ack()

    def _track_current(self) -> None:
        """Remember the running listener so ``stop`` can let its reply finish."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)


def _prefix(action: str) -> re.Pattern[str]:
    """Matches ``action`` and ``action:<id>`` (action ids must be unique per message)."""
    return re.compile(rf"^{re.escape(action)}(?::.*)?$")


def _api_error(e: SlackApiError) -> str | None:
    """Slack's error code (``not_in_channel``...), when its answer was JSON."""
    if isinstance(getattr(e.response, "data", None), dict):
        error = e.response.get("error")
        return error if isinstance(error, str) else None
    return None
