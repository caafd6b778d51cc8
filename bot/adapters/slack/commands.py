"""The ``/wirewatch`` slash command: subcommand text -> CoreAPI call -> reply.

This module knows nothing of Slack's transport: ``app`` hands it an ``Invocation`` and
sends back the ``Reply`` (ack, ``respond`` or ``chat.postMessage``). Parsing is pure;
``CommandRouter.run`` never raises — every failure becomes a reply that says what went
wrong and what to type instead.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import unescape

from bot.adapters.slack.permissions import SlackPermissions
from bot.adapters.slack.render import (
    SlackMessage,
    escape_text,
    link,
    render_articles,
    render_feed_list,
    render_status,
    render_watch_list,
    render_why,
    section,
    shorten,
)
from bot.core.api import CoreAPI, SubscribeResult
from bot.core.errors import (
    FeedError,
    NotFoundError,
    PermissionDeniedError,
    QuerySyntaxError,
    WirewatchError,
)
from bot.core.models import WatchInfo

log = logging.getLogger(__name__)

MAX_LATEST = 20
DEFAULT_LATEST = 5
# Subcommands that may take longer than Slack's 3 s ack window: ack first, answer later.
SLOW = frozenset({"feeds add", "watch test", "latest", "why"})
MUTATING = frozenset(
    {"subscribe", "unsubscribe", "watch add", "watch remove", "feeds add", "feeds remove"}
)

# Subcommands that cannot run without arguments: (usage, example).
_NEEDS_ARGS: dict[str, tuple[str, str]] = {
    "watch add": ("watch add QUERY", 'watch add "rare earth" AND lithium'),
    "watch remove": ("watch remove ID", "watch remove 7"),
    "watch test": ("watch test QUERY", "watch test lithium NOT battery"),
    "feeds add": ("feeds add URL", "feeds add https://example.com/rss"),
    "feeds remove": ("feeds remove ID", "feeds remove 4"),
    "why": ("why URL", "why https://example.com/article"),
}

_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class Invocation:
    user_id: str
    channel_id: str
    text: str

    @property
    def destination(self) -> str:
        return f"slack:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to the caller, plus an optional message for everyone in the channel.

    ``public`` makes the answer itself visible in the channel (``latest share``).
    ``announce`` is posted with chat.postMessage, which also proves the bot can post
    there; when it cannot, the caller is told how to invite it.
    """

    message: SlackMessage
    public: bool = False
    announce: SlackMessage | None = None


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str  # "help", "subscribe", "watch add", ... ("" for unknown)
    args: str  # the rest of the text, as typed
    word: str = ""  # what the user typed as the subcommand (for "unknown" replies)


def normalise_text(text: str) -> str:
    """Undo Slack's formatting of slash-command text: ``<url|label>`` -> url, entities."""
    return unescape(_LINK.sub(lambda m: m.group(1), text)).strip()


def parse_command(text: str) -> ParsedCommand:
    """Split ``watch add rare earth`` into ("watch add", "rare earth")."""
    text = normalise_text(text)
    if not text:
        return ParsedCommand("help", "")
    first, _, rest = text.partition(" ")
    first = first.lower()
    rest = rest.strip()
    if first in ("help", "subscribe", "unsubscribe", "latest", "status", "why"):
        return ParsedCommand(first, rest, first)
    if first in ("mute",):
        return ParsedCommand("unsubscribe", rest, first)
    if first in ("watch", "watches", "feeds", "feed"):
        group = "watch" if first.startswith("watch") else "feeds"
        second, _, args = rest.partition(" ")
        second = second.lower() or "list"
        aliases = {"rm": "remove", "delete": "remove", "del": "remove", "ls": "list", "new": "add"}
        second = aliases.get(second, second)
        allowed = (
            ("add", "list", "remove", "test") if group == "watch" else ("add", "list", "remove")
        )
        if second in allowed:
            return ParsedCommand(f"{group} {second}", args.strip(), f"{first} {second}")
        return ParsedCommand("", rest, f"{first} {second}")
    return ParsedCommand("", rest, first)


def split_refs(args: str) -> list[str]:
    """Watch references: ids ("3", "#3") or names ("quoted names" keep their spaces)."""
    try:
        parts = shlex.split(args)
    except ValueError:
        parts = args.split()
    return [p.lstrip("#") if p.lstrip("#").isdigit() else p for p in parts if p.strip(",")]


def parse_latest(args: str) -> tuple[str | None, int, bool]:
    """``latest [QUERY] [N] [share]`` -> (query or None, N, share)."""
    share = False
    limit = DEFAULT_LATEST
    words = args.split()
    changed = True
    while words and changed:
        changed = False
        for index in (0, -1):
            if words and words[index].lower() in ("share", "--share"):
                share = True
                words.pop(index)
                changed = True
        if words and re.fullmatch(r"\d{1,3}", words[-1]):
            limit = int(words.pop())
            changed = True
    limit = max(1, min(MAX_LATEST, limit))
    query = " ".join(words).strip()
    return (query or None), limit, share


def _code(text: str) -> str:
    """Untrusted text inside a code span/block: escaped, and unable to close the fence."""
    return escape_text(text).replace("`", "ʹ")


def _watch_ref(watch: WatchInfo) -> str:
    name = f" ({escape_text(watch.name)})" if watch.name else ""
    return f"#{watch.id}{name} `{_code(shorten(watch.query, 200))}`"


def _text_reply(text: str, *, public: bool = False, announce: str | None = None) -> Reply:
    return Reply(
        SlackMessage(text=text, blocks=[section(text)]),
        public=public,
        announce=SlackMessage(text=announce, blocks=[section(announce)]) if announce else None,
    )


HELP_LINES: tuple[tuple[str, str, str], ...] = (
    (
        "subscribe [WATCH…]",
        "start alerts in this channel: the default watches, or the ones named",
        "subscribe 3",
    ),
    (
        "unsubscribe [WATCH…]",
        "stop alerts in this channel: all of them, or the ones named",
        "unsubscribe 3",
    ),
    (
        "watch add QUERY",
        "a new watch for this channel",
        'watch add "rare earth" AND (lithium OR cobalt)',
    ),
    ("watch list", "this channel's watches with ids, hits and last hit", "watch list"),
    ("watch remove ID", "remove a watch from this channel", "watch remove 7"),
    (
        "watch test QUERY",
        "what a query would have matched recently",
        "watch test lithium NOT battery",
    ),
    (
        "latest [QUERY] [N] [share]",
        "newest stored articles (only you see them unless `share`)",
        "latest lithium 10",
    ),
    (
        "feeds add URL",
        "add a feed (it is fetched once to check it)",
        "feeds add https://example.com/rss",
    ),
    ("feeds list", "every feed and its health", "feeds list"),
    ("feeds remove ID", "stop polling a feed", "feeds remove 4"),
    ("status", "failing feeds, queue, dead letters, last poll, this channel's watches", "status"),
    (
        "why URL",
        "what happened to one article: fetched, matched, delivered",
        "why https://example.com/a",
    ),
)


class CommandRouter:
    """Runs one subcommand against the core and returns the reply."""

    def __init__(
        self,
        core: CoreAPI,
        permissions: SlackPermissions,
        *,
        command: str = "/wirewatch",
    ) -> None:
        self._core = core
        self._permissions = permissions
        self._command = command
        self._handlers: dict[str, Callable[[Invocation, str], Awaitable[Reply]]] = {
            "help": self._help,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "watch add": self._watch_add,
            "watch list": self._watch_list,
            "watch remove": self._watch_remove,
            "watch test": self._watch_test,
            "latest": self._latest,
            "feeds add": self._feeds_add,
            "feeds list": self._feeds_list,
            "feeds remove": self._feeds_remove,
            "status": self._status,
            "why": self._why,
        }

    @staticmethod
    def is_slow(text: str) -> bool:
        return parse_command(text).name in SLOW

    @staticmethod
    def working_text(text: str) -> str | None:
        """What the ack of a slow command says while the work runs (None: a silent ack)."""
        parsed = parse_command(text)
        if parsed.name == "feeds add" and parsed.args:
            return f"Checking {escape_text(parsed.args.split()[0])} — fetching it once…"
        return None

    async def precheck(self, invocation: Invocation) -> Reply | None:
        """The quick answers that need no core work: unknown command, refusal, usage.

        Slow commands run this before acking, so a refusal is the ack itself rather
        than a "working on it" followed by a refusal.
        """
        parsed = parse_command(invocation.text)
        if not parsed.name:
            return self._unknown(parsed.word)
        if parsed.name in _NEEDS_ARGS and not parsed.args:
            return self._usage(*_NEEDS_ARGS[parsed.name])
        if parsed.name in MUTATING:
            decision = await self._permissions.can_manage(invocation.user_id)
            if not decision.allowed:
                log.info(
                    "command refused",
                    extra={"user": invocation.user_id, "command": parsed.name},
                )
                return self._refusal(decision.reason)
        return None

    async def run(self, invocation: Invocation) -> Reply:
        """Parse, check permission, call the core, render. Never raises."""
        parsed = parse_command(invocation.text)
        extra = {
            "user": invocation.user_id,
            "channel": invocation.channel_id,
            "command": parsed.name,
        }
        try:
            early = await self.precheck(invocation)
            if early is not None:
                return early
            log.info("command", extra=extra)
            return await self._handlers[parsed.name](invocation, parsed.args)
        except QuerySyntaxError as e:
            return self._query_error(e)
        except FeedError as e:
            return _text_reply(f":warning: I could not add that feed: {escape_text(e.reason)}")
        except NotFoundError as e:
            hint = f" `{self._command} {parsed.name.split()[0]} list` shows the ids."
            return _text_reply(escape_text(str(e)) + ("" if "list" in str(e) else hint))
        except PermissionDeniedError as e:
            return self._refusal(str(e))
        except WirewatchError as e:
            log.warning("command failed", extra={**extra, "error": str(e)})
            return _text_reply(f":warning: That did not work: {escape_text(str(e))}")
        except Exception:
            log.exception("command crashed", extra=extra)
            return _text_reply(
                ":warning: Something went wrong on my side; the details are in Wirewatch's log."
            )

    # --- replies shared by several commands -------------------------------------------

    def _refusal(self, reason: str) -> Reply:
        text = (
            f":no_entry: Only {self._permissions.who_can()} can change this channel's alerts, "
            f"watches and feeds ({escape_text(reason)}). Everyone can use `latest`, `watch list`, "
            f"`watch test`, `status` and `why`."
        )
        return _text_reply(text)

    def _query_error(self, e: QuerySyntaxError) -> Reply:
        text = (
            f":warning: That query does not parse: {escape_text(e.message)}\n"
            f"```{_code(e.pointer())}```\n"
            'Queries look like `"rare earth" AND (lithium OR cobalt) NOT battery`.'
        )
        return _text_reply(text)

    def _unknown(self, word: str) -> Reply:
        text = f"I don't know `{_code(word)}`. Try `{self._command} help`."
        return _text_reply(text)

    def _usage(self, usage: str, example: str) -> Reply:
        return _text_reply(
            f"Usage: `{self._command} {usage}` — for example `{self._command} {example}`"
        )

    # --- subcommands ------------------------------------------------------------------

    async def _help(self, invocation: Invocation, args: str) -> Reply:
        lines = [f"*Wirewatch* posts news alerts here. Commands (`{self._command} …`):"]
        for usage, what, example in HELP_LINES:
            lines.append(f"• `{usage}` — {what}. _e.g._ `{self._command} {_code(example)}`")
        lines.append(
            "Changing alerts, watches and feeds is for " + self._permissions.who_can() + "."
        )
        text = "\n".join(lines)
        return Reply(SlackMessage(text="Wirewatch commands", blocks=[section(text)]))

    def _subscription_text(self, result: SubscribeResult, *, on: bool) -> tuple[str, str | None]:
        verb = "on" if on else "off"
        lines: list[str] = []
        if result.changed:
            lines.append(
                f"Alerts {verb} here for " + ", ".join(_watch_ref(w) for w in result.changed) + "."
            )
        if result.unchanged:
            lines.append(
                f"Already {verb}: " + ", ".join(_watch_ref(w) for w in result.unchanged) + "."
            )
        if result.unknown:
            names = ", ".join(f"`{_code(u)}`" for u in result.unknown)
            lines.append(f"No watch called {names} — `{self._command} watch list` shows the ids.")
        if not lines:
            lines.append(
                "There are no watches to turn "
                + verb
                + f" yet: add one with `{self._command} watch add QUERY`."
            )
        return "\n".join(lines), (
            ", ".join(_watch_ref(w) for w in result.changed) if result.changed else None
        )

    async def _subscribe(self, invocation: Invocation, args: str) -> Reply:
        result = await self._core.subscribe(invocation.destination, split_refs(args))
        text, changed = self._subscription_text(result, on=True)
        announce = (
            f"<@{invocation.user_id}> turned on Wirewatch alerts here: {changed}"
            if changed
            else None
        )
        return _text_reply(text, announce=announce)

    async def _unsubscribe(self, invocation: Invocation, args: str) -> Reply:
        result = await self._core.unsubscribe(invocation.destination, split_refs(args))
        text, changed = self._subscription_text(result, on=False)
        announce = (
            f"<@{invocation.user_id}> turned off Wirewatch alerts here: {changed}"
            if changed
            else None
        )
        return _text_reply(text, announce=announce)

    async def _watch_add(self, invocation: Invocation, args: str) -> Reply:
        if not args:
            return self._usage("watch add QUERY", 'watch add "rare earth" AND lithium')
        watch = await self._core.add_watch(
            invocation.destination, args, created_by=f"slack:{invocation.user_id}"
        )
        text = f"Watch {_watch_ref(watch)} added; its alerts will appear here."
        announce = f"<@{invocation.user_id}> added watch {_watch_ref(watch)} to this channel."
        return _text_reply(text, announce=announce)

    async def _watch_list(self, invocation: Invocation, args: str) -> Reply:
        watches = await self._core.list_watches(invocation.destination)
        return Reply(render_watch_list(watches, where="this channel"))

    async def _watch_remove(self, invocation: Invocation, args: str) -> Reply:
        ref = args.strip().lstrip("#")
        if not ref:
            return self._usage("watch remove ID", "watch remove 7")
        watch = await self._core.remove_watch(invocation.destination, ref)
        return _text_reply(
            f"Watch {_watch_ref(watch)} removed from this channel.",
            announce=f"<@{invocation.user_id}> removed watch {_watch_ref(watch)} from here.",
        )

    async def _watch_test(self, invocation: Invocation, args: str) -> Reply:
        if not args:
            return self._usage("watch test QUERY", "watch test lithium NOT battery")
        articles = await self._core.test_query(args, limit=10)
        query = f"`{_code(shorten(args, 200))}`"
        if not articles:
            return _text_reply(f"No stored recent article matches {query}.")
        count = f"{len(articles)} recent article{'s' if len(articles) != 1 else ''}"
        heading = f"{query} would have matched {count}:"
        return Reply(render_articles(articles, heading))

    async def _latest(self, invocation: Invocation, args: str) -> Reply:
        query, limit, share = parse_latest(args)
        articles = await self._core.latest(query, limit=limit)
        about = f" matching `{_code(shorten(query, 200))}`" if query else ""
        if not articles:
            return _text_reply(f"No stored articles{about} yet.", public=share)
        heading = f"*Latest {len(articles)} article{'s' if len(articles) != 1 else ''}*{about}"
        if share:
            heading += f" — shared by <@{invocation.user_id}>"
        return Reply(render_articles(articles, heading), public=share)

    async def _feeds_add(self, invocation: Invocation, args: str) -> Reply:
        url = args.split()[0] if args.split() else ""
        if not url:
            return self._usage("feeds add URL", "feeds add https://example.com/rss")
        feed = await self._core.add_feed(url, added_by=f"slack:{invocation.user_id}")
        name = f" ({escape_text(feed.name)})" if feed.name else ""
        minutes = max(1, round(feed.interval_seconds / 60))
        return _text_reply(
            f":white_check_mark: Feed #{feed.id}{name} added: {link(feed.url, feed.url)} "
            f"— polled about every {minutes} min."
        )

    async def _feeds_list(self, invocation: Invocation, args: str) -> Reply:
        return Reply(render_feed_list(await self._core.list_feeds()))

    async def _feeds_remove(self, invocation: Invocation, args: str) -> Reply:
        ref = args.strip().lstrip("#")
        if not ref:
            return self._usage("feeds remove ID", "feeds remove 4")
        feed = await self._core.remove_feed(ref)
        return _text_reply(f"Feed #{feed.id} removed: {link(feed.url, feed.url)}")

    async def _status(self, invocation: Invocation, args: str) -> Reply:
        report = await self._core.status(invocation.destination)
        return Reply(render_status(report, where="this channel"))

    async def _why(self, invocation: Invocation, args: str) -> Reply:
        url = args.split()[0] if args.split() else ""
        if not url:
            return self._usage("why URL", "why https://example.com/article")
        return Reply(render_why(await self._core.why(url)))


def invite_hint(bot_name: str) -> str:
    """What to tell a user when the bot cannot post in their channel."""
    return (
        f":warning: Saved — but I'm not a member of this channel, so alerts cannot arrive yet. "
        f"Type `/invite @{bot_name}` here (in a private channel: click the channel name → "
        "Integrations → Add apps). Alerts wait in the queue until then (up to the dead-letter "
        "limit, 6 hours by default; `status` shows any that gave up)."
    )
