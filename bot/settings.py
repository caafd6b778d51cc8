"""Typed settings: a TOML file (``config/default.toml`` or ``--config``) plus ``WIREWATCH_*``
environment overrides. Secrets (tokens, signing secrets) are read from the environment
only and are ``SecretStr`` so they never print.

Environment overrides use ``__`` for nesting: ``WIREWATCH_DATABASE__URL``,
``WIREWATCH_FETCH__ALLOW_PRIVATE_ADDRESSES``. The documented short names
``WIREWATCH_SLACK_API_URL``, ``WIREWATCH_DISCORD_API_URL`` and
``WIREWATCH_DISCORD_GATEWAY_URL`` work too. Secrets keep their platform names:
``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``, ``DISCORD_TOKEN``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.core.errors import ConfigError
from bot.core.netguard import split_allowlist

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"
DESTINATION_KINDS = ("console", "slack", "discord", "slack-webhook", "discord-webhook")


def validate_destination(value: str) -> str:
    kind, _, address = value.partition(":")
    if kind not in DESTINATION_KINDS:
        raise ValueError(
            f"unknown destination {value!r}: use console, slack:CHANNEL_ID, discord:CHANNEL_ID, "
            "slack-webhook:URL or discord-webhook:URL"
        )
    if kind != "console" and not address:
        raise ValueError(f"destination {value!r} needs an address after '{kind}:'")
    return value


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///data/wirewatch.db"
    # Articles are kept this long for `latest`, `watch test` and `why`.
    retention_days: int = Field(default=14, ge=1)


class FetchSettings(BaseModel):
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

    @field_validator("chat_private_allowlist")
    @classmethod
    def _check_allowlist(cls, v: list[str]) -> list[str]:
        split_allowlist(v)  # raises ValueError naming the bad entry
        return v


class PollSettings(BaseModel):
    default_interval: int = Field(default=300, ge=60)
    # Items older than this never alert (an old item newly found in a feed is news to nobody).
    max_age_hours: float = Field(default=72, gt=0)
    # On a feed's first poll, alert on this many newest items (0 = record silently).
    backfill: int = Field(default=0, ge=0)
    failing_after: int = Field(default=3, ge=1)
    # How often the scheduler looks for due feeds (each feed keeps its own interval).
    tick_seconds: float = Field(default=15, gt=0)


class DeliverySettings(BaseModel):
    # Alerts not delivered within this many hours go to the dead-letter list.
    dead_letter_after_hours: float = Field(default=6, gt=0)
    # More than this many alerts queued for one channel are condensed into one message.
    burst_threshold: int = Field(default=5, ge=2)
    default_destinations: list[str] = Field(default_factory=list)

    @field_validator("default_destinations")
    @classmethod
    def _check_destinations(cls, v: list[str]) -> list[str]:
        return [validate_destination(d) for d in v]


class FeedConfig(BaseModel):
    url: str
    name: str | None = None
    interval: int | None = Field(default=None, ge=60)


class WatchConfig(BaseModel):
    query: str
    name: str | None = None
    channels: list[str] | None = None
    # Build a Google News RSS search feed from this query (the feed is added for all watches).
    google_news: bool = False
    mention: str | None = None

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [validate_destination(d) for d in v]


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    mode: Literal["socket", "http"] = "socket"
    api_url: str = "https://slack.com/api/"
    http_port: int = 3000
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


class DiscordSettings(BaseModel):
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


class LimitsSettings(BaseModel):
    """What one chat channel or workspace may create (the operator's config is exempt)."""

    watches_per_channel: int = Field(default=50, ge=1)
    terms_per_watch: int = Field(default=40, ge=1)
    feeds_per_workspace: int = Field(default=50, ge=0)


class HealthSettings(BaseModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080


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
    """Read the TOML file, refuse secrets in it, and apply environment overrides."""
    env = os.environ
    path = path or Path(env.get("WIREWATCH_CONFIG", DEFAULT_CONFIG))
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    for section, key in _SECRET_ENV:
        if key in data.get(section, {}):
            raise ConfigError(
                f"{section}.{key} must not be in the config file: set {_SECRET_ENV[section, key]} "
                "in the environment instead"
            )
    for (section, key), var in _SECRET_ENV.items():
        if env.get(var):
            data.setdefault(section, {})[key] = env[var]
    for var, (section, key) in _SHORT_ENV.items():
        if env.get(var):
            data.setdefault(section, {})[key] = env[var]
    try:
        return Settings(**data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid settings in {path}: {problems}") from e
