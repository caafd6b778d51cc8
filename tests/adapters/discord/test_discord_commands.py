"""Every slash command end to end: INTERACTION_CREATE from the fake Discord, the real bot,
the real core on SQLite, and the answer Discord recorded (plus what changed in the store)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.app import Core
from tests.coredouble import MemoryCore
from tests.fakes.discord import (
    BOT_PERMISSIONS,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    ROLE_ID,
    FakeDiscord,
    InteractionCall,
    RoleRef,
)
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

DEST = f"discord:{CHANNEL_ID}"
DEFERRED = 5
MESSAGE = 4


def is_public(call: InteractionCall) -> bool:
    return not call.ephemeral


async def channel_watches(core: Core, destination: str = DEST) -> list[str]:
    return sorted(w.query for w in await core.api.list_watches(destination))


async def test_subscribe_gets_the_default_watches_and_says_so_in_the_channel(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/subscribe subscribes this channel to every default watch, answered publicly."""
    call = await fake.slash("subscribe")
    assert call.callback_type == MESSAGE and is_public(call)
    assert "This channel now gets alerts for" in call.text
    assert "rare earth" in call.text and "lithium" in call.text
    assert call.data["allowed_mentions"] == {"parse": []}
    assert await channel_watches(core) == ['"rare earth"', "lithium"]
    assert await channel_watches(core, f"discord:{OTHER_CHANNEL_ID}") == []

    again = await fake.slash("subscribe")
    assert again.ephemeral and "Was already subscribed" in again.text


async def test_unsubscribe_one_watch_then_all(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/unsubscribe watch:lithium stops that one; /unsubscribe alone stops the rest."""
    await fake.slash("subscribe")
    one = await fake.slash("unsubscribe", {"watch": "lithium"})
    assert is_public(one) and "no longer gets alerts for" in one.text
    assert await channel_watches(core) == ['"rare earth"']
    rest = await fake.slash("unsubscribe")
    assert "rare earth" in rest.text
    assert await channel_watches(core) == []


async def test_subscribe_autocomplete_offers_default_watches(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """Typing in /subscribe's watch option lists matching default watches by id."""
    choices = await fake.autocomplete("subscribe", {"watch": "lith"}, focused="watch")
    assert choices == [{"name": "#2 lithium: lithium", "value": "2"}]


async def test_watch_add_creates_a_watch_for_this_channel_with_a_role_ping(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/watch add stores the query for this channel (with the chosen role) and says so
    in the channel."""
    call = await fake.slash(
        "watch", {"query": "copper OR nickel", "name": "metals", "mention": RoleRef()},
        subcommand="add",
    )  # fmt: skip
    assert call.callback_type == MESSAGE and is_public(call)
    assert "Watching for copper OR nickel here as watch `#3` (metals)" in call.text
    (watch,) = await core.api.list_watches(DEST)
    assert (watch.query, watch.name, watch.mention, watch.owner) == (
        "copper OR nickel", "metals", str(ROLE_ID), DEST,
    )  # fmt: skip


async def test_bad_query_gets_a_private_reply_showing_where(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """A query that does not parse: ephemeral, the position, the query with a caret under
    the problem in a code block; nothing stored."""
    call = await fake.slash("watch", {"query": "copper AND (nickel"}, subcommand="add")
    assert call.ephemeral
    assert "That query does not parse:" in call.text
    assert "```\ncopper AND (nickel\n" in call.text
    assert "^" in call.text.split("```")[1]
    assert await core.api.list_watches(DEST) == []


async def test_watch_list_shows_this_channels_watches_privately(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """/watch list: an ephemeral embed listing the channel's watches with ids."""
    empty = await fake.slash("watch", subcommand="list")
    assert empty.ephemeral and "No watches post here yet" in empty.text
    await fake.slash("subscribe")
    call = await fake.slash("watch", subcommand="list")
    assert call.ephemeral
    (embed,) = call.final["embeds"]
    assert embed["title"] == "Watches in this channel (2)"
    assert "`#1` **rare earth**" in embed["description"]
    assert "`#2` **lithium**" in embed["description"]


async def test_watch_remove_autocompletes_from_this_channel_and_removes(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/watch remove offers only this channel's watches, then removes the chosen one."""
    await fake.slash("watch", {"query": "copper", "name": "metals"}, subcommand="add")
    choices = await fake.autocomplete(
        "watch", {"watch": "met"}, focused="watch", subcommand="remove"
    )
    assert choices == [{"name": "#3 metals: copper", "value": "3"}]
    elsewhere = await fake.autocomplete(
        "watch", {"watch": ""}, focused="watch", subcommand="remove", channel_id=OTHER_CHANNEL_ID
    )
    assert elsewhere == []

    call = await fake.slash("watch", {"watch": "3"}, subcommand="remove")
    assert is_public(call) and "Watch `#3` metals no longer posts in this channel." in call.text
    assert await core.api.list_watches(DEST) == []


async def test_removing_an_unknown_watch_says_so_privately(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """A reference that names no watch here: ephemeral NotFound message from the core."""
    call = await fake.slash("watch", {"watch": "99"}, subcommand="remove")
    assert call.ephemeral and "no watch '99' here" in call.text


async def test_unsubscribe_autocomplete_lists_only_this_channels_watches(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """/unsubscribe suggests what this channel is subscribed to, nothing else."""
    await fake.slash("subscribe", {"watch": "rare earth"})
    choices = await fake.autocomplete("unsubscribe", {"watch": ""}, focused="watch")
    assert choices == [{"name": '#1 rare earth: "rare earth"', "value": "1"}]


async def test_watch_test_defers_then_shows_matching_stored_articles(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/watch test defers (ephemeral), then edits in the stored articles that match, with
    the matched words in bold."""
    await core.poll(due_only=False)
    call = await fake.slash("watch", {"query": '"rare earth"'}, subcommand="test")
    assert call.callback_type == DEFERRED
    assert call.callback is not None and call.callback["data"]["flags"] == 64
    final = await call.wait_final()
    assert final["content"] == '1 recent article(s) match "rare earth":'
    (embed,) = final["embeds"]
    assert embed["title"] == "China tightens rare earth export rules"
    assert "**rare earth**" in embed["description"]


async def test_latest_is_private_unless_shared(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/latest answers only the asker; share:true posts it in the channel."""
    await core.poll(due_only=False)
    private = await fake.slash("latest", {"count": 2})
    assert private.callback_type == DEFERRED and private.callback["data"]["flags"] == 64  # type: ignore[index]
    final = await private.wait_final()
    assert final["content"] == "Latest 2 article(s):"
    assert len(final["embeds"]) == 2

    shared = await fake.slash("latest", {"query": "lithium", "share": True})
    assert shared.callback_type == DEFERRED
    assert not (shared.callback or {}).get("data", {}).get("flags")
    final = await shared.wait_final()
    assert final["embeds"][0]["title"] == "Lithium prices slide on oversupply"


async def test_a_bad_query_in_a_shared_latest_is_still_answered_privately(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """The public "thinking…" message is deleted and the error goes to the asker alone."""
    call = await fake.slash("latest", {"query": "(oops", "share": True})
    await fake.wait_for(lambda: bool(call.followups))
    assert call.deleted
    (followup,) = call.followups
    assert followup["flags"] == 64
    assert "That query does not parse" in followup["content"]


async def test_feeds_add_fetches_validates_and_adds_the_feed(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer, clock: FakeClock
) -> None:
    """/feeds add defers, the core fetches and parses it, and the edit confirms."""
    feeds.set_feed("/metals.rss", rss([{"title": "Copper", "link": "https://m.test/1"}],
                                      title="Metals Daily"))  # fmt: skip
    call = await fake.slash("feeds", {"url": feeds.url("/metals.rss")}, subcommand="add")
    assert call.callback_type == DEFERRED
    final = await call.wait_final()
    assert "Added feed `#2` Metals Daily" in final["content"]
    assert feeds.url("/metals.rss") in [f.url for f in await core.api.list_feeds()]


async def test_feeds_add_reports_why_a_feed_cannot_be_used(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer
) -> None:
    """A URL that answers 404 is refused with the core's reason; nothing is added."""
    call = await fake.slash("feeds", {"url": feeds.url("/missing.rss")}, subcommand="add")
    final = await call.wait_final()
    assert final["content"].startswith("That feed can't be used:")
    assert "404" in final["content"]
    assert len(await core.api.list_feeds()) == 1


async def test_feeds_add_goes_through_the_private_address_guard(
    fake: FakeDiscord, tmp_path: Path, feeds: FeedServer
) -> None:
    """With private addresses disallowed (the default), a 127.0.0.1 feed is refused."""
    from tests.support import core_for, make_settings

    settings = make_settings(tmp_path, fetch={"allow_private_addresses": False})
    async with core_for(settings) as core:
        adapter = DiscordAdapter(core=core.api, settings=fake.settings(), guild_ready_timeout=0.05)
        await adapter.start()
        try:
            call = await fake.slash("feeds", {"url": feeds.url("/news.rss")}, subcommand="add")
            final = await call.wait_final()
        finally:
            await adapter.stop()
        assert final["content"].startswith("That feed can't be used:")
        assert await core.api.list_feeds() == []
    assert feeds.hits("/news.rss") == 0


async def test_feeds_list_and_remove_with_autocomplete(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer
) -> None:
    """/feeds list shows each feed and its health; /feeds remove offers and removes it."""
    await core.poll(due_only=False)
    listed = await fake.slash("feeds", subcommand="list")
    (embed,) = listed.final["embeds"]
    assert embed["title"] == "Feeds (1, 0 failing)"
    assert feeds.url("/news.rss") in embed["description"]

    choices = await fake.autocomplete(
        "feeds", {"feed": "news.rss"}, focused="feed", subcommand="remove"
    )
    assert choices == [{"name": f"#1 {feeds.url('/news.rss')}", "value": "1"}]
    removed = await fake.slash("feeds", {"feed": "1"}, subcommand="remove")
    assert "Removed feed `#1`" in removed.text
    assert await core.api.list_feeds() == []


async def test_status_shows_health_delivery_and_this_channels_watches(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/status is an ephemeral embed: feeds, last poll, outbox, and the channel's watches."""
    await core.poll(due_only=False)
    await fake.slash("subscribe", {"watch": "lithium"})
    call = await fake.slash("status")
    assert call.ephemeral
    (embed,) = call.final["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Feeds"].startswith("1 ok · 0 failing · 0 new\nlast poll <t:")
    assert fields["Delivery"] == "0 waiting\n0 dead letters"
    assert "`#2` **lithium**" in fields["Watches in this channel"]


async def test_why_explains_what_happened_to_an_article(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """/why defers, then shows the core's account of the article."""
    await core.poll(due_only=False)
    call = await fake.slash("why", {"url": "https://reuters.test/seed-1"})
    assert call.callback_type == DEFERRED
    final = await call.wait_final()
    (embed,) = final["embeds"]
    assert embed["title"] == "Why: https://reuters.test/seed-1"
    assert "Seen " in embed["description"]
    assert "China tightens rare earth export rules" in embed["description"]


async def test_help_is_private_and_names_every_command(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    """/help answers the asker alone and mentions each command."""
    call = await fake.slash("help")
    assert call.ephemeral
    for name in ("/subscribe", "/watch add", "/unsubscribe", "/feeds add", "/latest",
                 "/status", "/why"):  # fmt: skip
        assert name in call.text


async def test_subscribe_is_refused_where_the_bot_cannot_post_and_says_what_is_missing(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """Without Embed Links in the channel, /subscribe refuses (ephemeral) naming the
    missing permission, and nothing is subscribed."""
    call = await fake.slash("subscribe", app_permissions=BOT_PERMISSIONS & ~(1 << 14))
    assert call.ephemeral
    assert "I can't post alerts in this channel: my role is missing Embed Links" in call.text
    assert await core.api.list_watches(DEST) == []


async def test_channel_commands_are_refused_in_direct_messages(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """A /subscribe arriving from a DM is refused with the reason."""
    call = await fake.slash("subscribe", guild_id=None, channel_id=1900000000000000001)
    assert call.ephemeral and "works in a server channel" in call.text
    assert await core.api.list_watches("discord:1900000000000000001") == []


async def test_a_watch_may_not_ping_everyone(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core
) -> None:
    """Choosing the @everyone role as a watch's mention is refused."""
    everyone = RoleRef(id=GUILD_ID, name="@everyone", mentionable=False)
    call = await fake.slash("watch", {"query": "copper", "mention": everyone}, subcommand="add")
    assert call.ephemeral and "never ping @everyone" in call.text
    assert await core.api.list_watches(DEST) == []


async def test_an_unexpected_error_is_logged_and_answered_politely(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the core: the user gets a short ephemeral apology; the log has the trace."""

    class BrokenCore(MemoryCore):
        async def status(self, destination=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("database on fire")

    adapter = DiscordAdapter(core=BrokenCore(), settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        with caplog.at_level(logging.ERROR, logger="bot.adapters.discord"):
            call = await fake.slash("status")
    finally:
        await adapter.stop()
    assert call.ephemeral and "Something went wrong on Wirewatch's side" in call.text
    assert any("database on fire" in str(r.exc_info) for r in caplog.records)


async def test_status_shows_when_this_channel_is_failing(
    fake: FakeDiscord, membot: DiscordAdapter, memcore: MemoryCore
) -> None:
    """A failing destination appears in /status with its reason and since when."""
    from bot.core.models import DestinationState, DestinationStatus
    from tests.adapters.discord.memcore import NOW

    memcore.destinations = (
        DestinationStatus(DEST, DestinationState.FAILING, "Missing Access: the bot cannot see "
                          "this channel.", NOW, 4),
    )  # fmt: skip
    call = await fake.slash("status")
    (embed,) = call.final["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["This channel"].startswith("⚠️ failing since <t:")
    assert "Missing Access: the bot cannot see this channel." in fields["This channel"]
    assert "4 alerts waiting" in fields["This channel"]
