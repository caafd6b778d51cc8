"""The words of operational notices: what broke, since when, why, and what to do."""

from __future__ import annotations

from datetime import datetime


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "a while"


def feed_failing_text(name: str, url: str, since: datetime | None, reason: str | None) -> str:
    return (
        f"⚠️ Feed “{name}” is failing since {_when(since)}: {reason or 'unknown error'}. "
        "Alerts from it are paused; Wirewatch keeps retrying and will say when it "
        f"recovers. Check the URL ({url}) or remove it with `feeds remove`."
    )


def feed_recovered_text(name: str) -> str:
    return f"✅ Feed “{name}” works again; alerts from it resume."


def channel_recovered_text(since: datetime | None, reason: str | None) -> str:
    return (
        f"✅ Wirewatch can post here again. Delivery had been failing since {_when(since)}"
        + (f" ({reason})" if reason else "")
        + "; alerts held meanwhile are being delivered now, in order."
    )
