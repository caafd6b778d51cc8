"""How a chat user names things: a watch, feed or alert by its number, whom to ping.

Typed text is anything: ``²`` passes ``str.isdigit`` and ``int`` refuses it, and a number
past 64 bits overflows the database's integer. A reference is an id only when it is a
whole number an id column can hold; otherwise it is a name (or nothing at all).
"""

from __future__ import annotations

import re

ID_DIGITS_MAX = 18  # every id fits in a signed 64-bit column


def id_of(ref: str) -> int | None:
    """The id ``ref`` names ("7", "#7"), or None when it is no id."""
    key = ref.strip().lstrip("#")
    if not key or len(key) > ID_DIGITS_MAX or not key.isdecimal():
        return None
    return int(key)


# What a watch may ping: a Discord role, a Slack user group (the adapters' own forms).
# Anything else (<!channel>, @everyone, a group's @handle) the adapters would drop at send
# time, so it is refused where it is given: the config file and chat alike.
_PING = re.compile(
    r"<@&\d{1,20}>|role:\d{1,20}|\d{1,20}|(?:<!subteam\^)?S[A-Z0-9]{2,}(?:\|[^>]*)?>?"
)


def ping_problem(mention: str) -> str | None:
    """Why ``mention`` cannot be what a watch pings, or None when it can."""
    if _PING.fullmatch(mention.strip()):
        return None
    return (
        f"{mention!r} is neither a Discord role (its id, <@&id> or role:id) nor a Slack user "
        "group (its S… id or <!subteam^S…>): a watch never pings everyone, here or a channel"
    )
