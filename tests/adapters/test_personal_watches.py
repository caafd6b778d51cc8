# ruff: noqa: F811  (the room fixture is imported, and named by every test)
"""Personal watches, driven from chat on both platforms: anyone (no Manage Channels, no
Slack admin) keeps their own watches with ``dm add``; their alerts arrive in that person's
direct messages with the app (Slack conversations.open, Discord Create DM), with the same
stories and dedup as channels; nobody else sees or removes them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.api import Caller
from tests.adapters.test_channel_controls_chat import Room, _text, room  # noqa: F401
from tests.adapters.test_command_contract import SLACK_ADMIN, SLACK_MEMBER
from tests.fakes.discord import ALL_PERMISSIONS, USER_ID


def dm_messages(room: Room) -> list[str]:
    if room.platform == "slack":
        raw: list[dict[str, Any]] = list(room.fake.messages.get(f"D{SLACK_MEMBER}", []))
    else:
        channel = room.fake.dm_channels.get(USER_ID)
        raw = list(room.fake.messages.get(channel, [])) if channel else []
    return [_text(m) for m in raw]


async def test_anyone_keeps_watches_delivered_by_direct_message(room: Room) -> None:
    added = await room.say(
        "dm add", {"query": "gallium OR germanium", "name": "minor-metals"}, manager=False
    )
    assert "come to you by direct message" in added.text and not added.public
    listed = await room.say("dm list", manager=False)
    assert "gallium OR germanium" in listed.text and "minor-metals" in listed.text
    assert "gallium" not in (await room.say("watch list")).text, "not the channel's watch"

    room.publish("ga-1", "China curbs gallium exports again")
    await room.tick(minutes=1)
    (alert,) = dm_messages(room)
    assert "China curbs gallium exports again" in alert
    assert room.messages() == [], "the channel never subscribed to it"
    room.publish("ga-1", "China curbs gallium exports again", outlet="wire")
    await room.tick(minutes=1)
    assert len(dm_messages(room)) == 1, "one story, one message, in DMs too"

    removed = await room.say("dm remove", {"watch": "minor-metals"}, manager=False)
    assert "is removed" in removed.text
    room.publish("ge-1", "Germanium prices hit record")
    await room.tick(minutes=1)
    assert len(dm_messages(room)) == 1


async def test_a_personal_watch_is_its_owners_alone(room: Room) -> None:
    await room.say("dm add", {"query": "antimony"}, manager=False)
    here = room.chat.here()
    someone_else = replace(here, user="x:other", can_manage=True, dm="x-dm:other")
    assert all(w.query != "antimony" for w in await room.core.api.list_watches(here))
    assert all(w.query != "antimony" for w in await room.core.api.available_watches(someone_else))
    taken = await room.core.api.subscribe(someone_else, ["antimony"])
    assert taken.changed == () and taken.unknown == ("antimony",)


async def test_a_person_sets_a_digest_for_their_own_direct_messages(room: Room) -> None:
    if room.platform == "slack":
        ack = await room.fake.send_slash_command(
            "digest hourly", user_id=SLACK_MEMBER, channel_id=f"D{SLACK_MEMBER}"
        )
        said = str(ack.get("text", "")) + str(ack.get("blocks", ""))
    else:
        call = await room.fake.slash("digest", {"mode": "hourly"}, guild_id=None, channel_id=99)
        said = call.text
    assert "one digest every hour" in said
    assert "Digest: realtime" in (await room.say("settings")).text, "the channel is unchanged"
    await room.say("dm add", {"query": "gallium"}, manager=False)
    room.publish("ga-1", "China curbs gallium exports again")
    await room.tick(minutes=1)
    assert dm_messages(room) == [], "held for the person's hourly digest"
    await room.tick(minutes=60)
    (digest,) = dm_messages(room)
    assert "Hourly digest" in digest and "gallium exports" in digest


async def test_a_person_caps_their_own_watch_in_direct_messages(room: Room) -> None:
    await room.say("dm add", {"query": "gallium", "name": "ga"}, manager=False)
    if room.platform == "slack":
        ack = await room.fake.send_slash_command(
            "watch volume ga --per-hour 1", user_id=SLACK_MEMBER, channel_id=f"D{SLACK_MEMBER}"
        )
        said = str(ack.get("text", "")) + str(ack.get("blocks", ""))
    else:
        call = await room.fake.slash(
            "watch",
            {"watch": "ga", "per_hour": 1},
            subcommand="volume",
            guild_id=None,
            channel_id=99,
        )
        said = call.text
    assert "here: at most 1/hour" in said, said
    room.publish("ga-1", "China curbs gallium exports again")
    room.publish("ga-2", "Gallium prices double in a week")
    await room.tick(minutes=1)
    assert len(dm_messages(room)) == 1, "the second story waits: one an hour"


async def test_a_channel_command_typed_in_a_direct_message_says_what_works_there(
    room: Room,
) -> None:
    """`watch add` or `subscribe` typed in a DM with the app: there is no channel's alerts
    to change, and the answer says so and offers `dm add`, on both platforms (on Slack a
    manager's command subscribed the DM as if it were a channel, anyone else was told only
    to ask a manager; Discord said only that it works in a server channel)."""
    for manager in (True, False):
        if room.platform == "slack":
            ack = await room.fake.send_slash_command(
                "watch add cobalt",
                user_id=SLACK_ADMIN if manager else SLACK_MEMBER,
                channel_id=f"D{SLACK_MEMBER}",
            )
            said = str(ack.get("text", "")) + str(ack.get("blocks", ""))
        else:
            call = await room.fake.slash(
                "watch", {"query": "cobalt"}, subcommand="add", guild_id=None, channel_id=99,
                member_permissions=ALL_PERMISSIONS if manager else 0,
            )  # fmt: skip
            said = call.text
        assert "run it in a channel" in said and "dm add" in said and "QUERY" in said, said
    if room.platform == "slack":
        await room.fake.send_slash_command(
            "subscribe", user_id=SLACK_ADMIN, channel_id=f"D{SLACK_MEMBER}"
        )
    everything = await room.core.api.list_watches(Caller.console())
    assert all(w.query != "cobalt" for w in everything)
    assert all(not any(d.startswith("slack:D") for d in w.destinations) for w in everything)
