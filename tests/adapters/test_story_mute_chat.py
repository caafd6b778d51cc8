# ruff: noqa: F811  (the room fixture is imported, and named by every test)
"""Muting one story of a burst's listing, on both platforms, the ways a person can: from
the listing's own "Mute a story…" menu (a Slack static_select through the real
slack-bolt app; a Discord select menu through the real discord.py client), and by typing
``story mute`` with words of its headline (the only way before was a Slack command that
wanted an alert id nobody sees, and nothing on Discord). Real core on SQLite, alerts
delivered through the same adapter, a hand-moved clock."""

from __future__ import annotations

from typing import Any

from tests.adapters.test_channel_controls_chat import Room, _text, room  # noqa: F401  (fixture)
from tests.adapters.test_living_listings_chat import (
    HEADLINES,
    _burst,
    _edits,
    _listing,
    _story_part,
    menu_options,
    pick,
)

# Longer than Discord's 100-character option labels and Slack's 75.
LONG = (
    "Lithium brine cooperative in Salta signs an offtake accord with three Korean cathode "
    "producers for deliveries from 2027"
)


async def _muted_here(room: Room) -> set[str]:
    """The headlines of the stories muted in the room's channel, as the core knows them."""
    stories = await room.core.api.stories_here(room.chat.here())
    return {s.title for s in stories if s.muted}


async def test_a_listing_offers_each_of_its_stories_in_a_mute_menu(room: Room) -> None:
    """Before, a burst's listing carried no way to mute one of its stories."""
    listing = await _burst(room)
    assert set(menu_options(room, listing)) == set(HEADLINES)


async def test_a_story_picked_in_the_menu_is_muted_for_managers_only(room: Room) -> None:
    await _burst(room)
    refused = await pick(room, HEADLINES[1], manager=False)
    assert "⛔ Only" in refused
    assert await _muted_here(room) == set()
    muted = await pick(room, HEADLINES[1])
    assert f"Muted here: “{HEADLINES[1]}”" in muted
    assert await _muted_here(room) == {HEADLINES[1]}
    # The channel hears of it, as of the Mute button (on Slack, a post after the answer).
    said = f"muted the story “{HEADLINES[1]}”"
    if room.platform == "slack":
        await room.fake.wait_for(lambda: any(said in _text(m) for m in _announcements(room)))
    assert any(said in _text(m) for m in _announcements(room))


async def test_a_story_picked_again_is_already_muted_and_not_announced_twice(room: Room) -> None:
    """The menu still offers a story once muted (the listing is not re-sent for it), and
    two managers may press at once: the second pick says it already was, and the channel
    hears of the mute once."""
    await _burst(room)
    said = f"muted the story “{HEADLINES[1]}”"
    assert f"Muted here: “{HEADLINES[1]}”" in await pick(room, HEADLINES[1])
    if room.platform == "slack":
        await room.fake.wait_for(lambda: any(said in _text(m) for m in _announcements(room)))
    again = await pick(room, HEADLINES[1])
    assert f"“{HEADLINES[1]}” was already muted here." in again
    assert "Muted here:" not in again
    await room.tick(minutes=1)  # time for a second announcement, were one coming
    assert sum(said in _text(m) for m in _announcements(room)) == 1
    assert await _muted_here(room) == {HEADLINES[1]}


async def test_the_picked_storys_line_is_kept_as_the_listing_grows(room: Room) -> None:
    await _burst(room)
    await pick(room, HEADLINES[1])
    before = _story_part(room, _listing(room), HEADLINES[1])
    room.publish("burst-1", HEADLINES[1], outlet="wire")
    room.publish("burst-3", HEADLINES[3], outlet="wire")
    await room.tick(minutes=2)
    listing = _listing(room)
    grown = _story_part(room, listing, HEADLINES[3])
    assert "WIRE" in grown and "https://wire.test/burst-3" in grown, "the listing was edited"
    assert _story_part(room, listing, HEADLINES[1]) == before
    # The edited listing still offers its menu (Slack re-renders it; Discord keeps it).
    assert set(menu_options(room, listing)) == set(HEADLINES)


async def test_a_listings_menu_mutes_nothing_from_another_channel(room: Room) -> None:
    """A pick arriving from another channel (its value an alert of this one) is refused:
    a menu, like a button, only acts on an alert of the channel it is used in."""
    await _burst(room)
    answer = await pick(room, HEADLINES[0], other_channel=True)
    assert "no alert" in answer and "Muted" not in answer
    assert await _muted_here(room) == set()


async def test_long_headlines_fit_each_platforms_menu(room: Room) -> None:
    """Slack's option text holds 75 characters, Discord's label 100: a longer headline is
    cut with an ellipsis (the fakes refuse a message past either limit, as the platforms
    do), and picking it mutes its story."""
    room.publish("long", LONG)
    for n, headline in enumerate(HEADLINES[:5]):
        room.publish(f"burst-{n}", headline)
    await room.tick(minutes=1)
    limit = 75 if room.platform == "slack" else 100
    labels = menu_options(room, _listing(room))
    (cut,) = [label for label in labels if label.startswith("Lithium brine")]
    assert cut.endswith("…") and len(cut) <= limit
    assert all(len(label) <= limit for label in labels)
    assert "Muted here: “Lithium brine cooperative in Salta" in await pick(room, cut)
    assert await _muted_here(room) == {LONG}


async def test_story_mute_typed_with_words_of_its_headline(room: Room) -> None:
    await _burst(room)
    none = await room.say("story mute", {"story": "soybean futures"})
    assert "No story alerted here has soybean futures in its headline" in none.text
    assert not none.public
    several = await room.say("story mute", {"story": "rare earth"})
    assert "3 stories alerted here have rare earth in their headline" in several.text
    assert "nothing was muted" in several.text and not several.public
    for headline in (HEADLINES[0], HEADLINES[2], HEADLINES[4]):
        assert headline in several.text
    assert await _muted_here(room) == set()
    member = await room.say("story mute", {"story": "vietnam refinery"}, manager=False)
    assert "⛔ Only" in member.text
    # Case, accents and plurals do not matter, as in queries.
    muted = await room.say("story mute", {"story": "VIETNAM refineries"})
    assert f"Muted here: “{HEADLINES[2]}”" in muted.text and muted.public
    assert await _muted_here(room) == {HEADLINES[2]}
    again = await room.say("story mute", {"story": "vietnam refinery"})
    assert "was already muted here" in again.text and not again.public
    # Muted like from the menu: its growth leaves the listing as it was.
    edits = _edits(room)
    room.publish("burst-2", HEADLINES[2], outlet="wire")
    await room.tick(minutes=2)
    assert _edits(room) == edits


async def test_story_mute_is_a_listed_command_on_both_platforms(room: Room) -> None:
    """`help` names it; on Discord it is the slash command /story mute, whose story option
    suggests the channel's stories as words are typed."""
    listed = await room.say("help", manager=False)
    usage = "/story mute story" if room.platform == "discord" else "story mute HEADLINE WORDS"
    assert usage in listed.text
    if room.platform == "discord":
        synced = {c["name"]: c for c in room.fake.synced_commands[None]}
        assert {o["name"] for o in synced["story"]["options"]} == {"mute"}
        await _burst(room)
        await room.say("story mute", {"story": HEADLINES[3]})
        choices = await room.fake.autocomplete(
            "story", {"story": "lithium"}, focused="story", subcommand="mute"
        )
        names = [c["name"] for c in choices]
        # The lithium stories not muted yet; each picks its own story by its headline.
        assert sorted(names) == sorted([HEADLINES[1], HEADLINES[5]])
        assert [c["value"] for c in choices] == names


def _announcements(room: Room) -> list[dict[str, Any]]:
    """What the bot said in the channel besides alerts (Slack posts, Discord followups)."""
    if room.platform == "slack":
        return [m for m in room.fake.messages.get("C1", []) if "news.test" not in _text(m)]
    return [
        followup
        for call in room.fake.interactions.values()
        for followup in call.followups
        if not (int(followup.get("flags") or 0) & 64)
    ]
