"""The app manifest a user pastes into Slack matches what the adapter needs."""

from __future__ import annotations

import re
from pathlib import Path

from bot.adapters.slack.app import BOT_SCOPES
from bot.settings import SlackSettings

MANIFEST = Path(__file__).resolve().parents[3] / "bot" / "slack" / "manifest.yaml"


def _bot_scopes(text: str) -> set[str]:
    block = text.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    return set(re.findall(r"^\s+- ([a-z.:_]+)", block, re.MULTILINE))


def test_manifest_asks_for_exactly_the_scopes_the_adapter_uses() -> None:
    """Least privilege: the manifest's bot scopes are the adapter's BOT_SCOPES, no more."""
    assert _bot_scopes(MANIFEST.read_text(encoding="utf-8")) == set(BOT_SCOPES)


def test_manifest_declares_the_command_socket_mode_and_interactivity() -> None:
    """The default slash command, Socket Mode and interactivity (buttons) are switched on."""
    text = MANIFEST.read_text(encoding="utf-8")
    assert f"- command: {SlackSettings().command}\n" in text
    assert re.search(r"^  socket_mode_enabled: true", text, re.MULTILINE)
    assert re.search(r"^  interactivity:\n    is_enabled: true", text, re.MULTILINE)
    assert "chat:write.public" not in text
