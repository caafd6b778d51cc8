# ruff: noqa: F811  (the room fixture is imported, and named by every test)
"""An alert's buttons, pressed as a user would on both platforms (a Slack block action
through the real slack-bolt app; a MESSAGE_COMPONENT interaction through the real
discord.py client): Mute this story, Not relevant (shown as the watch's precision in
``watch list``), Pause watch 24h. Real core on SQLite, alerts delivered through the same
adapter, a hand-moved clock. Also: ``watch edit`` names a watch and sets its ping."""

from __future__ import annotations

from typing import Any

from tests.adapters.test_channel_controls_chat import Room, room  # noqa: F401  (fixture)
from tests.adapters.test_command_contract import SLACK_ADMIN, SLACK_MEMBER
from tests.fakes.discord import CHANNEL_ID


def _buttons(room: Room) -> dict[str, tuple[str, str]]:
    """The last alert's buttons: label -> (action or custom id, value)."""
    if room.platform == "slack":
        (message,) = [m for m in room.fake.messages.get("C1", []) if "https://" in str(m)][-1:]
        out = {}
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("type") == "button" and "value" in element:
                    out[element["text"]["text"]] = (element["action_id"], element["value"])
        return out
    message = [m for m in room.fake.messages.get(CHANNEL_ID, []) if m.get("embeds")][-1]
    return {
        c["label"]: (c["custom_id"], "")
        for row in message.get("components") or []
        for c in row.get("components") or []
    }


async def press(room: Room, label: str, *, manager: bool = True) -> str:
    """Press a button on the last alert; the answer only the presser sees."""
    action, value = _buttons(room)[label]
    if room.platform == "slack":
        before = len(room.fake.responses)
        await room.fake.send_block_action(
            action, value, user_id=SLACK_ADMIN if manager else SLACK_MEMBER, channel_id="C1"
        )
        await room.fake.wait_for(lambda: len(room.fake.responses) > before)
        body: dict[str, Any] = room.fake.responses[before].body
        assert body.get("response_type") == "ephemeral"
        blocks = [str((b.get("text") or {}).get("text", "")) for b in body.get("blocks") or []]
        return "\n".join([str(body.get("text", "")), *blocks])
    call = await room.fake.click(action, member_permissions=(1 << 53) - 1 if manager else 0)
    assert call.ephemeral
    return call.text


async def test_each_alert_carries_the_three_buttons(room: Room) -> None:
    room.publish("re-1", "China tightens rare earth export rules")
    await room.tick(minutes=1)
    assert {"Mute this story", "Not relevant", "Pause watch 24h"} <= set(_buttons(room))


async def test_not_relevant_is_counted_once_per_person_and_shown_as_precision(room: Room) -> None:
    room.publish("re-1", "China tightens rare earth export rules")
    await room.tick(minutes=1)
    first = await press(room, "Not relevant", manager=False)
    assert "noted" in first and "#1" in first
    again = await press(room, "Not relevant", manager=False)
    assert "already marked" in again
    listed = await room.say("watch list")
    assert "precision 0% (1 marked not relevant)" in listed.text


async def test_mute_this_story_stops_its_updates_here(room: Room) -> None:
    room.publish("re-1", "China tightens rare earth export rules")
    await room.tick(minutes=1)
    refused = await press(room, "Mute this story", manager=False)
    assert "⛔ Only" in refused
    muted = await press(room, "Mute this story")
    assert "Muted here" in muted
    # The same story from a second outlet: the message is not edited, nothing new posted.
    edits = _edits(room)
    room.publish("re-1", "China tightens rare earth export rules", outlet="wire")
    await room.tick(minutes=2)
    await room.tick(minutes=2)
    assert _edits(room) == edits and len(room.messages()) == 1


async def test_pause_watch_holds_its_alerts_for_a_day(room: Room) -> None:
    room.publish("li-1", "Lithium prices slide again")
    await room.tick(minutes=1)
    paused = await press(room, "Pause watch 24h")
    assert "snoozed until" in paused
    room.publish("li-2", "Lithium miners cut output")
    await room.tick(minutes=5)
    assert len(room.messages()) == 1
    await room.tick(hours=24)
    assert "While a watch was snoozed" in room.messages()[-1]


async def test_watch_edit_names_a_watch_sets_and_clears_its_ping(room: Room) -> None:
    added = await room.say("watch add", {"query": "cobalt", "name": "cobalt"})
    assert added.public
    renamed = await room.say("watch edit", {"watch": "cobalt", "name": "battery-metals"})
    assert "changed" in renamed.text and "battery-metals" in renamed.text
    requery = await room.say("watch edit", {"watch": "battery-metals", "query": "cobalt OR nickel"})
    assert "cobalt OR nickel" in requery.text
    nothing = await room.say("watch edit", {"watch": "battery-metals"})
    assert "Say what to change" in nothing.text
    refused = await room.say("watch edit", {"watch": "1", "name": "x"})
    assert "watch #1 is a default watch, the operator's" in refused.text


def _edits(room: Room) -> int:
    if room.platform == "slack":
        return len(room.fake.calls_to("chat.update"))
    return len(room.fake.edited)


async def test_a_channel_template_shapes_its_alerts_and_errors_show_when_set(room: Room) -> None:
    loop = await room.say("template set", {"text": "{% for i in range(9) %}x{% endfor %}"})
    assert "is not allowed" in loop.text and not loop.public
    unknown = await room.say("template set", {"text": "{{ title.__class__ }}"})
    assert "is not allowed" in unknown.text
    field = await room.say("template set", {"text": "{{ headline }}"})
    assert "unknown field 'headline'" in field.text
    member = await room.say("template set", {"text": "{{ title }}"}, manager=False)
    assert "⛔ Only" in member.text

    ok = await room.say(
        "template set", {"text": "NEWSFLASH {{ source|upper }}: {{ title }} [{{ outlets }}]"}
    )
    assert "A sample: NEWSFLASH EXAMPLE WIRE" in ok.text and ok.public
    shown = await room.say("template show", manager=False)
    assert "NEWSFLASH" in shown.text and "also_reported_by" in shown.text

    room.publish("re-1", "China tightens rare earth export rules @everyone")
    await room.tick(minutes=1)
    (alert,) = room.messages()
    assert "NEWSFLASH NEWS: China tightens rare earth export rules" in alert
    assert "@everyone" not in alert.replace("@\u200d", "@\u200b"), "feed text never pings"

    back = await room.say("template set", {"text": "default"})
    assert "default layout" in back.text
    room.publish("li-1", "Lithium prices slide again")
    await room.tick(minutes=1)
    assert "NEWSFLASH" not in room.messages()[-1]


async def test_a_channel_template_shapes_each_story_of_its_digests_and_listings(
    room: Room,
) -> None:
    """A summary or a burst lists several stories in one message: each story's line is
    the channel's template too, as its own message would be."""
    await room.say("template set", {"text": "FLASH {{ source|upper }}: {{ title }} {{ url }}"})
    await room.say("digest", {"mode": "hourly"})
    room.publish("re-1", "China tightens rare earth export rules")
    room.publish("li-1", "Lithium prices slide again")
    await room.tick(minutes=10)
    await room.tick(minutes=55)  # past the hour
    (digest,) = room.messages()
    assert "FLASH NEWS: China tightens rare earth export rules" in digest
    assert "FLASH NEWS: Lithium prices slide again" in digest

    await room.say("digest", {"mode": "realtime"})
    headlines = [
        "Rare earth magnet makers warn of shortages in Europe",
        "Lithium miner in Chile doubles output",
        "Vietnam opens its first rare earth refinery",
        "Battery recyclers bid for lithium from old phones",
        "Rare earth stockpile plan approved by Tokyo",
        "Lithium price index hits a two-year low",
    ]
    for n, headline in enumerate(headlines):
        room.publish(f"burst-{n}", headline)
    await room.tick(minutes=1)
    (listing,) = room.messages()[1:]  # more than the burst threshold: one listing
    for headline in headlines:
        assert f"FLASH NEWS: {headline}" in listing


async def test_watch_edit_sets_then_clears_the_ping_alerts_carry(room: Room) -> None:
    from tests.fakes.discord import ROLE_ID, RoleRef

    await room.say("watch add", {"query": "cobalt", "name": "cobalt"})
    group = "S0DESK" if room.platform == "slack" else RoleRef()
    pinged = await room.say("watch edit", {"watch": "cobalt", "ping": group})
    assert "It pings its group" in pinged.text
    (watch,) = [w for w in await room.core.api.list_watches(room.chat.here()) if w.name == "cobalt"]
    assert watch.mention == ("S0DESK" if room.platform == "slack" else str(ROLE_ID))
    room.publish("co-1", "Congo halts cobalt exports")
    await room.tick(minutes=1)
    expected = "<!subteam^S0DESK>" if room.platform == "slack" else f"<@&{ROLE_ID}>"
    assert expected in room.messages()[-1]

    cleared = await room.say("watch edit", {"watch": "cobalt", "no-ping": True})
    assert "changed" in cleared.text and "pings" not in cleared.text
    room.publish("co-2", "Cobalt price jumps on Congo ban")
    await room.tick(minutes=1)
    assert expected not in room.messages()[-1]


async def test_not_relevant_counts_for_every_watch_the_message_lists(room: Room) -> None:
    room.publish("both-1", "Lithium and rare earth exports curbed")
    await room.tick(minutes=1)
    assert len(room.messages()) == 1, "one message for the story both watches matched"
    await press(room, "Not relevant", manager=False)
    listed = await room.say("watch list")
    assert listed.text.count("(1 marked not relevant)") == 2


async def test_a_feeds_link_in_a_template_cannot_make_a_link_of_its_own(room: Room) -> None:
    """`{{ url }}` is the one field a template places inside a link; a feed's link with
    markup of its own in it ("<url|label>", "[label](url)") stays one link to the article,
    never a second link with a label of the feed's choosing."""
    template = "<{{ url }}|{{ title }}>" if room.platform == "slack" else "[{{ title }}]({{ url }})"
    await room.say("template set", {"text": template})
    slug = "a?q=<https://evil.example/login|Reuters: sign in> [Sign in](https://evil.example/login)"
    room.publish(slug, "Rare earth curbs widen")
    await room.tick(minutes=1)
    message = room.messages()[-1]
    assert "<https://evil.example" not in message
    assert "](https://evil.example" not in message
    assert "evil.example/login|" not in message
    assert (
        "https://news.test/a?q=%3Chttps://evil.example/login%7CReuters:%20sign%20in%3E" in message
    )


async def test_a_personal_alerts_buttons_work_in_the_dm(room: Room) -> None:
    """A `dm add` watch's alert carries the same buttons; pressed by its owner in the DM,
    "Not relevant" and "Mute this story" act on that DM's alert (they looked for it in a
    channel and found none), and no "Mute this watch here" is offered (`dm remove` is)."""
    from tests.fakes.discord import USER_ID

    await room.say("dm add", {"query": "gallium"}, manager=False)
    room.publish("ga-1", "China curbs gallium exports again")
    await room.tick(minutes=1)
    if room.platform == "slack":
        dm = f"D{SLACK_MEMBER}"
        (message,) = room.fake.messages.get(dm, [])
        buttons = {
            e["text"]["text"]: (e["action_id"], e.get("value", ""))
            for block in message.get("blocks") or []
            for e in block.get("elements") or []
            if e.get("type") == "button"
        }
    else:
        dm = room.fake.dm_channels[USER_ID]
        (message,) = room.fake.messages.get(dm, [])
        buttons = {
            c["label"]: (c["custom_id"], "")
            for row in message.get("components") or []
            for c in row.get("components") or []
        }
    assert not any(label.startswith("Mute this watch") for label in buttons)

    async def press_in_dm(label: str) -> str:
        action, value = buttons[label]
        if room.platform == "slack":
            before = len(room.fake.responses)
            await room.fake.send_block_action(action, value, user_id=SLACK_MEMBER, channel_id=dm)
            await room.fake.wait_for(lambda: len(room.fake.responses) > before)
            body: dict[str, Any] = room.fake.responses[before].body
            blocks = [str((b.get("text") or {}).get("text", "")) for b in body.get("blocks") or []]
            return "\n".join([str(body.get("text", "")), *blocks])
        call = await room.fake.click(
            action, channel_id=dm, guild_id=None, user_id=USER_ID, member_permissions=0
        )
        return call.text

    assert "noted" in await press_in_dm("Not relevant")
    assert "Muted here" in await press_in_dm("Mute this story")
