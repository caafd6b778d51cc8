"""The bot's lifecycle against the fake Discord: login, command sync, gateway, shutdown."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from discord import app_commands

from bot.adapters.discord.client import DiscordAdapter, gateway_intents, invite_url
from bot.adapters.discord.commands import DiscordCommands
from bot.core.errors import ConfigError
from tests.coredouble import MemoryCore
from tests.fakes.discord import APPLICATION_ID, GUILD_ID, TOKEN, FakeDiscord

MANAGE_CHANNELS = 1 << 4


def defined_commands() -> list[dict[str, object]]:
    """What the code defines, as discord.py would send it."""
    client = discord.Client(intents=gateway_intents())
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    for command in DiscordCommands(MemoryCore()).build():
        tree.add_command(command)
    return [c.to_dict(tree) for c in tree.get_commands()]


async def test_start_logs_in_syncs_every_command_and_becomes_ready(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """Login, then PUT of the global command list, then the gateway: the synced list is
    exactly what the code defines, and the adapter reports ready."""
    assert membot.ready
    assert [(r.method, r.path) for r in fake.requests[:3]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("PUT", f"/applications/{APPLICATION_ID}/commands"),
    ]
    (put,) = fake.calls("PUT", f"/applications/{APPLICATION_ID}/commands")
    assert put.body == defined_commands()
    names = sorted(c["name"] for c in fake.synced_commands[None])
    assert names == [
        "backfill",
        "digest",
        "dm",
        "feeds",
        "help",
        "latest",
        "quiet",
        "settings",
        "snooze",
        "status",
        "story",
        "subscribe",
        "template",
        "trend",
        "unsubscribe",
        "updates",
        "watch",
        "why",
    ]


async def test_commands_that_change_alerts_default_to_manage_channels_in_servers_only(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """/subscribe and /unsubscribe only change things: Manage Channels by default, no DMs.
    /watch and /feeds mix reading and changing: open to members (the core refuses their
    changing subcommands to members without Manage Channels). The read-only commands are
    open to everyone."""
    synced = {c["name"]: c for c in fake.synced_commands[None]}
    for name in ("subscribe", "unsubscribe"):
        assert synced[name]["default_member_permissions"] == MANAGE_CHANNELS, name
        assert synced[name]["dm_permission"] is False, name
    # Channel controls: managers in servers; in a DM with the bot, the person's own alerts.
    for name in ("digest", "quiet", "snooze", "updates"):
        assert synced[name]["default_member_permissions"] == MANAGE_CHANNELS, name
        assert synced[name]["dm_permission"] is not False, name
    for name in ("watch", "feeds", "template"):
        assert synced[name]["default_member_permissions"] is None, name
    # Discord sets where a group works, not each subcommand: /watch and /template hold
    # commands for one's own DM alerts (watch volume, template set), /feeds none.
    assert synced["feeds"]["dm_permission"] is False
    assert synced["watch"]["dm_permission"] is not False
    assert synced["template"]["dm_permission"] is not False
    for name in ("latest", "status", "why", "help", "settings"):
        assert synced[name]["default_member_permissions"] is None, name
    # /story mute: a group, so shown to members (the core refuses them, with the reason);
    # typed in a DM it mutes a story of one's own DM alerts.
    assert synced["story"]["default_member_permissions"] is None
    assert synced["story"]["dm_permission"] is not False
    subcommands = {o["name"] for o in synced["watch"]["options"]}  # type: ignore[union-attr]
    assert subcommands == {"add", "edit", "list", "remove", "test", "volume"}


async def test_gateway_identifies_with_guilds_intent_only_over_zlib_stream(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """IDENTIFY asks for the guilds intent alone (no message content), the stream is
    zlib-compressed, and the first heartbeat was answered."""
    (identify,) = fake.identify_payloads
    assert identify["token"] == TOKEN
    assert identify["intents"] == discord.Intents(guilds=True).value == 1
    assert fake.compressed_connections == 1
    assert fake.heartbeats >= 1
    assert membot.client.get_guild(GUILD_ID) is not None


async def test_commands_sync_to_the_configured_guild_for_fast_iteration(
    fake: FakeDiscord,
) -> None:
    """With guild_id set, the commands go to that guild (instant) and not globally."""
    adapter = DiscordAdapter(
        core=MemoryCore(), settings=fake.settings(guild_id=GUILD_ID), guild_ready_timeout=0.05
    )
    await adapter.start()
    try:
        assert list(fake.synced_commands) == [GUILD_ID]
        assert len(fake.synced_commands[GUILD_ID]) == 18
    finally:
        await adapter.stop()


async def test_wrong_token_fails_fast_with_a_config_error(fake: FakeDiscord) -> None:
    """A rejected token ends start() at once with ConfigError; nothing keeps running."""
    adapter = DiscordAdapter(
        core=MemoryCore(), settings=fake.settings(token="wrong"), guild_ready_timeout=0.05
    )
    async with asyncio.timeout(5):
        with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
            await adapter.start()
    assert not adapter.ready
    assert fake.gateway_connections == 0


async def test_invite_url_is_logged_with_exact_scopes_and_permissions(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """The startup log has the invite: bot + applications.commands, View Channel, Send
    Messages, Embed Links (1024 + 2048 + 16384); Manage Webhooks only when asked."""
    caplog.set_level(logging.INFO, logger="bot.adapters.discord")
    adapter = DiscordAdapter(core=MemoryCore(), settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    await adapter.stop()
    expected = invite_url(APPLICATION_ID)
    assert any(expected in r.getMessage() for r in caplog.records)
    query = parse_qs(urlsplit(expected).query)
    assert query["scope"] == ["bot applications.commands"]
    assert query["permissions"] == [str(1024 + 2048 + 16384)]
    with_hooks = parse_qs(urlsplit(invite_url(APPLICATION_ID, webhook_delivery=True)).query)
    assert with_hooks["permissions"] == [str(1024 + 2048 + 16384 + (1 << 29))]


async def test_stop_lets_a_running_command_finish_then_disconnects(fake: FakeDiscord) -> None:
    """stop() waits for an in-flight command's reply, closes the gateway, and is quick."""
    release = asyncio.Event()

    class SlowCore(MemoryCore):
        async def status(self, caller):  # type: ignore[no-untyped-def]
            await release.wait()
            return await super().status(caller)

    adapter = DiscordAdapter(core=SlowCore(), settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    call = asyncio.create_task(fake.slash("status"))
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(adapter.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    async with asyncio.timeout(5):
        await stopping
        answered = await call
    assert answered.callback_type == 4
    assert not adapter.ready
    assert adapter.client.is_closed()


async def test_rest_only_mode_delivers_without_a_gateway_connection(fake: FakeDiscord) -> None:
    """gateway=False logs in over REST (for instances that don't hold the shard) and the
    notifier still posts."""
    from tests.adapters.discord.test_discord_render import make_alert

    adapter = DiscordAdapter(core=MemoryCore(), settings=fake.settings(), gateway=False)
    await adapter.start()
    try:
        assert adapter.ready
        (notifier,) = adapter.notifiers()
        await notifier.send("discord:1300000000000000001", [make_alert(1)])
    finally:
        await adapter.stop()
    assert fake.gateway_connections == 0
    assert fake.calls("PUT", "/applications") == []
    assert len(fake.messages[1300000000000000001]) == 1


async def test_shard_settings_are_sent_in_identify(fake: FakeDiscord) -> None:
    """shard_id/shard_count from settings reach IDENTIFY (one gateway per shard)."""
    adapter = DiscordAdapter(
        core=MemoryCore(),
        settings=fake.settings(shard_id=1, shard_count=2),
        guild_ready_timeout=0.05,
    )
    await adapter.start()
    await adapter.stop()
    assert fake.identify_payloads[0]["shard"] == [1, 2]


async def test_plain_text_gateway_frames_work_too() -> None:
    """A gateway that answers in text frames (no zlib) is understood as well."""
    async with FakeDiscord(compress=False, heartbeat_interval_ms=50) as fake:
        adapter = DiscordAdapter(
            core=MemoryCore(), settings=fake.settings(), guild_ready_timeout=0.05
        )
        await adapter.start()
        try:
            await fake.wait_for(lambda: fake.heartbeats >= 2, within=2)
            call = await fake.slash("help")
            assert call.callback_type == 4
        finally:
            await adapter.stop()
        assert fake.compressed_connections == 0
