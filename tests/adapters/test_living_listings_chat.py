# ruff: noqa: F811  (the room fixture is imported, and named by every test)
"""Living messages that list several stories (a burst's condensed listing) and growth as
thread replies, on both platforms: a muted story keeps its line as it was when the
listing is edited, a reply under a listing names the story that grew, and "Headline
now" is said once per new headline. Real core on SQLite, real slack-bolt and discord.py
clients against the fake servers, a hand-moved clock."""

from __future__ import annotations

from typing import Any

from tests.adapters.test_channel_controls_chat import Room, _text, room  # noqa: F401  (fixture)
from tests.adapters.test_command_contract import SLACK_ADMIN, SLACK_MEMBER
from tests.fakes.discord import CHANNEL_ID, OTHER_CHANNEL_ID
from tests.feedserver import rss

# More than the burst threshold (5) at once: one listing message.
HEADLINES = (
    "Rare earth magnet makers warn of shortages in Europe",
    "Lithium miner in Chile doubles output",
    "Vietnam opens its first rare earth refinery",
    "Battery recyclers bid for lithium from old phones",
    "Rare earth stockpile plan approved by Tokyo",
    "Lithium price index hits a two-year low",
)


def _raw(room: Room) -> list[dict[str, Any]]:
    return list(room.fake.messages.get("C1" if room.platform == "slack" else CHANNEL_ID, []))


def _is_reply(message: dict[str, Any]) -> bool:
    return bool(message.get("thread_ts") or message.get("message_reference"))


def _listing(room: Room) -> dict[str, Any]:
    (listing,) = [m for m in _raw(room) if "news.test/burst-0" in _text(m) and not _is_reply(m)]
    return listing


def _replies(room: Room, message: dict[str, Any]) -> list[str]:
    if room.platform == "slack":
        return [_text(m) for m in _raw(room) if m.get("thread_ts") == message["ts"]]
    return [
        _text(m)
        for m in _raw(room)
        if str((m.get("message_reference") or {}).get("message_id")) == message["id"]
    ]


def _story_part(room: Room, message: dict[str, Any], headline: str) -> str:
    """What a listing shows of one story: its section (Slack) or its embed (Discord)."""
    if room.platform == "slack":
        (part,) = [
            str(b["text"]["text"])
            for b in message.get("blocks") or []
            if b.get("type") == "section" and headline in str(b["text"]["text"])
        ]
        return part
    (embed,) = [e for e in message.get("embeds") or [] if headline in str(e.get("title"))]
    fields = [f"{f['name']}: {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(
        [str(embed.get("title")), *fields, str((embed.get("footer") or {}).get("text", ""))]
    )


def _edits(room: Room) -> int:
    if room.platform == "slack":
        return len(room.fake.calls_to("chat.update"))
    return len(room.fake.edited)


def _retitle(room: Room, slug: str, title: str) -> None:
    """The news outlet rewrites one of its items' headline (same guid, same link)."""
    for item in room.items:
        if item["guid"] == f"news-{slug}":
            item["title"] = title
    room.feeds.set_feed(
        "/news.rss",
        rss([i for i in room.items if i["link"].startswith("https://news.")], title="NEWS"),
    )


async def _burst(room: Room) -> dict[str, Any]:
    for n, headline in enumerate(HEADLINES):
        room.publish(f"burst-{n}", headline)
    await room.tick(minutes=1)
    listing = _listing(room)
    assert all(h in _text(listing) for h in HEADLINES), "one listing of the whole burst"
    return listing


def menu_options(room: Room, message: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A listing's "Mute a story…" menu as a reader sees it: label -> (the menu's action
    or custom id, the option's value)."""
    if room.platform == "slack":
        return {
            o["text"]["text"]: (e["action_id"], o["value"])
            for block in message.get("blocks") or []
            if block.get("type") == "actions"
            for e in block.get("elements") or []
            if e.get("type") == "static_select"
            and e.get("placeholder", {}).get("text") == "Mute a story…"
            for o in e["options"]
        }
    return {
        o["label"]: (c["custom_id"], o["value"])
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("type") == 3 and c.get("placeholder") == "Mute a story…"
        for o in c["options"]
    }


async def pick(room: Room, label: str, *, manager: bool = True, other_channel: bool = False) -> str:
    """Pick ``label`` in the listing's "Mute a story…" menu; the answer only the picker sees
    (a Slack block action through the real slack-bolt app; a MESSAGE_COMPONENT interaction
    through the real discord.py client)."""
    listing = _listing(room)
    menu, value = menu_options(room, listing)[label]
    if room.platform == "slack":
        before = len(room.fake.responses)
        await room.fake.send_select_action(
            listing,
            menu,
            value,
            user_id=SLACK_ADMIN if manager else SLACK_MEMBER,
            channel_id="C2" if other_channel else "C1",
        )
        await room.fake.wait_for(lambda: len(room.fake.responses) > before)
        body: dict[str, Any] = room.fake.responses[before].body
        assert body.get("response_type") == "ephemeral"
        blocks = [str((b.get("text") or {}).get("text", "")) for b in body.get("blocks") or []]
        return "\n".join([str(body.get("text", "")), *blocks])
    call = await room.fake.select(
        listing,
        menu,
        [value],
        channel_id=OTHER_CHANNEL_ID if other_channel else CHANNEL_ID,
        member_permissions=(1 << 53) - 1 if manager else 0,
    )
    assert call.ephemeral
    return call.text


async def _mute(room: Room, headline: str) -> None:
    """Mute one story of the listing here, as a manager does: from its "Mute a story…"
    menu."""
    assert "Muted here" in await pick(room, headline)


async def test_a_muted_story_keeps_its_line_when_the_listing_is_edited_for_another(
    room: Room,
) -> None:
    """Before, the edit for the other story re-rendered every story of the listing from
    its current coverage, the muted one too: "no more updates of it" was not kept."""
    await _burst(room)
    await _mute(room, HEADLINES[0])
    before = _story_part(room, _listing(room), HEADLINES[0])
    room.publish("burst-0", HEADLINES[0], outlet="wire")
    room.publish("burst-1", HEADLINES[1], outlet="wire")
    await room.tick(minutes=2)
    listing = _listing(room)
    grown = _story_part(room, listing, HEADLINES[1])
    assert "WIRE" in grown and "https://wire.test/burst-1" in grown
    assert _story_part(room, listing, HEADLINES[0]) == before
    assert "wire.test/burst-0" not in _text(listing)


async def test_a_muted_story_growing_alone_leaves_the_listing_as_it_was(room: Room) -> None:
    """Its new outlet and its new headline are not shown, and the listing is not edited
    for it at all (before, it was edited with both)."""
    await _burst(room)
    await _mute(room, HEADLINES[2])
    edits = _edits(room)
    room.publish("burst-2", HEADLINES[2], outlet="wire")
    await room.tick(minutes=2)
    _retitle(room, "burst-2", "Vietnam opens its first rare earth refinery near Hanoi port")
    await room.tick(minutes=2)
    assert _edits(room) == edits
    text = _text(_listing(room))
    assert "wire.test/burst-2" not in text and "Hanoi" not in text


async def test_a_muted_story_of_a_listing_gets_no_thread_reply(room: Room) -> None:
    """With growth as thread replies, the muted story's new outlet is not replied about
    (before, the reply listed every story's coverage, the muted one's too)."""
    await room.say("updates", {"mode": "thread"})
    listing = await _burst(room)
    await _mute(room, HEADLINES[4])
    room.publish("burst-4", HEADLINES[4], outlet="wire")
    await room.tick(minutes=2)
    assert _replies(room, listing) == []
    room.publish("burst-5", HEADLINES[5], outlet="wire")
    await room.tick(minutes=2)
    (reply,) = _replies(room, listing)
    assert "wire.test/burst-5" in reply and "wire.test/burst-4" not in reply


async def test_a_thread_reply_under_a_listing_names_the_story_that_grew(room: Room) -> None:
    """Before, the reply said "Now carried by 2 outlets" without saying which of the six
    stories: a reader of the thread could not tell."""
    await room.say("updates", {"mode": "thread"})
    listing = await _burst(room)
    room.publish("burst-3", HEADLINES[3], outlet="wire")
    await room.tick(minutes=2)
    (reply,) = _replies(room, listing)
    assert HEADLINES[3] in reply and "Now carried by 2 outlets" in reply and "WIRE" in reply
    assert not any(h in reply for h in HEADLINES if h != HEADLINES[3]), "only the one that grew"
    assert _edits(room) == 0


async def test_headline_now_is_said_once_per_new_headline_in_a_thread(room: Room) -> None:
    """Before, every later reply repeated "Headline now" (the alert stays marked updated)
    although the headline had not changed again."""
    await room.say("updates", {"mode": "thread"})
    headline = "China expands rare earth export controls to five more elements"
    room.publish("re-1", headline)
    await room.tick(minutes=1)
    (story,) = [m for m in _raw(room) if "news.test/re-1" in _text(m)]
    retitled = "China expands rare earth export controls to seven elements"
    _retitle(room, "re-1", retitled)
    await room.tick(minutes=2)
    (first,) = _replies(room, story)
    assert f"Headline now: *<https://news.test/re-1|{retitled}>*" in first or (
        f"Headline now: **{retitled}**" in first
    )
    room.publish("re-1", headline, outlet="wire")
    await room.tick(minutes=2)
    again, second = _replies(room, story)
    assert again == first
    assert "Now carried by 2 outlets" in second and "WIRE" in second
    assert "Headline now" not in second
