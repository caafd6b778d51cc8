"""Notices as data: the neutral record, its words per audience, its storage (JSON beside
plain words, migration 0006), who hears of a feed's trouble, and back-compat with rows
queued as text before notices were data."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from bot.adapters.console import ConsoleNotifier, cli_command, notice_console_text
from bot.core.commands.reply import Cmd, Link, plain_text
from bot.core.notices import (
    Audience,
    ChannelRecovered,
    FeedFailing,
    FeedRecovered,
    Notice,
    PlainNotice,
    feed_notice_destinations,
    notice_fallback,
    notice_from_row,
    notice_line,
    notice_to_json,
)
from bot.store.migrate import alembic_config
from bot.store.schema import notices
from bot.store.store import Store
from tests.support import FakeClock, core_for, make_settings

SINCE = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
URL = "https://desk.test/feed.rss"


def failing(source: str, feed_id: int | None = 4) -> FeedFailing:
    return FeedFailing("Desk", URL, SINCE, "HTTP 500", feed_id=feed_id, source=source)


def commands_in(notice: Notice, audience: Audience = Audience.CHANNEL) -> list[Cmd]:
    return [s for s in notice_line(notice, audience) if isinstance(s, Cmd)]


# --- words ---------------------------------------------------------------------------------


def test_a_chat_feed_failing_names_the_chat_command_that_removes_it() -> None:
    assert commands_in(failing("user")) == [Cmd("feeds remove", "4")]
    text = plain_text(notice_line(failing("user")))
    assert "“Desk” is failing since 2025-03-04 05:06 UTC: HTTP 500" in text
    assert text.endswith("remove it with feeds remove 4.")


def test_since_reads_in_each_readers_own_time_zone_in_chat_and_in_utc_elsewhere() -> None:
    from bot.adapters.discord.notifier import notice_content
    from bot.adapters.slack.notifier import notice_message

    stamp = int(SINCE.timestamp())
    slack = notice_message(failing("user"), "/wirewatch").text
    assert f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|2025-03-04 05:06 UTC>" in slack
    assert f"failing since <t:{stamp}:f>: HTTP 500" in notice_content(failing("user"))
    recovered = ChannelRecovered(SINCE, None)
    assert f"<t:{stamp}:f>" in notice_content(recovered)
    assert "failing since 2025-03-04 05:06 UTC;" in plain_text(notice_line(recovered))


@pytest.mark.parametrize("source", ["config", "operator"])
def test_a_channel_is_not_told_to_run_a_command_it_may_not_use(source: str) -> None:
    """Chat may remove only a feed added from chat: the operator's feeds are theirs to drop."""
    assert commands_in(failing(source)) == []
    assert plain_text(notice_line(failing(source))).endswith("ask the operator to remove it.")


def test_the_operator_is_told_the_command_line_or_the_config_file() -> None:
    assert commands_in(failing("operator"), Audience.OPERATOR) == [Cmd("feeds remove", "4")]
    assert commands_in(failing("user"), Audience.OPERATOR) == [Cmd("feeds remove", "4")]
    config = plain_text(notice_line(failing("config"), Audience.OPERATOR))
    assert config.endswith("remove it from the config file.")


def test_a_feed_without_an_id_is_named_by_its_url() -> None:
    assert commands_in(failing("user", feed_id=None)) == [Cmd("feeds remove", URL)]


def test_the_feed_url_is_linked_only_when_it_is_a_web_address() -> None:
    assert Link(URL) in notice_line(failing("user"))
    odd = FeedFailing("Odd", "javascript:alert(1)", None, None, source="user")
    spans = notice_line(odd)
    assert "javascript:alert(1)" in spans and not any(isinstance(s, Link) for s in spans)
    assert "failing since a while: unknown error" in plain_text(spans)


def test_feed_text_stays_in_plain_spans_for_the_renderer_to_escape() -> None:
    """Names and reasons come from feeds and servers: never markup, never a command."""
    hostile = FeedFailing("<!channel> @everyone", URL, SINCE, "`rm` *bold*", 1, "user")
    spans = notice_line(hostile)
    assert "<!channel> @everyone" in spans and "`rm` *bold*" in spans


def test_recoveries_read_as_before() -> None:
    assert notice_fallback(FeedRecovered("Desk", URL)) == (
        "✅ Feed “Desk” works again; alerts from it resume."
    )
    text = notice_fallback(ChannelRecovered(SINCE, "the bot is not in this channel"))
    assert text.startswith("✅ Wirewatch can post here again.")
    assert "since 2025-03-04 05:06 UTC (the bot is not in this channel); alerts held" in text
    assert "()" not in notice_fallback(ChannelRecovered(None, None))


def test_a_plain_notice_is_its_text() -> None:
    assert notice_line(PlainNotice("⚠️ old words with `feeds remove`")) == (
        "⚠️ old words with `feeds remove`",
    )


# --- the command line's words ----------------------------------------------------------------


def test_the_console_words_commands_as_the_command_line_takes_them() -> None:
    assert cli_command(Cmd("feeds remove", "4")) == "wirewatch feed remove 4"
    assert cli_command(Cmd("watch list")) == "wirewatch watch list"
    # A chat-only command keeps its chat name: only chat users can run it.
    assert cli_command(Cmd("snooze", "2h")) == "snooze 2h"
    text = notice_console_text(failing("operator"))
    assert text.endswith("remove it with `wirewatch feed remove 4`.")
    assert "feeds remove" not in text


async def test_the_console_notifier_prints_the_command_lines_syntax() -> None:
    out = io.StringIO()
    await ConsoleNotifier(out).send_notice("console", failing("operator"))
    await ConsoleNotifier(out).send_notice("console", PlainNotice("old text"))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[notice] ⚠️ Feed “Desk” is failing since")
    assert lines[0].endswith("`wirewatch feed remove 4`.")
    assert lines[1] == "[notice] old text"


# --- storage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notice",
    [
        failing("user"),
        failing("config", feed_id=None),
        FeedFailing("N", URL, None, None),
        FeedRecovered("Desk", URL),
        ChannelRecovered(SINCE, "no access"),
        ChannelRecovered(SINCE, "no access", missed=3),
        ChannelRecovered(None, None),
    ],
)
def test_a_notice_survives_its_json(notice: Notice) -> None:
    data = notice_to_json(notice)
    assert data is not None and json.loads(data)["kind"]
    assert notice_from_row(notice_fallback(notice), data) == notice


def test_rows_from_before_notices_were_data_are_their_text() -> None:
    assert notice_to_json(PlainNotice("x")) is None
    assert notice_from_row("⚠️ Feed “D” is failing", None) == PlainNotice("⚠️ Feed “D” is failing")


@pytest.mark.parametrize(
    "data",
    [
        '{"kind": "feed_moved", "to": "https://new.test/"}',  # a newer version's kind
        '{"kind": "feed_failing"}',  # fields missing
        '{"kind": "channel_recovered", "since": "not a date"}',
        "[1, 2]",
        "{not json",
    ],
)
def test_data_this_version_cannot_read_falls_back_to_the_text(data: str) -> None:
    assert notice_from_row("the words", data) == PlainNotice("the words")


# --- who hears of a feed -----------------------------------------------------------------


def test_a_workspaces_feed_is_news_only_to_that_workspace() -> None:
    subscribed = [
        ("slack:C1", "slack:T1"),
        ("slack:C2", "slack:T2"),
        ("discord:9", "discord:g:1"),
        ("slack:OPS", None),
        ("console", None),
        ("slack:C1", "slack:T1"),
    ]
    assert feed_notice_destinations(("slack:T1",), subscribed) == ["slack:C1"]
    assert feed_notice_destinations(None, subscribed) == [
        "discord:9",
        "slack:C1",
        "slack:C2",
        "slack:OPS",
    ]
    assert feed_notice_destinations((), subscribed) == []


# --- back-compat through the real upgrade ------------------------------------------------------


class Recorder:
    kinds = frozenset({"slack"})

    def __init__(self) -> None:
        self.notices: list[tuple[str, Notice]] = []

    async def send(self, destination: str, alerts: object, *, maybe_sent: bool = False) -> str:
        raise AssertionError("no alerts here")

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        self.notices.append((destination, notice))


async def test_text_rows_queued_before_the_upgrade_are_still_sent(tmp_path: Path) -> None:
    """A database at 0005 holds notices as text; after the upgrade to 0006 they are sent as
    written, and new notices are stored as data with plain words beside them."""
    db = tmp_path / "wirewatch.db"
    engine = create_engine(f"sqlite:///{db}")
    old_text = "⚠️ Feed “Desk” is failing since 2025-03-04 05:06 UTC. Remove it with `feeds remove`."
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
        # The 0005 table has no ``data`` column: the row is written as that version did.
        conn.execute(
            text(
                "INSERT INTO notices (destination, text, created_at, state, attempts,"
                " next_attempt_at) VALUES ('slack:C1', :text, :at, 'pending', 0, :at)"
            ),
            {"text": old_text, "at": SINCE.strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
    engine.dispose()
    clock = FakeClock()
    async with core_for(make_settings(tmp_path), clock=clock) as core:
        recorder = Recorder()
        core.add_notifier(recorder)
        await core.store.queue_notices([("slack:C1", failing("user"))], clock.now())
        assert await core.deliverer.deliver_notices() == 2
        async with core.store.engine.connect() as conn:
            rows = (await conn.execute(select(notices).order_by(notices.c.id))).all()
    assert recorder.notices == [("slack:C1", PlainNotice(old_text)), ("slack:C1", failing("user"))]
    assert [r.state for r in rows] == ["sent", "sent"]
    assert rows[0].data is None
    assert rows[1].data == notice_to_json(failing("user"))
    assert rows[1].text == notice_fallback(failing("user"))


async def test_the_store_keeps_notices_as_data_on_sqlite_and_postgresql(store_url: str) -> None:
    """Queued notices come back as the same data; plain strings and text rows as text."""
    store = await Store.open(store_url)
    try:
        queued: list[tuple[str, Notice | str]] = [
            ("slack:C1", failing("user")),
            ("discord:9", ChannelRecovered(SINCE, "Missing Access")),
            ("slack:C1", "plain words"),
        ]
        await store.queue_notices(queued, SINCE)
        rows = await store.claim_notices(owner="A", now=SINCE, lease=timedelta(minutes=1))
    finally:
        await store.close()
    assert [(r.destination, notice_from_row(r.text, r.data)) for r in rows] == [
        ("slack:C1", failing("user")),
        ("discord:9", ChannelRecovered(SINCE, "Missing Access")),
        ("slack:C1", PlainNotice("plain words")),
    ]
