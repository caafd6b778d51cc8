"""What only Discord has: options with autocomplete, role pings, the bot's own channel
permissions, DMs, deferred answers and the tree's error handler. The commands' shared
behaviour is in ``tests/adapters/test_command_contract.py``."""

from __future__ import annotations

import logging

import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.app import Core
from bot.core.api import Caller
from bot.core.models import DestinationState, DestinationStatus, FeedHealth, FeedInfo, WatchInfo
from tests.coredouble import NOW, MemoryCore
from tests.fakes.discord import (
    BOT_PERMISSIONS,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    ROLE_ID,
    FakeDiscord,
    RoleRef,
)

DEST = f"discord:{CHANNEL_ID}"
HERE = Caller(DEST, f"discord:g:{GUILD_ID}")
DEFERRED = 5
MESSAGE = 4


async def channel_watches(core: Core, caller: Caller = HERE) -> list[str]:
    return sorted(w.query for w in await core.api.list_watches(caller))


async def test_subscribe_autocomplete_offers_the_watches_this_channel_may_use(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """Typing in /subscribe's watch option lists matching operator watches by id, and
    never another channel's own watches."""
    await fake.slash("watch", {"query": "lithium AND tariffs", "name": "lith-b"},
                     subcommand="add", channel_id=OTHER_CHANNEL_ID)  # fmt: skip
    choices = await fake.autocomplete("subscribe", {"watch": "lith"}, focused="watch")
    assert choices == [{"name": "#2 lithium: lithium", "value": "2"}]


async def test_watch_add_with_a_role_ping_is_stored_and_answered_in_the_channel(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    call = await fake.slash(
        "watch", {"query": "copper OR nickel", "name": "metals", "ping": RoleRef()},
        subcommand="add",
    )  # fmt: skip
    assert call.callback_type == MESSAGE and not call.ephemeral
    assert "Watch `#3` (metals) `copper OR nickel` added" in call.text
    assert call.data["allowed_mentions"] == {"parse": []}
    (watch,) = await core.api.list_watches(HERE)
    assert (watch.query, watch.name, watch.mention, watch.owner) == (
        "copper OR nickel", "metals", str(ROLE_ID), DEST,
    )  # fmt: skip


async def test_a_ping_of_a_role_nobody_may_mention_is_warned_about(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """Discord drops a bot's mention of a role that is not mentionable unless the bot may
    mention everyone: /watch add and /watch edit keep the ping but say it would notify
    nobody, and how to mend it (nothing was said: the alerts pinged no one)."""
    quiet = RoleRef(name="desk", mentionable=False)
    call = await fake.slash("watch", {"query": "copper", "ping": quiet}, subcommand="add")
    assert "added" in call.text and not call.ephemeral
    assert "will name @desk but notify nobody: the role is not mentionable" in call.text
    edit = await fake.slash("watch", {"watch": "3", "ping": quiet}, subcommand="edit")
    assert "notify nobody" in edit.text
    allowed = await fake.slash(
        "watch", {"watch": "3", "ping": quiet}, subcommand="edit",
        app_permissions=BOT_PERMISSIONS | (1 << 17),  # Mention @everyone, @here and All Roles
    )  # fmt: skip
    assert "changed" in allowed.text and "notify nobody" not in allowed.text
    heard = await fake.slash("watch", {"watch": "3", "ping": RoleRef()}, subcommand="edit")
    assert "changed" in heard.text and "notify nobody" not in heard.text
    (watch,) = await core.api.list_watches(HERE)
    assert watch.mention == str(ROLE_ID)


async def test_watch_remove_autocompletes_from_this_channel_only(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    await fake.slash("watch", {"query": "copper", "name": "metals"}, subcommand="add")
    choices = await fake.autocomplete(
        "watch", {"watch": "met"}, focused="watch", subcommand="remove"
    )
    assert choices == [{"name": "#3 metals: copper", "value": "3"}]
    elsewhere = await fake.autocomplete(
        "watch", {"watch": ""}, focused="watch", subcommand="remove", channel_id=OTHER_CHANNEL_ID
    )
    assert elsewhere == []


async def test_your_own_watches_are_what_dm_remove_and_a_dms_watch_volume_offer(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/dm remove autocompletes the person's own watches, in a channel and in a DM (it
    offered the channel's watches, which it then could not find, and nothing in a DM);
    /watch volume typed in a DM offers the watches of that person's DM alerts."""
    await fake.slash("dm", {"query": "gallium", "name": "gallium"}, subcommand="add")
    await fake.slash("watch", {"query": "copper", "name": "metals"}, subcommand="add")
    mine = [{"name": "#3 gallium: gallium", "value": "3"}]
    assert (
        await fake.autocomplete("dm", {"watch": ""}, focused="watch", subcommand="remove") == mine
    )
    in_dm = {"guild_id": None, "channel_id": 1900000000000000001}
    assert (
        await fake.autocomplete(
            "dm", {"watch": "gal"}, focused="watch", subcommand="remove", **in_dm
        )
        == mine
    )
    assert (
        await fake.autocomplete(
            "watch", {"watch": ""}, focused="watch", subcommand="volume", **in_dm
        )
        == mine
    )
    assert await fake.autocomplete(
        "watch", {"watch": ""}, focused="watch", subcommand="volume"
    ) == [{"name": "#4 metals: copper", "value": "4"}]


async def test_watch_list_shows_all_fifty_watches_with_long_queries(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """A channel at its quota of 50 watches, each with a long query: /watch list names every
    one, its query shortened (the first 15 fitted the embed and the other 35 were only
    counted, "…and 35 more", with no way to see them)."""
    manager = Caller(DEST, f"discord:g:{GUILD_ID}", "discord:1", can_manage=True)
    for i in range(50):
        words = " OR ".join(f"exportcontrolsonrareearthmagnets{i}x{j}" for j in range(20))
        await core.api.add_watch(manager, words, name=f"desk{i}")
    call = await fake.slash("watch", {}, subcommand="list", member_permissions=0)
    (embed,) = call.data["embeds"]
    assert embed["title"] == "Watches in this channel (50)"
    assert "more" not in embed["description"]
    for i in range(50):
        assert f"**desk{i}**" in embed["description"]
    assert len(embed["description"]) <= 4096


async def test_help_and_examples_are_written_as_discord_options(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/help, and every reply naming a command, write it as Discord takes it: named
    options (`name:minerals`), not Slack's line of text (`--name minerals`), which typed
    into /watch add's query became part of the query."""
    text = (await fake.slash("help")).text
    assert "`/watch add query [name] [ping] [google_news]`" in text
    example = '"rare earth" AND (lithium OR cobalt) name:minerals google_news:True'
    assert f"`/watch add query:{example}`" in text
    assert "`/digest mode:daily at:08:00 tz:Europe/London`" in text
    assert "`/watch volume watch:3 per_hour:5 min_outlets:2`" in text
    assert "--" not in text
    bad = await fake.slash("quiet", {"hours": "22:00"})
    assert "Example: `/quiet hours:22:00-07:00 tz:America/New_York`" in bad.text


async def test_slow_commands_defer_then_edit_the_answer(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/latest defers (ephemeral unless shared) and edits in the articles as embeds."""
    await core.poll(due_only=False)
    call = await fake.slash("latest", {"count": 2})
    assert call.callback_type == DEFERRED and call.ephemeral
    final = await call.wait_final()
    assert [e["title"] for e in final["embeds"]][:1] == ["Markets open higher"]
    shared = await fake.slash("latest", {"share": True})
    assert shared.callback_type == DEFERRED and not shared.ephemeral


async def test_subscribe_is_refused_where_the_bot_cannot_post_and_says_what_is_missing(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    call = await fake.slash("subscribe", app_permissions=BOT_PERMISSIONS & ~(1 << 14))
    assert call.ephemeral
    assert "I can't post alerts in this channel: my role is missing Embed Links" in call.text
    assert await channel_watches(core) == []


async def test_channel_commands_are_refused_in_direct_messages(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """Discord offers /subscribe in servers only; a client with an older command list
    may still send it from a DM, and the bot refuses it there itself. So it does a
    server-only command of a group offered in DMs (/watch add beside /watch volume)."""
    call = await fake.slash(
        "subscribe", guild_id=None, channel_id=1900000000000000001, stale_client=True
    )
    assert call.ephemeral and "run it in a channel" in call.text
    call = await fake.slash(
        "watch", {"query": "cobalt"}, subcommand="add", guild_id=None, channel_id=19
    )
    assert call.ephemeral and "run it in a channel" in call.text


async def test_a_watch_may_not_ping_everyone(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    everyone = RoleRef(id=GUILD_ID, name="@everyone", mentionable=False)
    call = await fake.slash("watch", {"query": "copper", "ping": everyone}, subcommand="add")
    assert call.ephemeral and "never ping @\u200beveryone" in call.text
    assert await channel_watches(core) == []


async def test_an_unexpected_error_is_logged_and_answered_politely(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenCore(MemoryCore):
        async def status(self, caller):  # type: ignore[no-untyped-def]
            raise RuntimeError("database on fire")

    adapter = DiscordAdapter(core=BrokenCore(), settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        with caplog.at_level(logging.ERROR):
            call = await fake.slash("status")
    finally:
        await adapter.stop()
    assert call.ephemeral and "Something went wrong on Wirewatch's side" in call.text
    assert any("database on fire" in str(r.exc_info) for r in caplog.records)


async def test_status_shows_when_this_channel_is_failing(
    fake: FakeDiscord, membot: DiscordAdapter, memcore: MemoryCore
) -> None:
    memcore.destinations = (
        DestinationStatus(DEST, DestinationState.FAILING, "Missing Access: the bot cannot see "
                          "this channel.", NOW, 4),
    )  # fmt: skip
    call = await fake.slash("status")
    assert "**This channel:** ⚠️ failing since <t:" in call.text
    assert "Missing Access: the bot cannot see this channel. · 4 alerts waiting" in call.text


async def test_a_status_longer_than_one_message_holds_is_cut_to_fit_not_refused(
    fake: FakeDiscord, membot: DiscordAdapter, memcore: MemoryCore
) -> None:
    """Twenty failing feeds whose servers sent long errors and twenty watches here: each
    list fits its embed, but together they passed Discord's 6,000 characters for one
    message, which it refuses whole (the fake refuses it as Discord does). The answer
    now fits: the lists' long pieces shortened, what still does not fit counted."""
    for n in range(2, 22):
        memcore.feeds[n] = FeedInfo(
            n, f"https://outlet{n}.example/rss", f"Outlet {n}", 300, FeedHealth.FAILING, NOW,
            "HTTP 503: " + "upstream proxy error, retry later " * 6, NOW, 9, None, "config",
        )  # fmt: skip
        memcore.watches[n + 1] = WatchInfo(
            n + 1, f'"export controls" AND (gallium{n} OR germanium{n} OR antimony{n})',
            f"critical minerals desk watch {n}", 0, None, (DEST,),
        )  # fmt: skip
    call = await fake.slash("status")
    assert call.callback_type == MESSAGE
    embeds = call.final.get("embeds") or []
    sizes = [len(e.get("title") or "") + len(e.get("description") or "") for e in embeds]
    assert len(sizes) >= 2 and sum(sizes) <= 6000
    shown = [n for n in range(2, 22) if f"`#{n + 1}` **critical minerals" in call.text]
    assert shown == list(range(2, 22)) or "more" in call.text
