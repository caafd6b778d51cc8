"""How a chat user names things: a watch, feed or alert by its number.

Typed text is anything: ``²`` passes ``str.isdigit`` and ``int`` refuses it, and a number
past 64 bits overflows the database's integer. A reference is an id only when it is a
whole number an id column can hold; otherwise it is a name (or nothing at all).
"""

from __future__ import annotations

ID_DIGITS_MAX = 18  # every id fits in a signed 64-bit column


def id_of(ref: str) -> int | None:
    """The id ``ref`` names ("7", "#7"), or None when it is no id."""
    key = ref.strip().lstrip("#")
    if not key or len(key) > ID_DIGITS_MAX or not key.isdecimal():
        return None
    return int(key)
