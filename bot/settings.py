"""Typed settings: a TOML file (``config/default.toml`` or ``--config``) plus ``WIREWATCH_*``
environment overrides. Secrets (tokens, signing secrets) are read from the environment
only and are ``SecretStr`` so they never print.

Environment overrides use ``__`` for nesting: ``WIREWATCH_DATABASE__URL``,
``WIREWATCH_FETCH__ALLOW_PRIVATE_ADDRESSES``. The documented short names
``WIREWATCH_SLACK_API_URL``, ``WIREWATCH_DISCORD_API_URL`` and
``WIREWATCH_DISCORD_GATEWAY_URL`` work too. Secrets keep their platform names:
``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``, ``DISCORD_TOKEN``.

Every section refuses keys it does not know: a misspelt ``backfil`` would otherwise be
ignored in silence and the default used. The refusal names the key, the section and the
closest valid key. Feed URLs and destinations are checked here too, so a typo stops the
start with one line instead of failing on every poll or every send.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.core.errors import ConfigError, QuerySyntaxError
from bot.core.netguard import split_allowlist
from bot.core.query import parse_query
from bot.core.refs import ping_problem
from bot.core.search_feeds import GOOGLE_NEWS_SEARCH, google_news_query

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DESTINATION_KINDS = (
    "console",
    "slack",
    "discord",
    "slack-dm",
    "discord-dm",
    "slack-webhook",
    "discord-webhook",
)


# Discord ids are snowflakes: unsigned 64-bit integers (17-20 digits for any real channel,
# but the length is not checked: a name or a pasted mention is the mistake to catch). Slack
# ids are upper-case letters and digits (C0123ABCD), never a #name.
_DISCORD_ID = re.compile(r"[0-9]{1,20}")
_SLACK_ID = re.compile(r"[A-Z0-9]{2,}")
_DESTINATION_FORMS = (
    "console, slack:CHANNEL_ID, discord:CHANNEL_ID, slack-dm:USER_ID, discord-dm:USER_ID, "
    "slack-webhook:URL or discord-webhook:URL"
)


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice ``word`` was most likely meant to be (a typo), if one is close enough."""
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def web_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched as a feed or webhook (None when it can)."""
    if not url or any(ch.isspace() for ch in url):
        return "contains spaces" if url else "is empty"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as e:
        return f"cannot be parsed ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host name"
    return None


def validate_destination(value: str) -> str:
    """``value`` if it is a well-formed destination; ValueError saying what is wrong."""
    kind, colon, address = value.partition(":")
    if kind not in DESTINATION_KINDS:
        guess = closest(kind, DESTINATION_KINDS) if colon or kind else None
        hint = (
            f"did you mean {guess + colon + address!r}?" if guess else f"use {_DESTINATION_FORMS}"
        )
        raise ValueError(f"unknown destination {value!r}: {hint}")
    if kind == "console":
        if address:
            raise ValueError(f"destination {value!r}: 'console' takes no address")
        return value
    if not address:
        raise ValueError(f"destination {value!r} needs an address after '{kind}:'")
    if kind == "discord" and not _DISCORD_ID.fullmatch(address):
        raise ValueError(
            f"destination {value!r}: a Discord channel is its numeric id "
            "(Developer Mode, right-click the channel, Copy Channel ID), "
            "e.g. discord:112233445566778899"
        )
    if kind == "discord-dm" and not _DISCORD_ID.fullmatch(address):
        raise ValueError(
            f"destination {value!r}: a Discord user is their numeric id "
            "(Developer Mode, right-click the user, Copy User ID)"
        )
    if kind == "slack" and not _SLACK_ID.fullmatch(address):
        raise ValueError(
            f"destination {value!r}: a Slack channel is its id (channel details, bottom), "
            "e.g. slack:C0123ABCD, not its name"
        )
    if kind == "slack-dm" and not _SLACK_ID.fullmatch(address):
        raise ValueError(
            f"destination {value!r}: a Slack user is their member id "
            "(profile, ⋮, Copy member ID), e.g. slack-dm:U0123ABCD, not their name"
        )
    if kind.endswith("-webhook"):
        problem = web_url_problem(address)
        if problem:
            raise ValueError(f"destination {value!r}: the webhook URL {problem}")
    return value


def async_database_url(url: str) -> str:
    """``url`` with the async driver Wirewatch uses: ``sqlite:///x.db`` becomes
    ``sqlite+aiosqlite:///x.db`` and ``postgresql://`` (or ``postgres://``, or another
    PostgreSQL driver) becomes ``postgresql+asyncpg://``. Other databases are refused."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ValueError(f"{url!r} is not a database URL") from e
    backend = parsed.drivername.partition("+")[0]
    wanted = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        "postgresql" if backend == "postgres" else backend
    )
    if wanted is None:
        raise ValueError(
            f"database {backend!r} is not supported: use sqlite+aiosqlite:///PATH "
            "or postgresql+asyncpg://USER@HOST/DB"
        )
    if parsed.drivername == wanted:
        return url
    return parsed.set(drivername=wanted).render_as_string(hide_password=False)


# Checked one by one, so each bad destination in a list gets its own line.
Destination = Annotated[str, AfterValidator(validate_destination)]


class Section(BaseModel):
    """A config section: a key it does not know is a typo, refused at load."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///data/wirewatch.db"
    # Articles are kept this long for `latest`, `watch test` and `why`.
    retention_days: int = Field(default=14, ge=1)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, v: str) -> str:
        return async_database_url(v)


class FetchSettings(Section):
    # The operator's feeds (config, CLI) may reach private addresses. Never extends to
    # feed URLs added from chat: those may reach only chat_private_allowlist.
    allow_private_addresses: bool = False
    # IPs, CIDR networks and hostnames (with their subdomains) that feeds added from chat
    # may reach although they are private. Cloud metadata addresses stay blocked for names.
    chat_private_allowlist: list[str] = Field(default_factory=list)
    user_agent: str = "Wirewatch/0.1"
    contact_url: str = "https://github.com/wirewatch/wirewatch"
    concurrency: int = Field(default=200, ge=1)
    per_host: int = Field(default=8, ge=1)
    timeout_seconds: float = Field(default=30, gt=0)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0)
    # Where a watch's Google News search goes, {q} standing for the search: another
    # edition (hl, gl, ceid) or a server standing in for Google in tests.
    google_news_url: str = GOOGLE_NEWS_SEARCH

    @field_validator("chat_private_allowlist")
    @classmethod
    def _check_allowlist(cls, v: list[str]) -> list[str]:
        split_allowlist(v)  # raises ValueError naming the bad entry
        return v

    @field_validator("google_news_url")
    @classmethod
    def _check_google_news_url(cls, v: str) -> str:
        rest = v.replace("{q}", "", 1)
        if "{q}" not in v or "{" in rest or "}" in rest:
            raise ValueError(
                f"google_news_url {v!r} must hold {{q}} once (where the search goes) and no "
                "other braces"
            )
        problem = web_url_problem(v.replace("{q}", "q"))
        if problem:
            raise ValueError(f"google_news_url {v!r} {problem}")
        return v


class PollSettings(Section):
    default_interval: int = Field(default=300, ge=60)
    # Items older than this never alert (an old item newly found in a feed is news to nobody).
    max_age_hours: float = Field(default=72, gt=0)
    # On a feed's first poll, alert on this many newest items (0 = record silently).
    backfill: int = Field(default=0, ge=0)
    failing_after: int = Field(default=3, ge=1)
    # How often the scheduler looks for due feeds (each feed keeps its own interval).
    tick_seconds: float = Field(default=15, gt=0)
    # Processes that parse fetched feeds beside the event loop (0: parse in the loop).
    # Each costs ~30 MB (plus ~13 MB once for multiprocessing's resource tracker): worth it
    # for thousands of feeds on a machine with a core to spare.
    workers: int = Field(default=0, ge=0, le=16)


class DeliverySettings(Section):
    # Alerts not delivered within this many hours go to the dead-letter list.
    dead_letter_after_hours: float = Field(default=6, gt=0)
    # More than this many alerts queued for one channel are condensed into one message.
    burst_threshold: int = Field(default=5, ge=2)
    default_destinations: list[Destination] = Field(default_factory=list)


class FeedConfig(Section):
    url: str
    name: str | None = None
    interval: int | None = Field(default=None, ge=60)

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        problem = web_url_problem(v)
        if problem:
            raise ValueError(f"feed URL {v!r} {problem}")
        return v


class WatchConfig(Section):
    query: str
    name: str | None = None
    channels: list[Destination] | None = None
    # Build a Google News RSS search feed from this query (the feed is added for all watches).
    google_news: bool = False
    mention: str | None = None

    @field_validator("query")
    @classmethod
    def _check_query(cls, v: str) -> str:
        # Read with the rest of the file: every problem at once, before anything starts.
        try:
            parse_query(v)
        except QuerySyntaxError as e:
            raise ValueError(f"bad query {v!r}: {e}") from None
        return v

    @field_validator("mention")
    @classmethod
    def _check_mention(cls, v: str | None) -> str | None:
        # The adapters ping only a role or a user group; anything else (a <!channel>, an
        # @everyone) was dropped at send time without a word.
        problem = ping_problem(v) if v is not None else None
        if problem is not None:
            raise ValueError(f"mention {problem}")
        return v.strip() if v is not None else None

    @model_validator(mode="after")
    def _searchable(self) -> WatchConfig:
        if self.google_news and google_news_query(parse_query(self.query)) is None:
            raise ValueError(
                "google_news = true needs a word or phrase to search for, and a regular "
                "expression or a source: term is not one Google can search (set "
                "google_news = false)"
            )
        return self


class SlackSettings(Section):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    mode: Literal["socket", "http"] = "socket"
    api_url: str = "https://slack.com/api/"
    http_port: int = Field(default=3000, ge=0, le=65535)
    command: str = "/wirewatch"
    # Who may change a channel's subscriptions besides workspace admins/owners.
    allowed_users: list[str] = Field(default_factory=list)
    allowed_usergroup: str | None = None

    @property
    def enabled(self) -> bool:
        if self.bot_token is None:
            return False
        return (
            self.app_token is not None if self.mode == "socket" else self.signing_secret is not None
        )


class DiscordSettings(Section):
    token: SecretStr | None = None
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Sync commands to this guild only (instant) instead of globally (up to an hour).
    guild_id: int | None = None
    webhook_delivery: bool = False
    shard_id: int | None = None
    shard_count: int | None = None

    @property
    def enabled(self) -> bool:
        return self.token is not None


class LimitsSettings(Section):
    """What one chat channel or workspace may create (the operator's config is exempt)."""

    watches_per_channel: int = Field(default=50, ge=1)
    terms_per_watch: int = Field(default=40, ge=1)
    feeds_per_workspace: int = Field(default=50, ge=0)


class HealthSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WIREWATCH_", env_nested_delimiter="__", extra="forbid"
    )

    database: DatabaseSettings = DatabaseSettings()
    fetch: FetchSettings = FetchSettings()
    poll: PollSettings = PollSettings()
    delivery: DeliverySettings = DeliverySettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    health: HealthSettings = HealthSettings()
    limits: LimitsSettings = LimitsSettings()
    feeds: list[FeedConfig] = Field(default_factory=list)
    watches: list[WatchConfig] = Field(default_factory=list)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, v: str) -> str:
        # logging.setLevel would refuse it only later, with a traceback.
        level = v.strip().upper()
        if level not in LOG_LEVELS:
            guess = closest(level, LOG_LEVELS)
            hint = f"did you mean {guess!r}?" if guess else f"use one of {', '.join(LOG_LEVELS)}"
            raise ValueError(f"unknown log level {v!r}: {hint}")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (init kwargs carry the parsed TOML).
        return (env_settings, init_settings)


_SECRET_ENV = {
    ("slack", "bot_token"): "SLACK_BOT_TOKEN",
    ("slack", "app_token"): "SLACK_APP_TOKEN",
    ("slack", "signing_secret"): "SLACK_SIGNING_SECRET",
    ("discord", "token"): "DISCORD_TOKEN",
}
_SHORT_ENV = {
    "WIREWATCH_SLACK_API_URL": ("slack", "api_url"),
    "WIREWATCH_DISCORD_API_URL": ("discord", "api_url"),
    "WIREWATCH_DISCORD_GATEWAY_URL": ("discord", "gateway_url"),
    "WIREWATCH_DATABASE_URL": ("database", "url"),
}


def load_settings(path: Path | None = None) -> Settings:
    """Read the TOML file, refuse secrets in it, and apply environment overrides.

    Every problem is a ConfigError with one line per problem, each naming the file and key.
    """
    env = os.environ
    path = path or Path(env.get("WIREWATCH_CONFIG", DEFAULT_CONFIG))
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except IsADirectoryError as e:
        raise ConfigError(f"config file {path} is a directory") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from e
    for section, key in _SECRET_ENV:
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            raise ConfigError(
                f"{section}.{key} must not be in the config file: set {_SECRET_ENV[section, key]} "
                "in the environment instead"
            )
    overrides = [(where, env[var]) for where, var in _SECRET_ENV.items() if env.get(var)]
    overrides += [(where, env[var]) for var, where in _SHORT_ENV.items() if env.get(var)]
    for (section, key), value in overrides:
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table, not {type(table).__name__}")
        table[key] = value
    strays = _stray_variables(env)
    if strays:
        raise ConfigError("\n".join(strays))
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(
            "\n".join(f"{origin or path}: {line}" for line, origin in describe_all(e))
        ) from e
    except SettingsError as e:
        # A list or a table given in a variable must be JSON; pydantic-settings names only
        # the field, in a traceback's words.
        field = str(e).partition('field "')[2].partition('"')[0]
        named = [n for n in env if n.upper().startswith(f"WIREWATCH_{field.upper()}")]
        where = ", ".join(sorted(named)) or f"a WIREWATCH_{field.upper()} variable"
        raise ConfigError(
            f"{where}: not readable as {field}: a list or a table set in the environment is"
            " written as JSON, e.g. WIREWATCH_DELIVERY__DEFAULT_DESTINATIONS='[\"slack:C1\"]'"
        ) from e


# WIREWATCH_ variables that are not settings: the config file's path, and the test suite's.
_NOT_SETTINGS = ("WIREWATCH_CONFIG", "WIREWATCH_TEST_", "WIREWATCH_REQUIRE_")


def _stray_variables(env: Mapping[str, str]) -> list[str]:
    """A WIREWATCH_ variable no setting reads, named as a setting would be (a misspelt
    section or key): silently ignored, the bot would run otherwise than its operator set
    it (on another database, say). One line each."""
    fields = list(Settings.model_fields)
    lines = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith("WIREWATCH_") or upper.startswith(_NOT_SETTINGS):
            continue
        if upper in _SHORT_ENV:
            continue
        rest = upper.removeprefix("WIREWATCH_")
        head = rest.partition("__")[0].lower()
        if head in fields:
            continue
        guess = closest(head, fields)
        if guess is None and "__" not in rest:
            continue  # not shaped like a setting: another tool's variable
        nested = "__…" if "__" in rest else ""
        hint = (
            f"did you mean WIREWATCH_{guess.upper()}{nested}?"
            if guess
            else f"settings are WIREWATCH_<section>__<key>, sections: {', '.join(_SECTIONS)}"
        )
        lines.append(f"{name}: no setting has this name: {hint}")
    return lines


# Where an unknown key was found -> the model whose keys are valid there.
_SECTIONS: dict[str, type[BaseModel]] = {
    "database": DatabaseSettings,
    "fetch": FetchSettings,
    "poll": PollSettings,
    "delivery": DeliverySettings,
    "slack": SlackSettings,
    "discord": DiscordSettings,
    "health": HealthSettings,
    "limits": LimitsSettings,
    "feeds": FeedConfig,
    "watches": WatchConfig,
}


def describe_all(error: ValidationError) -> list[tuple[str, str | None]]:
    """One line per problem, with the environment variable that set the value at fault
    (None: the file did). A misspelt required key is reported once, as the typo (not also
    as the missing key it was meant to be)."""
    errors = error.errors()
    meant = set()
    for err in errors:
        if err["type"] == "extra_forbidden" and len(err["loc"]) > 1:
            model = _SECTIONS.get(str(err["loc"][0]))
            guess = closest(str(err["loc"][-1]), list(model.model_fields)) if model else None
            meant.add((*err["loc"][:-1], guess))
    return [
        (describe(err), None if err["type"] == "extra_forbidden" else _value_origin(err["loc"]))
        for err in errors
        if tuple(err["loc"]) not in meant
    ]


def _value_origin(loc: Sequence[Any]) -> str | None:
    """The variable that set the value at ``loc``, if one did (an unknown key names its
    own in its line)."""
    if not loc:
        return None
    section = str(loc[0])
    if len(loc) > 1 and isinstance(loc[1], str):
        origin = _env_origin(section, loc[1])
        if origin is not None:
            return origin
    wanted = f"WIREWATCH_{section}".upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def describe(error: Any) -> str:
    """One pydantic validation error as one line an operator can act on."""
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return _unknown_key(loc, error.get("input"))
    where = ".".join(str(p) if isinstance(p, str) else f"[{p + 1}]" for p in loc)
    where = where.replace(".[", "[")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _unknown_key(loc: tuple[Any, ...], value: Any) -> str:
    key = str(loc[-1])
    if len(loc) == 1:
        valid = [name for name in Settings.model_fields if name in _SECTIONS]
        if isinstance(value, dict | list):
            guess = closest(key, valid)
            hint = f"did you mean [{guess}]?" if guess else f"the sections are {', '.join(valid)}"
            return f"unknown section [{key}]: {hint}"
        valid = list(Settings.model_fields)
        guess = closest(key, valid)
        hint = f"did you mean {guess!r}?" if guess else f"valid keys: {', '.join(valid)}"
        return f"unknown top-level key {key!r}: {hint}"
    section = str(loc[0])
    model = _SECTIONS.get(section)
    valid = list(model.model_fields) if model else []
    where = f"[{section}]"
    if isinstance(loc[1], int):
        where = f"[[{section}]] #{loc[1] + 1}"
    guess = closest(key, valid)
    top_level = closest(key, [n for n in Settings.model_fields if n not in _SECTIONS])
    if guess is None and top_level is not None:
        # TOML puts a key written after a [table] header into that table.
        hint = f"{top_level!r} is a top-level key: write it before the first [section]"
    elif guess and (section, guess) in _SECRET_ENV:
        hint = (
            f"did you mean {guess!r}? (it belongs in {_SECRET_ENV[section, guess]}, not the file)"
        )
    elif guess:
        hint = f"did you mean {guess!r}?"
    else:
        shown = [name for name in valid if (section, name) not in _SECRET_ENV]
        hint = f"valid keys: {', '.join(shown)}"
    origin = _env_origin(section, key)
    return f"unknown key {key!r} in {where}: {hint}" + (f" (set by {origin})" if origin else "")


def _env_origin(section: str, key: str) -> str | None:
    """The environment variable that put ``section.key`` in the settings, if one did."""
    wanted = f"WIREWATCH_{section}__{key}".upper()
    return next((name for name in os.environ if name.upper() == wanted), None)
