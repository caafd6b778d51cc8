"""Feed text printed on a terminal cannot drive it: a headline carrying an OSC title change
(``ESC ] 0 ; pwned BEL``) and a clear-screen (``ESC [ 2 J``, or the 8-bit ``CSI 2 J``)
prints as plain words, in the console adapter, in every CLI listing, and in JSON lines
(escaped, value intact).

Through the whole pipeline the core's text cleaning has already removed each escape
sequence whole (7-bit and 8-bit forms), so not even ``]0;pwned`` is left as visible text on
any platform; the CLI test checks that no control reaches the terminal."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleNotifier
from bot.core.models import Alert, WatchHit
from bot.core.notices import PlainNotice
from bot.terminal import terminal_text
from tests.cli.test_cli import wirewatch
from tests.feedserver import FeedServer, rss

HOSTILE_TITLE = "Tariffs \x1b]0;pwned\x07rise \x1b[2Jagain"
PIPELINE_TITLE = HOSTILE_TITLE + " \x9b2Jnow \x9d0;pwned\x9cthen"
HOSTILE_SOURCE = "Wire\x1b]0;pwned\x07 \x9b2JNews"
# Every byte a terminal acts on: ESC, BEL, 8-bit CSI/OSC/ST, BS, CR.
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\x08", "\r")


def assert_no_controls(text: str) -> None:
    for control in TERMINAL_CONTROLS:
        assert control not in text, (control, text)


def assert_inert(text: str) -> None:
    assert_no_controls(text)
    assert "pwned" not in text and "]0;" not in text and "[2J" not in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (HOSTILE_TITLE, "Tariffs rise again"),
        ("red \x1b[1;31mALERT\x1b[0m", "red ALERT"),
        ("clip\x1b]52;c;ZXZpbA==\x1b\\board", "clipboard"),
        ("8-bit \x9b2Jcsi and \x9d0;t\x9cosc", "8-bit csi and osc"),
        ("reset\x1bc", "reset"),
        ("dcs\x1bPq#0;2;0;0;0\x1b\\ end", "dcs end"),
        ("over\rwrite\x08", "overwrite"),
        ("cut \x1b]0;to the end", "cut "),
        ("keeps\nlines\tand tabs", "keeps\nlines\tand tabs"),
        ("Zölle 关税 — ok", "Zölle 关税 — ok"),
    ],
)
def test_terminal_text_removes_whole_sequences(raw: str, shown: str) -> None:
    assert terminal_text(raw) == shown


def hostile_alert() -> Alert:
    now = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    return Alert(
        id=7,
        destination="console",
        watch_id=1,
        watch_query="tariffs",
        watch_name="trade\x1b[8m",
        title=HOSTILE_TITLE,
        url="https://n.test/a\x1b[2J",
        source=HOSTILE_SOURCE,
        summary="",
        published=now,
        matched=("Tariffs",),
        story_key="s-1",
        feed_url="https://n.test/rss",
        created_at=now,
        also_reported_by=("AP\x1b]0;x\x07",),
        also_matched=(WatchHit(2, None, "rise\x07", ("rise",)),),
    )


async def test_console_adapter_prints_hostile_text_inert() -> None:
    """What `run` prints for a console destination: alert, edit, notice."""
    out = io.StringIO()
    console = ConsoleNotifier(out)
    await console.send("console", [hostile_alert()])
    await console.edit("console", "console-7", [hostile_alert()])
    await console.send_notice("console", PlainNotice("feed \x1b]0;pwned\x07 failing"))
    printed = out.getvalue()
    assert_inert(printed)
    assert "Wire News: Tariffs rise again" in printed
    assert "also reported by: AP" in printed
    assert "[notice] feed failing" in printed


async def test_console_adapter_json_lines_escape_controls_and_keep_the_value() -> None:
    out = io.StringIO()
    await ConsoleNotifier(out, json_lines=True).send("console", [hostile_alert()])
    printed = out.getvalue()
    for control in TERMINAL_CONTROLS:
        assert control not in printed
    assert json.loads(printed)["title"] == HOSTILE_TITLE


async def test_cli_output_of_a_hostile_feed_is_inert(tmp_path: Path) -> None:
    """`poll --once`, `latest`, `watch test`, `feed check`, `feed list` and `status` print
    no control character of the hostile headline or names; `--json` escapes them."""
    async with FeedServer() as server:
        server.set_feed(
            "/evil.rss",
            rss(
                [
                    {
                        "title": PIPELINE_TITLE,
                        "link": "https://n.test/evil",
                        "guid": "evil-1",
                        "pubDate": datetime.now(UTC) - timedelta(minutes=3),
                    }
                ],
                title=HOSTILE_SOURCE,
            ),
        )
        url = server.url("/evil.rss")
        cfg = tmp_path / "evil.toml"
        cfg.write_text(
            f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "evil.db"}"\n'
            "[fetch]\nallow_private_addresses = true\n"
            "[poll]\nbackfill = 1\n[health]\nenabled = false\n"
            "[[watches]]\nquery = 'tariffs'\n"
            # TOML's \u escapes put the raw controls into the configured feed name.
            f'[[feeds]]\nurl = "{url}"\nname = "Evil\\u009b2J wire\\u001b]0;x\\u0007"\n'
        )
        code, out, err = await wirewatch("poll", "--once", "--config", str(cfg))
        assert code == 0, err
        assert "Tariffs rise again now then" in out and "pwned" not in out, out
        assert_no_controls(out + err)

        printed = []
        for command in (
            ("latest",),
            ("latest", "tariffs"),
            ("watch", "test", "tariffs"),
            ("feed", "check", url),
            ("feed", "list"),
            ("status",),
        ):
            code, out, err = await wirewatch(*command, "--config", str(cfg))
            assert code == 0, (command, err)
            assert_no_controls(out + err)
            printed.append(out)
        for out in printed[:4]:
            assert "again now then" in out, out
        assert "Evil wire" in printed[4]

        code, out, _ = await wirewatch("latest", "--json", "--config", str(cfg))
        assert_no_controls(out)
        # The core's cleaning removed each sequence whole, in both forms: no residue.
        assert json.loads(out)["title"] == "Tariffs rise again now then"
