"""Wirewatch's one error tree; causes are chained with ``raise ... from``.

WirewatchError
├── ConfigError              bad settings or config file: the run cannot start
├── QuerySyntaxError         a watch query that does not parse (says where and why)
├── UnsearchableQueryError   a watch asked to search Google News for what Google cannot search
├── FeedError                one feed could not be used this time (recorded on the feed)
│   ├── FetchError           network, HTTP status, timeout, size cap
│   │   └── BlockedAddressError  URL resolves to a private/loopback/metadata address
│   └── ParseError           the body is not a feed we can read
├── DeliveryError            one destination could not take an alert (recorded on it)
│   ├── RetryableDeliveryError   try again later (5xx, 429, network), maybe after N s
│   │   └── RateLimitedError     the platform's limiter asked to wait: pacing, not failing
│   ├── PermanentDeliveryError   stop for this destination until it recovers
│   └── RejectedMessageError     the platform refused this one message: dead-lettered
├── NotFoundError            a command named a watch/feed/article that does not exist
├── DuplicateError           a command would add what is already there
├── QuotaError               a channel or workspace reached one of its limits
└── PermissionDeniedError    a chat user may not change this channel (or an operator feed)
"""

from __future__ import annotations

from typing import Any


class WirewatchError(Exception):
    """Base of every error Wirewatch raises on purpose."""


class ConfigError(WirewatchError):
    pass


POINTER_WIDTH = 72  # characters of a long query shown around its fault


class QuerySyntaxError(WirewatchError):
    """A malformed watch query. ``position`` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position + 1}")

    def pointer(self, width: int = POINTER_WIDTH) -> str:
        """The query with a caret under the offending character, for chat and CLI replies.

        A query longer than ``width`` is shown around the fault, cut with "…": a caret
        under the 990th character sat past a chat message's limit (Discord cut it off with
        the rest of the reply) and past any terminal's width. Line breaks show as spaces,
        so the caret stays under its character."""
        shown = "".join(" " if ch in "\r\n\t" else ch for ch in self.query)
        position = min(max(self.position, 0), len(shown))
        if len(shown) <= width:
            return f"{shown}\n{' ' * position}^"
        start = max(0, min(position - width * 2 // 3, len(shown) - width))
        end = start + width
        left = "…" if start > 0 else ""
        right = "…" if end < len(shown) else ""
        return f"{left}{shown[start:end]}{right}\n{' ' * (len(left) + position - start)}^"


class UnsearchableQueryError(WirewatchError):
    """A watch asked for a Google News search, and nothing in its query is a word or phrase
    Google can search for (a regular expression, a ``source:`` term)."""

    def __init__(self, query: str) -> None:
        self.query = query
        super().__init__(
            "Google News can search only for words and phrases, and a regular expression "
            "or a source: term is not one"
        )


class FeedError(WirewatchError):
    """A feed failed this time; ``reason`` is short plain words for status and notices."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class FetchError(FeedError):
    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in parsing workers too (a body decoded there): the status must cross.
        return (
            type(self),
            (self.reason,),
            {"status": self.status, "retry_after": self.retry_after},
        )


class BlockedAddressError(FetchError):
    pass


class ParseError(FeedError):
    pass


class DeliveryError(WirewatchError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RetryableDeliveryError(DeliveryError):
    """Try later. ``maybe_sent``: the platform may have taken the message (a 5xx or a lost
    connection after the request left), so the resend must be checked first."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, maybe_sent: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class RateLimitedError(RetryableDeliveryError):
    """The platform's own rate limiter asked to wait ``retry_after`` seconds (Slack's
    ``ratelimited``, a Discord 429 from its API). The destination is fine and was reached:
    the wait is honoured, but it does not count towards marking the destination failing,
    nor is the channel told it "can post again" afterwards."""


class PermanentDeliveryError(DeliveryError):
    pass


class NotFoundError(WirewatchError):
    pass


class PermissionDeniedError(WirewatchError):
    pass


class DuplicateError(WirewatchError):
    pass


class QuotaError(WirewatchError):
    """A per-channel or per-workspace limit (``[limits]`` in the settings) was reached."""


class RejectedMessageError(DeliveryError):
    """The platform refused this one message (a malformed URL, a body it will never take),
    not the destination: resending it cannot help, and the channel is fine.

    A DeliveryError beside RetryableDeliveryError and PermanentDeliveryError. The sender
    dead-letters the alert with ``reason``; a rejected batch is resent one alert at a time,
    so only the message at fault is dead-lettered and the channel is never held up.
    """
