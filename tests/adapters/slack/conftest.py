"""Fixtures for the Slack adapter tests: a fake Slack on 127.0.0.1 and a started adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.slack.app import SlackAdapter
from bot.core.api import CoreAPI
from bot.settings import SlackSettings
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk reads proxy variables itself and ignores NO_PROXY: 127.0.0.1 must go direct.
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def slack_settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    data: dict[str, Any] = {
        "bot_token": SecretStr(BOT_TOKEN),
        "app_token": SecretStr(APP_TOKEN),
        "signing_secret": SecretStr(SIGNING_SECRET),
        "api_url": fake.base_url,
        "allowed_users": ["UALLOWED"],
        "allowed_usergroup": "SOPS",
    }
    data.update(overrides)
    return SlackSettings(**data)


StartAdapter = Callable[..., Awaitable[SlackAdapter]]


@pytest.fixture
async def start_adapter(fake_slack: FakeSlack) -> AsyncIterator[StartAdapter]:
    """Start a SlackAdapter against the fake (socket mode unless told otherwise)."""
    started: list[SlackAdapter] = []

    async def start(
        core: CoreAPI, adapter_kwargs: dict[str, Any] | None = None, **overrides: Any
    ) -> SlackAdapter:
        kwargs: dict[str, Any] = {"pace_seconds": 0.0, "http_host": "127.0.0.1"}
        kwargs.update(adapter_kwargs or {})
        adapter = SlackAdapter(
            core=core, settings=slack_settings(fake_slack, **overrides), **kwargs
        )
        await adapter.start()
        started.append(adapter)
        return adapter

    yield start
    for adapter in reversed(started):
        await adapter.stop()
