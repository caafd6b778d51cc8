"""The Discord bot's lifecycle: endpoints, intents, command sync, start and stop.

``DiscordAdapter`` is what the composition root holds::

    adapter = DiscordAdapter(core=core, settings=settings.discord)
    await adapter.start()          # logged in, commands synced, gateway READY
    delivery.register(*adapter.notifiers())
    ...
    await adapter.stop()           # in-flight command replies finish, then disconnect

Only slash commands, so the gateway needs no privileged intent: ``guilds`` alone gives the
channel and role cache the commands use. Discord has no base-URL option; the two
process-wide class attributes it reads are set here, in ``configure_endpoints``, and
nowhere else (tests point them at a fake Discord on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord
import yarl
from discord import app_commands

from bot.core.api import CoreAPI
from bot.core.errors import ConfigError
from bot.core.ports import Notifier
from bot.settings import DiscordSettings

log = logging.getLogger(__name__)

SCOPES = ("bot", "applications.commands")
# discord.py's task name for command callbacks; stop() lets these finish first.
_COMMAND_TASK_NAME = "CommandTree-invoker"


def configure_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py's REST and gateway at the configured URLs (process-wide)."""
    discord.http.Route.BASE = settings.api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def required_permissions(*, webhook_delivery: bool = False) -> discord.Permissions:
    """What the bot needs in a channel it posts alerts to, and nothing more."""
    perms = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
    if webhook_delivery:
        perms.manage_webhooks = True
    return perms


def invite_url(application_id: int, *, webhook_delivery: bool = False) -> str:
    """The OAuth2 URL a server admin opens to add the bot with exactly these rights."""
    return discord.utils.oauth_url(
        application_id,
        permissions=required_permissions(webhook_delivery=webhook_delivery),
        scopes=SCOPES,
    )


def gateway_intents() -> discord.Intents:
    """Guilds only: no message content, no members, no presences (nothing privileged)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class WirewatchClient(discord.Client):
    """discord.Client with Wirewatch's command tree; syncs it in ``setup_hook``."""

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        guild_ready_timeout: float = 2.0,
        max_ratelimit_timeout: float | None = 60.0,
    ) -> None:
        shard: dict[str, int] = {}
        if settings.shard_id is not None and settings.shard_count is not None:
            shard = {"shard_id": settings.shard_id, "shard_count": settings.shard_count}
        super().__init__(
            intents=gateway_intents(),
            # Belt and braces: every send that does not say otherwise pings nobody.
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            # Longer waits become discord.RateLimited, which the outbox retries later
            # instead of holding a delivery worker asleep.
            max_ratelimit_timeout=max_ratelimit_timeout,
            **shard,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.tree: app_commands.CommandTree[WirewatchClient] = app_commands.CommandTree(self)
        self.ready_event = asyncio.Event()
        self.synced: list[app_commands.AppCommand] = []
        # Only the instance holding the gateway answers commands, so only it syncs them.
        self.sync_commands = True
        self.on_component: Callable[[discord.Interaction], Awaitable[None]] | None = None

    async def setup_hook(self) -> None:
        assert self.application_id is not None
        if self.sync_commands:
            guild = discord.Object(id=self.settings.guild_id) if self.settings.guild_id else None
            if guild is not None:
                # Guild commands appear at once: the way to iterate on one test server.
                self.tree.copy_global_to(guild=guild)
            self.synced = await self.tree.sync(guild=guild)
            log.info(
                "discord commands synced",
                extra={"count": len(self.synced), "guild": self.settings.guild_id or "global"},
            )
        log.info(
            "invite the Discord bot with: %s",
            invite_url(self.application_id, webhook_delivery=self.settings.webhook_delivery),
        )

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Slash commands go through the tree; an alert's buttons come here.
        if interaction.type is discord.InteractionType.component and self.on_component:
            await self.on_component(interaction)

    async def on_ready(self) -> None:
        log.info(
            "discord gateway ready",
            extra={"user": str(self.user), "guilds": len(self.guilds), "shard": self.shard_id},
        )
        self.ready_event.set()


class DiscordAdapter:
    """Wirewatch on Discord: slash commands in, alerts out (see ``notifiers``).

    ``gateway=False`` logs in over REST only (no commands): alerts can still be sent, which
    lets several instances deliver while only one holds the gateway for a shard.
    """

    name = "discord"

    def __init__(
        self,
        *,
        core: CoreAPI,
        settings: DiscordSettings,
        gateway: bool = True,
        guild_ready_timeout: float = 2.0,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        max_ratelimit_timeout: float | None = 60.0,
    ) -> None:
        if settings.token is None:
            raise ConfigError("Discord is not configured: set DISCORD_TOKEN")
        # Imported here: commands and notifier import this module for the endpoint helpers.
        from bot.adapters.discord.commands import install_commands
        from bot.adapters.discord.notifier import DiscordNotifier

        self.core = core
        self.settings = settings
        self.gateway = gateway
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        configure_endpoints(settings)
        self.client = WirewatchClient(
            settings,
            guild_ready_timeout=guild_ready_timeout,
            max_ratelimit_timeout=max_ratelimit_timeout,
        )
        self.client.sync_commands = gateway
        install_commands(self.client.tree, core)
        self._notifier = DiscordNotifier(self.client)
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        if self.client.is_closed():
            return False
        if not self.gateway:
            return self.client.http.token is not None
        return self.client.is_ready()

    @property
    def invite_url(self) -> str | None:
        app_id = self.client.application_id
        return (
            None
            if app_id is None
            else invite_url(app_id, webhook_delivery=self.settings.webhook_delivery)
        )

    def notifiers(self) -> list[Notifier]:
        """The ``discord:`` notifier. Webhook destinations are served by
        ``DiscordWebhookNotifier``, which the composition root builds whether or not a bot
        token is configured."""
        return [self._notifier]

    async def start(self) -> None:
        """Log in, sync commands and connect; return once READY. A rejected token or a
        refused intent fails fast with ``ConfigError``."""
        assert self.settings.token is not None
        token = self.settings.token.get_secret_value()
        if not self.gateway:
            try:
                await self.client.login(token)
            except discord.LoginFailure as e:
                await self.client.close()
                raise ConfigError(
                    "Discord rejected DISCORD_TOKEN (401): reset it in the developer portal"
                ) from e
            return
        self._task = asyncio.create_task(self._run(token), name="discord-client")
        self._task.add_done_callback(self._client_ended)
        ready = asyncio.create_task(self.client.ready_event.wait())
        try:
            done, _ = await asyncio.wait(
                {self._task, ready}, timeout=self.start_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if self._task in done:
            exc = self._task.exception()
            await self.client.close()
            raise _start_error(exc) from exc
        if not done:
            await self.stop()
            raise ConfigError(f"Discord did not become ready within {self.start_timeout:.0f} s")

    def _client_ended(self, task: asyncio.Task[None]) -> None:
        # discord.py reconnects by itself; the task ends only on a fatal error or stop().
        if (
            not task.cancelled()
            and task.exception() is not None
            and self.client.ready_event.is_set()
        ):
            log.error("discord client stopped: %r", task.exception(), exc_info=task.exception())

    async def _run(self, token: str) -> None:
        async with self.client:
            await self.client.start(token)

    async def stop(self) -> None:
        """Let running command callbacks finish (bounded), then disconnect."""
        running = [
            t
            for t in asyncio.all_tasks()
            if t.get_name() == _COMMAND_TASK_NAME and t is not asyncio.current_task()
        ]
        if running:
            await asyncio.wait(running, timeout=self.stop_timeout)
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(self.stop_timeout):
                    await self._task
            self._task = None


def _start_error(exc: BaseException | None) -> Exception:
    if isinstance(exc, discord.LoginFailure):
        return ConfigError("Discord rejected DISCORD_TOKEN (401): reset it in the developer portal")
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return ConfigError("Discord refused the gateway intents requested")
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4004:
        return ConfigError("Discord rejected DISCORD_TOKEN on the gateway (4004)")
    if isinstance(exc, discord.ConnectionClosed) and exc.code in (4010, 4011):
        return ConfigError(f"Discord refused the shard settings (gateway close {exc.code})")
    return ConfigError(f"Discord could not start: {exc!r}")
