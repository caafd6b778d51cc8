"""A config file with a typo stops every command before it starts: exit 2, one line per
problem, each naming the file, the key and (where there is one) the key that was meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import wirewatch


def config(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "typo.toml"
    # Top-level keys first: in TOML a key after a [table] header belongs to that table.
    top = "".join(line + "\n" for line in body.splitlines() if line.startswith("log_"))
    rest = "".join(line + "\n" for line in body.splitlines() if not line.startswith("log_"))
    cfg.write_text(
        top + f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n'
        "[health]\nenabled = false\n" + rest
    )
    return cfg


async def refused(tmp_path: Path, body: str, *command: str) -> list[str]:
    """The stderr lines of a refused start (checked: exit 2, nothing on stdout, no
    database created, no traceback)."""
    cfg = config(tmp_path, body)
    code, out, err = await wirewatch(*(command or ("status",)), "--config", str(cfg))
    assert (code, out) == (2, ""), err
    assert "Traceback" not in err
    assert not (tmp_path / "t.db").exists()
    lines = err.splitlines()
    assert all(line.startswith(f"wirewatch: {cfg}: ") for line in lines), err
    return [line.removeprefix(f"wirewatch: {cfg}: ") for line in lines]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[poll]\nbackfil = 3\n", "unknown key 'backfil' in [poll]: did you mean 'backfill'?"),
        (
            "[fetch]\nallow_private_address = true\n",
            "unknown key 'allow_private_address' in [fetch]: "
            "did you mean 'allow_private_addresses'?",
        ),
        (
            "[delivery]\ndefault_destination = []\n",
            "unknown key 'default_destination' in [delivery]: did you mean 'default_destinations'?",
        ),
        (
            "[[watches]]\nquery = 'tariff'\nchanels = ['console']\n",
            "unknown key 'chanels' in [[watches]] #1: did you mean 'channels'?",
        ),
        ("[helth]\nport = 9000\n", "unknown section [helth]: did you mean [health]?"),
        ("[[feed]]\nurl = 'https://a.test/rss'\n", "unknown section [feed]: did you mean [feeds]?"),
        ('log_levle = "DEBUG"\n', "unknown top-level key 'log_levle': did you mean 'log_level'?"),
        (
            "[poll]\nzzz = 1\n",
            "unknown key 'zzz' in [poll]: valid keys: default_interval, max_age_hours, "
            "backfill, failing_after, tick_seconds, workers",
        ),
    ],
)
async def test_a_misspelt_key_is_refused_naming_the_closest_valid_one(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert await refused(tmp_path, body) == [expected]


async def test_a_top_level_key_written_inside_a_section_says_where_it_belongs(
    tmp_path: Path,
) -> None:
    """`log_level` after `[health]` is read by TOML as health.log_level."""
    cfg = tmp_path / "late.toml"
    cfg.write_text('[health]\nenabled = false\nlog_level = "DEBUG"\n')
    code, _, err = await wirewatch("status", "--config", str(cfg))
    assert code == 2
    assert err.splitlines() == [
        f"wirewatch: {cfg}: unknown key 'log_level' in [health]: "
        "'log_level' is a top-level key: write it before the first [section]"
    ]


async def test_a_misspelt_secret_key_points_to_the_environment(tmp_path: Path) -> None:
    """`bot_tokn` in [slack] is a typo of a key that must not be in the file at all."""
    [line] = await refused(tmp_path, '[slack]\nbot_tokn = "xoxb-1"\n')
    assert line == (
        "unknown key 'bot_tokn' in [slack]: did you mean 'bot_token'? "
        "(it belongs in SLACK_BOT_TOKEN, not the file)"
    )


async def test_a_misspelt_required_key_is_reported_once(tmp_path: Path) -> None:
    """`ur =` in a [[feeds]] table is the typo, not also a missing `url`."""
    assert await refused(tmp_path, '[[feeds]]\nur = "https://a.test/rss"\n') == [
        "unknown key 'ur' in [[feeds]] #1: did you mean 'url'?"
    ]


async def test_bad_feed_urls_are_refused_one_line_each(tmp_path: Path) -> None:
    """Not http(s), no host, spaces: every bad [[feeds]] entry gets its own line, for every
    command (the run, a one-off poll, a listing)."""
    body = (
        '[[feeds]]\nurl = "ftp://files.test/feed.xml"\n'
        '[[feeds]]\nurl = "https://ok.test/rss"\n'
        '[[feeds]]\nurl = "http:///rss"\n'
        '[[feeds]]\nurl = "https://news.test/world feed.xml"\n'
        '[[feeds]]\nurl = "news.test/rss"\n'
    )
    expected = [
        "feeds[1].url: feed URL 'ftp://files.test/feed.xml' must start with http:// or https://",
        "feeds[3].url: feed URL 'http:///rss' has no host name",
        "feeds[4].url: feed URL 'https://news.test/world feed.xml' contains spaces",
        "feeds[5].url: feed URL 'news.test/rss' must start with http:// or https://",
    ]
    for command in (("run",), ("poll", "--once"), ("feed", "list")):
        assert await refused(tmp_path, body, *command) == expected


async def test_destination_typos_are_refused_one_line_each(tmp_path: Path) -> None:
    """An unknown kind (with the kind meant), a Discord channel that is not a snowflake, a
    Slack channel name instead of its id, a webhook that is not a URL."""
    body = (
        "[delivery]\ndefault_destinations = ['slak:C123']\n"
        "[[watches]]\nquery = 'tariff'\n"
        "channels = ['console', 'discord:general', 'slack:#trade', 'discord-webhook:hooks',"
        " 'slack:C0123ABCD', 'discord:112233445566778899']\n"
    )
    lines = await refused(tmp_path, body)
    assert lines[0] == (
        "delivery.default_destinations[1]: unknown destination 'slak:C123': "
        "did you mean 'slack:C123'?"
    )
    assert lines[1].startswith(
        "watches[1].channels[2]: destination 'discord:general': a Discord channel is its numeric id"
    )
    assert lines[2].startswith("watches[1].channels[3]: destination 'slack:#trade': ")
    assert "not its name" in lines[2]
    assert lines[3] == (
        "watches[1].channels[4]: destination 'discord-webhook:hooks': "
        "the webhook URL must start with http:// or https://"
    )
    assert len(lines) == 4


async def test_an_unsupported_database_is_refused(tmp_path: Path) -> None:
    """Only SQLite and PostgreSQL: a MySQL URL says which URLs work."""
    cfg = tmp_path / "db.toml"
    cfg.write_text('[database]\nurl = "mysql://u@db.test/news"\n[health]\nenabled = false\n')
    code, _, err = await wirewatch("status", "--config", str(cfg))
    assert code == 2
    assert err.splitlines() == [
        f"wirewatch: {cfg}: database.url: database 'mysql' is not supported: "
        "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
    ]


async def test_a_bad_log_level_or_port_is_refused_before_logging_starts(tmp_path: Path) -> None:
    """Both used to surface later as tracebacks (logging.setLevel, the socket bind)."""
    lines = await refused(tmp_path, 'log_level = "INF"\n[slack]\nhttp_port = 70000\n')
    assert lines == [
        "slack.http_port: Input should be less than or equal to 65535",
        "log_level: unknown log level 'INF': did you mean 'INFO'?",
    ]
