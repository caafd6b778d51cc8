"""Typed settings: TOML plus environment overrides; secrets only from the environment and
never printed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.logs import SecretMaskingFilter, mask_secrets
from bot.settings import DEFAULT_CONFIG, load_settings

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_default_config_ships_the_trade_pack() -> None:
    """config/default.toml loads and carries the launch watches and outlet feeds."""
    s = load_settings(DEFAULT_CONFIG)
    names = {w.name for w in s.watches}
    assert {
        "rare earth",
        "Bessent",
        "Greer",
        "He Lifeng",
        "China tariffs",
        "export controls",
        "chip export bans",
        "Trump–Xi summit",
    } <= names
    assert len(s.feeds) >= 10 and all(w.google_news for w in s.watches)
    assert s.database.url.startswith("sqlite+aiosqlite:///data/")
    assert s.fetch.allow_private_addresses is False


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WIREWATCH_* variables (nested with __, and the documented short names) beat the TOML."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[poll]\nbackfill = 1\n[database]\nurl = "sqlite+aiosqlite:///a.db"\n')
    monkeypatch.setenv("WIREWATCH_POLL__BACKFILL", "4")
    monkeypatch.setenv("WIREWATCH_SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", "postgresql+asyncpg://x@127.0.0.1/db")
    s = load_settings(cfg)
    assert s.poll.backfill == 4
    assert s.slack.api_url == "http://127.0.0.1:9/api/"
    assert s.database.url == "postgresql+asyncpg://x@127.0.0.1/db"


def test_secrets_come_from_the_environment_and_never_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens load from SLACK_*/DISCORD_TOKEN, enable the adapters, and are masked in repr."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-123-abcdef")
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)
    s = load_settings(cfg)
    assert s.slack.enabled and s.discord.enabled
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value() == SLACK_TOKEN
    printed = repr(s) + str(s) + s.model_dump_json()
    assert SLACK_TOKEN not in printed and DISCORD_TOKEN not in printed


def test_a_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    """A token written into the TOML stops the start and names the variable to use."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[slack]\nbot_token = "{SLACK_TOKEN}"\n')
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN") as err:
        load_settings(cfg)
    assert SLACK_TOKEN not in str(err.value)


def test_bad_values_fail_fast_with_the_key(tmp_path: Path) -> None:
    """An unknown destination or a too-short interval names the key and the rule."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[watches]]\nquery = "x"\nchannels = ["teams:abc"]\n')
    with pytest.raises(ConfigError, match="unknown destination"):
        load_settings(cfg)
    cfg.write_text("[poll]\ndefault_interval = 5\n")
    with pytest.raises(ConfigError, match=r"poll\.default_interval"):
        load_settings(cfg)


def test_tokens_are_masked_in_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """A token inside a log message or exception text never reaches the log output."""
    log = logging.getLogger("test.secrets")
    log.addFilter(SecretMaskingFilter())
    with caplog.at_level(logging.INFO):
        log.info("connecting with %s and Bot %s", SLACK_TOKEN, DISCORD_TOKEN)
    assert SLACK_TOKEN not in caplog.text and DISCORD_TOKEN not in caplog.text
    assert mask_secrets(f"Authorization: Bot {DISCORD_TOKEN}").count("***") == 1


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///data/ww.db", "sqlite+aiosqlite:///data/ww.db"),
        ("sqlite:////var/lib/ww.db", "sqlite+aiosqlite:////var/lib/ww.db"),
        ("sqlite+pysqlite:///ww.db", "sqlite+aiosqlite:///ww.db"),
        ("sqlite+aiosqlite:///ww.db", "sqlite+aiosqlite:///ww.db"),
        ("postgresql://u:p%40ss@db:5432/ww", "postgresql+asyncpg://u:p%40ss@db:5432/ww"),
        ("postgres://u@db/ww", "postgresql+asyncpg://u@db/ww"),
        ("postgresql+psycopg2://u@db/ww?ssl=require", "postgresql+asyncpg://u@db/ww?ssl=require"),
        ("postgresql+asyncpg://u@db/ww", "postgresql+asyncpg://u@db/ww"),
    ],
)
def test_database_urls_get_the_async_driver(tmp_path: Path, given: str, used: str) -> None:
    """The URL a user copies from elsewhere works: the async driver is filled in."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{given}"\n')
    assert load_settings(cfg).database.url == used


def test_a_misspelt_key_set_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    monkeypatch.setenv("WIREWATCH_POLL__BACKFIL", "3")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value) == (
        f"{cfg}: unknown key 'backfil' in [poll]: did you mean 'backfill'? "
        "(set by WIREWATCH_POLL__BACKFIL)"
    )


@pytest.mark.parametrize("mention", ["<!channel>", "@everyone", "<!here>", "everyone", "#desk"])
def test_a_watch_mention_that_is_no_role_or_group_is_refused(tmp_path: Path, mention: str) -> None:
    """A watch pings a Discord role or a Slack user group; `<!channel>` or `@everyone`
    was accepted and then silently dropped at send time."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[[watches]]\nquery = 'tariff'\nmention = '{mention}'\n")
    with pytest.raises(ConfigError, match="is neither a Discord role"):
        load_settings(cfg)


@pytest.mark.parametrize("mention", ["S0DESK", "<!subteam^S0DESK>", "<@&123456789012345678>"])
def test_a_role_or_a_user_group_is_a_watch_mention(tmp_path: Path, mention: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[[watches]]\nquery = 'tariff'\nmention = '{mention}'\n")
    assert load_settings(cfg).watches[0].mention == mention


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("https://news.google.com/rss/search?hl=en-GB", "must hold {q} once"),
        ("https://news.google.com/rss/search?q={q}&x={q}", "must hold {q} once"),
        ("https://news.google.com/rss/search?q={query}", "must hold {q} once"),
        ("news.google.com/rss/search?q={q}", "must start with http:// or https://"),
    ],
)
def test_a_google_news_address_without_its_search_is_refused(
    tmp_path: Path, address: str, problem: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[fetch]\ngoogle_news_url = '{address}'\n")
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_settings(cfg)


def test_another_google_news_edition_is_where_watches_search(tmp_path: Path) -> None:
    edition = "https://news.google.com/rss/search?q={q}&hl=en-GB&gl=GB&ceid=GB:en"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[fetch]\ngoogle_news_url = '{edition}'\n")
    assert load_settings(cfg).fetch.google_news_url == edition


def test_bad_queries_are_refused_with_the_rest_of_the_file_before_anything_starts(
    tmp_path: Path,
) -> None:
    """Each query is read with the file: every bad one is a line naming the file and the
    key, beside the file's other problems (they were found one at a time, after the
    database was opened), and a google_news watch Google could not search is refused."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[[feeds]]\nurl = "not a url"\n'
        "[[watches]]\nquery = '(tariff OR'\n"
        "[[watches]]\nquery = '-sports'\n"
        "[[watches]]\nquery = '/tariffs? on china/'\ngoogle_news = true\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    feed, *queries = str(err.value).splitlines()
    assert feed.startswith(f"{cfg}: feeds[1].url")
    assert queries == [
        f"{cfg}: watches[1].query: bad query '(tariff OR': OR needs a term after it at position 9",
        f"{cfg}: watches[2].query: bad query '-sports': needs at least one positive term (a "
        "query of only NOT terms would match almost every article) at position 1",
        f"{cfg}: watches[3]: google_news = true needs a word or phrase to search for, and a "
        "regular expression or a source: term is not one Google can search (set google_news "
        "= false)",
    ]
    assert not (tmp_path / "wirewatch.db").exists()


@pytest.mark.parametrize(
    ("variable", "line"),
    [
        (
            "WIREWATCH_DATABSE__URL",
            "WIREWATCH_DATABSE__URL: no setting has this name: did you mean WIREWATCH_DATABASE__…?",
        ),
        (
            "WIREWATCH_LOG_LEVL",
            "WIREWATCH_LOG_LEVL: no setting has this name: did you mean WIREWATCH_LOG_LEVEL?",
        ),
        (
            "WIREWATCH_QQQ__PORT",
            "WIREWATCH_QQQ__PORT: no setting has this name: settings are "
            "WIREWATCH_<section>__<key>, sections: database, fetch, poll, delivery, slack, "
            "discord, health, limits, feeds, watches",
        ),
    ],
)
def test_a_variable_no_setting_reads_is_refused_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, line: str
) -> None:
    """A misspelt section or top-level key in a variable was ignored without a word: the
    bot ran on another database than the one its operator set. Variables not shaped like
    a setting (another tool's) are left alone."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    monkeypatch.setenv(variable, "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("WIREWATCH_TEST_ONLY_SOMETHING", "1")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value) == line


def test_a_bad_value_from_the_environment_is_blamed_on_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value a variable set is reported under the variable's name, not the file's, which
    never held it; a list not written as JSON is one line saying how to write it (it was a
    traceback)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[poll]\nbackfill = 2\n")
    monkeypatch.setenv("WIREWATCH_HEALTH__PORT", "99999")
    monkeypatch.setenv("WIREWATCH_POLL__BACKFILL", "abc")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("WIREWATCH_POLL__BACKFILL: poll.backfill: Input should be")
    assert lines[1].startswith("WIREWATCH_HEALTH__PORT: health.port: Input should be less")
    monkeypatch.delenv("WIREWATCH_HEALTH__PORT")
    monkeypatch.delenv("WIREWATCH_POLL__BACKFILL")
    monkeypatch.setenv("WIREWATCH_DELIVERY__DEFAULT_DESTINATIONS", "slack:C1")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value).startswith(
        "WIREWATCH_DELIVERY__DEFAULT_DESTINATIONS: not readable as delivery: a list or a "
        "table set in the environment is written as JSON"
    )
    monkeypatch.setenv("WIREWATCH_DELIVERY__DEFAULT_DESTINATIONS", '["slack:C1"]')
    assert load_settings(cfg).delivery.default_destinations == ["slack:C1"]


@pytest.mark.parametrize(
    "destination",
    [
        "console",
        "slack:C0123ABCD",
        "slack:G01ABCDEF",
        "discord:112233445566778899",
        "slack-dm:U0123ABCD",
        "discord-dm:112233445566778899",
        "slack-webhook:https://hooks.slack.com/services/T0/B0/x",
        "discord-webhook:https://discord.com/api/webhooks/1/abc",
    ],
)
def test_well_formed_destinations_load(tmp_path: Path, destination: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[watches]]\nquery = "x"\nchannels = ["{destination}"]\n')
    assert load_settings(cfg).watches[0].channels == [destination]


def test_the_shipped_example_config_has_no_unknown_keys() -> None:
    """config/*.toml must load under the strict rules (a stale key would stop a start)."""
    for path in sorted(DEFAULT_CONFIG.parent.glob("*.toml")):
        load_settings(path)


def test_a_config_path_that_is_not_a_readable_toml_file_is_one_line(tmp_path: Path) -> None:
    """A folder, a binary file, broken TOML: ConfigError naming the path, no traceback."""
    with pytest.raises(
        ConfigError, match=rf"^config file {re.escape(str(tmp_path))} is a directory$"
    ):
        load_settings(tmp_path)
    binary = tmp_path / "image.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text$"):
        load_settings(binary)
    broken = tmp_path / "broken.toml"
    broken.write_text("[poll\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(broken)


def test_every_bad_chat_allowlist_entry_is_named_at_once(tmp_path: Path) -> None:
    """An operator fixing the allow-list hears of all its bad entries in one start, not one
    per restart; the good entries around them are not blamed."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[fetch]\nchat_private_allowlist = ["10.1.0.0/16", "http://feeds.lan/", "feeds.lan",'
        ' "10.0.0.0/33"]\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    message = str(err.value)
    assert "fetch.chat_private_allowlist" in message
    assert "'http://feeds.lan/', '10.0.0.0/33' are neither an IP address" in message
    assert "'feeds.lan'" not in message and "10.1.0.0/16" not in message
