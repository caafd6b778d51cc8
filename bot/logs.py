"""Logging to stderr: JSON lines when not on a terminal, readable text on one.

Structured fields (feed, watch, destination, alert ids) travel in ``extra=``. A filter
masks anything that looks like a token (and the formatters the fields: a destination can
be a webhook URL, whose last part is its credential), so a secret never reaches a log line
even when an exception message carries one. Text lines are for a terminal: feed text quoted in them
loses its escape sequences (JSON lines escape control characters anyway).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.terminal import terminal_text

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Slack tokens (xoxb-, xapp-, xoxp-), Discord bot tokens (three base64 parts), bearer headers.
_SECRET = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}"
    r"|[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"
    r"|(?i:bot|bearer)\s+[A-Za-z0-9._-]{20,})"
)


# A webhook URL is its own credential: Discord's token after the webhook id, Slack's last
# part after the team and bot ids. The id stays, so a log line still says which webhook.
_WEBHOOK_SECRET = re.compile(
    r"(/webhooks/\d+/)[A-Za-z0-9_.-]+|(/services/T[A-Z0-9]+/B[A-Z0-9]+/)[A-Za-z0-9]+"
)


def mask_secrets(text: str) -> str:
    text = _WEBHOOK_SECRET.sub(lambda m: f"{m.group(1) or m.group(2)}***", text)
    return _SECRET.sub("***", text)


class SecretMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        masked = mask_secrets(msg)
        if masked != msg:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                # Fields too: a destination can be a webhook URL.
                out[key] = mask_secrets(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {
            k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        }
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return terminal_text(mask_secrets(base))


# discord.py warns at every client start that voice needs PyNaCl (and davey). Wirewatch never
# joins a voice channel, so the line is noise that reads like a fault on every start.
_VOICE_UNSUPPORTED = "voice will NOT be supported"


class VoiceSupportFilter(logging.Filter):
    """Drops discord.py's "<library> is not installed, voice will NOT be supported"."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.endswith(_VOICE_UNSUPPORTED))


def silence_voice_warnings() -> None:
    """Install :class:`VoiceSupportFilter` on the logger discord.py warns through (once)."""
    logger = logging.getLogger("discord.client")
    if not any(isinstance(f, VoiceSupportFilter) for f in logger.filters):
        logger.addFilter(VoiceSupportFilter())


def setup_logging(level: str = "INFO", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(
        JsonFormatter()
        if use_json
        else TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(SecretMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    silence_voice_warnings()
    # Library chatter stays out of operators' way unless debugging.
    for noisy in ("discord", "slack_bolt", "slack_sdk", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # APScheduler warns on every tick skipped while a long cycle runs: expected, not news.
    logging.getLogger("apscheduler").setLevel(max(logging.ERROR, root.level))
