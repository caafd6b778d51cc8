"""The adapter's lifecycle and transport: Socket Mode connect/stop, HTTP mode signatures,
token checks at start, and the 3-second ack budget."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.adapters.slack.app import SlackAdapter
from bot.adapters.slack.render import ACTION_STORY_PICK, render_alerts
from bot.core.api import Caller
from bot.core.errors import ConfigError
from bot.core.models import StatusReport
from bot.settings import SlackSettings
from tests.adapters.slack.conftest import StartAdapter, slack_settings
from tests.adapters.slack.test_slack_render import make_alert
from tests.coredouble import MemoryCore
from tests.fakes.slack import SIGNING_SECRET, FakeSlack, signed_form


async def test_socket_mode_connects_and_stops_cleanly(
    fake_slack: FakeSlack, start_adapter: StartAdapter
) -> None:
    """start() checks the bot token, opens Socket Mode and returns; stop() disconnects."""
    adapter = await start_adapter(MemoryCore())
    assert adapter.ready
    assert [c.method for c in fake_slack.calls] == ["auth.test", "apps.connections.open"]
    await asyncio.wait_for(fake_slack.socket_connected.wait(), 2)
    await adapter.stop()
    assert not adapter.ready
    await asyncio.sleep(0.05)
    assert not fake_slack.socket_connected.is_set()


async def test_rejected_bot_or_app_token_fails_start_with_a_clear_config_error(
    fake_slack: FakeSlack,
) -> None:
    """A wrong token stops start() with a ConfigError naming the variable, not a retry loop."""
    bad_bot = slack_settings(fake_slack, bot_token=SecretStr("xoxb-wrong"))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        await SlackAdapter(core=MemoryCore(), settings=bad_bot).start()
    bad_app = slack_settings(fake_slack, app_token=SecretStr("xapp-wrong"))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        await SlackAdapter(core=MemoryCore(), settings=bad_app).start()


def test_missing_tokens_are_refused_at_construction() -> None:
    """Socket Mode without an app token, or HTTP mode without a signing secret, fail fast."""
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackAdapter(core=MemoryCore(), settings=SlackSettings(bot_token=SecretStr("xoxb-1")))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(
            core=MemoryCore(), settings=SlackSettings(bot_token=SecretStr("xoxb-1"), mode="http")
        )


def test_notifiers_cover_channels_and_webhooks(fake_slack: FakeSlack) -> None:
    """notifiers() gives the delivery engine slack:, slack-dm: and slack-webhook: senders."""
    adapter = SlackAdapter(core=MemoryCore(), settings=slack_settings(fake_slack))
    assert sorted(k for n in adapter.notifiers() for k in n.kinds) == [
        "slack",
        "slack-dm",
        "slack-webhook",
    ]


class SlowCore(MemoryCore):
    async def status(self, caller: Caller) -> StatusReport:
        await asyncio.sleep(0.3)
        return await super().status(caller)


async def test_quick_command_that_runs_late_acks_in_time_and_answers_via_response_url(
    fake_slack: FakeSlack, start_adapter: StartAdapter
) -> None:
    """If a normally quick command overruns the ack budget, the ack goes out first and the
    answer follows through response_url — Slack never sees a timeout."""
    await start_adapter(SlowCore(), adapter_kwargs={"ack_budget_seconds": 0.05})
    started = time.monotonic()
    ack = await fake_slack.send_slash_command("status")
    assert ack == {} and time.monotonic() - started < 0.25
    await fake_slack.wait_for(lambda: len(fake_slack.responses) == 1)
    assert "Wirewatch status" in fake_slack.responses[0].body["blocks"][0]["text"]["text"]


async def test_stop_lets_an_in_flight_reply_finish(
    fake_slack: FakeSlack, start_adapter: StartAdapter
) -> None:
    """stop() during a slow command still delivers that command's answer."""
    adapter = await start_adapter(SlowCore(), adapter_kwargs={"ack_budget_seconds": 0.01})
    await fake_slack.send_slash_command("status")
    await adapter.stop()
    assert len(fake_slack.responses) == 1


# --- HTTP mode ---------------------------------------------------------------------------


async def _post(adapter: SlackAdapter, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    assert adapter.http_address is not None
    host, port = adapter.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}/slack/events", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def http_adapter(start_adapter: StartAdapter, core: MemoryCore) -> SlackAdapter:
    return await start_adapter(core, mode="http", http_port=0, app_token=None)


async def test_http_mode_accepts_a_signed_slash_command(
    fake_slack: FakeSlack, start_adapter: StartAdapter
) -> None:
    """A correctly signed request is dispatched and answered in the HTTP response (the ack)."""
    core = MemoryCore()
    adapter = await http_adapter(start_adapter, core)
    assert adapter.ready
    fields = fake_slack.slash_command_payload("watch list")
    status, text = await _post(adapter, *signed_form(SIGNING_SECRET, fields))
    assert status == 200
    assert "No watches post here yet" in text


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "stale timestamp", "unsigned", "body changed after signing"],
)
async def test_http_mode_rejects_forged_stale_and_unsigned_requests(
    fake_slack: FakeSlack, start_adapter: StartAdapter, forgery: str
) -> None:
    """Forged, replayed (older than 5 min) or unsigned requests get 401 and reach nothing."""
    core = MemoryCore()
    adapter = await http_adapter(start_adapter, core)
    fields = fake_slack.slash_command_payload("subscribe")
    headers: dict[str, Any]
    if forgery == "wrong secret":
        body, headers = signed_form("not-the-secret", fields)
    elif forgery == "stale timestamp":
        body, headers = signed_form(SIGNING_SECRET, fields, timestamp=int(time.time()) - 600)
    elif forgery == "unsigned":
        body, headers = signed_form(SIGNING_SECRET, fields)
        del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    else:
        body, headers = signed_form(SIGNING_SECRET, fields)
        body = body.replace(b"subscribe", b"unsubscribe")
    calls_before = len(fake_slack.calls)
    status, _ = await _post(adapter, body, headers)
    assert status == 401
    assert core.calls == []
    assert len(fake_slack.calls) == calls_before
    assert fake_slack.responses == []


async def test_socket_mode_reconnects_after_slack_drops_the_connection(
    fake_slack: FakeSlack, start_adapter: StartAdapter
) -> None:
    """Slack closes Socket Mode connections now and then: the adapter opens a new one and
    commands keep working."""
    await start_adapter(MemoryCore())
    await fake_slack.drop_sockets()
    ack = await fake_slack.send_slash_command("watch list", within=5.0)
    assert "0 watches in this channel" in ack["text"]
    assert len(fake_slack.calls_to("apps.connections.open")) == 2


@pytest.mark.parametrize("signed", [True, False])
async def test_http_mode_runs_a_signed_pick_in_a_listings_menu_only(
    fake_slack: FakeSlack, start_adapter: StartAdapter, signed: bool
) -> None:
    """A listing's "Mute a story…" menu is verified like its buttons: a signed pick mutes
    the story it names; a forged one gets 401 and reaches nothing."""
    core = MemoryCore()
    core.alerts[7] = ("slack:C1", "s7", 1, "Vietnam opens its first rare earth refinery")
    core.alerts[8] = ("slack:C1", "s8", 1, "Rare earth stockpile plan approved by Tokyo")
    adapter = await http_adapter(start_adapter, core)
    listing = render_alerts(
        [
            make_alert(id=7, story_key="s7", title=core.alerts[7][3]),
            make_alert(id=8, story_key="s8", title=core.alerts[8][3]),
        ]
    )
    message = {"type": "message", "ts": "1.1", "text": listing.text, "blocks": listing.blocks}
    payload = fake_slack.select_action_payload(
        message, ACTION_STORY_PICK, "7", user_id="UALLOWED", channel_id="C1"
    )
    secret = SIGNING_SECRET if signed else "not-the-secret"
    status, _ = await _post(adapter, *signed_form(secret, {"payload": json.dumps(payload)}))
    if not signed:
        assert status == 401 and core.calls == [] and fake_slack.responses == []
        return
    assert status == 200
    await fake_slack.wait_for(lambda: bool(fake_slack.responses))
    answer = fake_slack.responses[0].body
    assert answer["response_type"] == "ephemeral"
    assert "Muted here: “Vietnam opens its first rare earth refinery”" in json.dumps(
        answer, ensure_ascii=False
    )
    assert core.calls == ["mute_story"] and core.muted == {("slack:C1", "s7")}
