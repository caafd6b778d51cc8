"""Every chat command once: name, parameters, help, example, and how it may run.

The catalogue is data. Slack's text parser (:mod:`bot.core.commands.textargs`) and
Discord's app_commands builder read it; ``help`` is generated from it; the contract
tests walk it. A command named ``"watch add"`` is the subcommand ``add`` of the group
``watch`` (``/wirewatch watch add …`` on Slack, ``/watch add`` on Discord).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    WORD = "word"  # one word
    TEXT = "text"  # the rest of the text as typed (a query keeps its quotes)
    INT = "int"
    FLAG = "flag"  # on/off: a bare keyword on Slack (``share``), a boolean on Discord
    WATCH = "watch"  # one watch: id ("7", "#7") or name
    WATCHES = "watches"  # zero or more watches
    FEED = "feed"  # one feed: id or URL
    URL = "url"
    # Words of a story's headline, the rest of the text as typed (Discord suggests the
    # channel's recent stories as they are typed).
    STORY = "story"
    MENTION = "mention"  # who an alert pings: a Slack user group, a Discord role
    CHOICE = "choice"
    # A file attached to the command: Discord's attachment option. Slack slash commands
    # carry no files, so there the same command takes a URL to the file instead.
    FILE = "file"


@dataclass(frozen=True, slots=True)
class FileIn:
    """A file a user attached to a command (read by the adapter, size-capped)."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    help: str
    required: bool = False
    # Slack: an option is typed ``--name VALUE`` anywhere in the text; the others are
    # positional in the order given. Discord: every parameter is a named option.
    option: bool = False
    choices: tuple[str, ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None  # characters; bytes for a FILE
    default: int | str | bool | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    usage: str  # the arguments as typed on Slack, after the command name
    example: str  # arguments of a working example
    params: tuple[Param, ...] = ()
    # Changes what a channel receives: only its managers (``Caller.can_manage``).
    mutating: bool = False
    # May take longer than a platform's acknowledgement window (3 s): answer later.
    slow: bool = False
    aliases: tuple[str, ...] = ()
    # The answer is for the whole channel (a chart, a file): a deferred answer is public.
    public: bool = False
    # Behind an alert's button only: not in help, not a Discord slash command (Slack still
    # parses it, which is how its buttons run it).
    hidden: bool = False
    # Also works in a direct message with the bot, on the person's own DM alerts (their
    # digest, quiet hours, snooze): a DM is theirs to manage.
    in_dm: bool = False
    # Acts on the caller's own watches (delivered to them by DM), wherever it is typed: its
    # WATCH is one of those, never one of the channel's.
    personal: bool = False

    @property
    def group(self) -> str | None:
        head, _, tail = self.name.partition(" ")
        return head if tail else None

    @property
    def leaf(self) -> str:
        return self.name.rpartition(" ")[2]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


QUERY_MAX = 1000
NAME_MAX = 80
URL_MAX = 2000
LATEST_MAX = 10
LATEST_DEFAULT = 5
TEST_LIMIT = 10
BACKFILL_MAX = 50
IMPORT_MAX_BYTES = 1024 * 1024  # an OPML file, attached or fetched
TREND_DAYS_MAX = 90
TREND_DAYS_DEFAULT = 14

_QUERY = Param(
    "query",
    Kind.TEXT,
    'What to watch for, e.g. "rare earth" AND (export OR ban)',
    required=True,
    max_length=QUERY_MAX,
)
_NAME = Param("name", Kind.WORD, "A short name for the watch", option=True, max_length=NAME_MAX)
_PING = Param("ping", Kind.MENTION, "Who every alert of this watch pings", option=True)
# A bare word on Slack ("watch add tariffs google-news"), a True/False option on Discord.
_GOOGLE_NEWS = Param(
    "google-news",
    Kind.FLAG,
    "Also search Google News for the query (one of this workspace's feeds)",
    default=False,
)


CATALOGUE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "help",
        "what Wirewatch does and every command",
        "",
        "",
    ),
    CommandSpec(
        "subscribe",
        "start alerts in this channel: the default watches, or the ones named",
        "[WATCH…]",
        "3",
        (Param("watches", Kind.WATCHES, "Watches to turn on (empty: every default watch)"),),
        mutating=True,
    ),
    CommandSpec(
        "unsubscribe",
        "stop alerts in this channel: all of them, or the ones named",
        "[WATCH…]",
        "3",
        (Param("watches", Kind.WATCHES, "Watches to turn off (empty: all of them)"),),
        mutating=True,
        aliases=("mute",),
    ),
    CommandSpec(
        "watch add",
        "a new watch whose matching news is posted in this channel",
        "QUERY [--name NAME] [--ping GROUP] [google-news]",
        '"rare earth" AND (lithium OR cobalt) --name minerals google-news',
        (_QUERY, _NAME, _PING, _GOOGLE_NEWS),
        mutating=True,
        aliases=("watch new",),
    ),
    CommandSpec(
        "watch edit",
        "change a watch of this channel: its query, name, ping or Google News search",
        "WATCH [QUERY] [--name NAME] [--ping GROUP] [no-ping] [google-news|no-google-news]",
        '3 "rare earth" AND (magnet OR export) --name magnets',
        (
            Param("watch", Kind.WATCH, "The watch (its #id or name)", required=True),
            Param("query", Kind.TEXT, "Its new query", max_length=QUERY_MAX),
            _NAME,
            Param("ping", Kind.MENTION, "Who its alerts ping from now on", option=True),
            Param("no-ping", Kind.FLAG, "Its alerts ping nobody", default=False),
            # No default: on Discord, False turns the search off; left out, it stays.
            Param(
                "google-news",
                Kind.FLAG,
                "Search Google News for its query (True), or stop (False)",
            ),
            Param("no-google-news", Kind.FLAG, "Stop searching Google News for it"),
        ),
        mutating=True,
        aliases=("watch rename", "watch ping"),
    ),
    CommandSpec(
        "watch list",
        "this channel's watches with ids, hits and last hit",
        "",
        "",
        aliases=("watch ls", "watch", "watches"),
    ),
    CommandSpec(
        "watch remove",
        "stop a watch posting in this channel",
        "WATCH",
        "7",
        (Param("watch", Kind.WATCH, "The watch (its #id or name)", required=True),),
        mutating=True,
        aliases=("watch rm", "watch delete", "watch del"),
    ),
    CommandSpec(
        "watch test",
        "the recent stories a query would have matched",
        "QUERY",
        "lithium NOT battery",
        (Param("query", Kind.TEXT, "The query to try", required=True, max_length=QUERY_MAX),),
        slow=True,
    ),
    CommandSpec(
        "latest",
        "the newest stories, a line each (only you see them unless `share`)",
        "[QUERY] [N] [share]",
        "lithium 10",
        (
            Param(
                "query",
                Kind.TEXT,
                "Only stories with an article matching this query",
                max_length=QUERY_MAX,
            ),
            Param(
                "count",
                Kind.INT,
                f"How many (1-{LATEST_MAX}, default {LATEST_DEFAULT})",
                min_value=1,
                max_value=LATEST_MAX,
                default=LATEST_DEFAULT,
            ),
            Param("share", Kind.FLAG, "Post the answer in the channel", default=False),
        ),
        slow=True,
    ),
    CommandSpec(
        "feeds add",
        "add a feed for this workspace (it is fetched once to check it)",
        "URL [--name NAME]",
        "https://example.com/rss",
        (
            Param(
                "url",
                Kind.URL,
                "The feed's address (http or https)",
                required=True,
                max_length=URL_MAX,
            ),
            Param("name", Kind.WORD, "A display name", option=True, max_length=NAME_MAX),
        ),
        mutating=True,
        slow=True,
        aliases=("feed add",),
    ),
    CommandSpec(
        "feeds list",
        "the feeds read for this workspace, with their health",
        "",
        "",
        aliases=("feeds", "feed list", "feeds ls", "feed"),
    ),
    CommandSpec(
        "feeds remove",
        "stop reading a feed this workspace added",
        "FEED",
        "4",
        (Param("feed", Kind.FEED, "The feed (its #id or URL)", required=True),),
        mutating=True,
        aliases=("feed remove", "feeds rm", "feed rm", "feeds delete"),
    ),
    CommandSpec(
        "feeds export",
        "an OPML file of the feeds this workspace reads, posted in this channel",
        "",
        "",
        aliases=("feed export",),
        slow=True,
        public=True,
    ),
    CommandSpec(
        "feeds import",
        "add every feed of an OPML file (Slack: a URL to the file; Discord: a URL or an "
        "attached file)",
        "URL",
        "https://example.com/subscriptions.opml",
        (
            Param(
                "url",
                Kind.URL,
                "Where the OPML file is (http or https)",
                max_length=URL_MAX,
            ),
            Param("file", Kind.FILE, "The OPML file (Discord only)", max_length=IMPORT_MAX_BYTES),
        ),
        mutating=True,
        slow=True,
        aliases=("feed import",),
    ),
    CommandSpec(
        "backfill",
        "post this channel's latest matching stories now (never one it already had)",
        "[N]",
        "10",
        (
            Param(
                "count",
                Kind.INT,
                f"How many stories (1-{BACKFILL_MAX}, default 10)",
                min_value=1,
                max_value=BACKFILL_MAX,
                default=10,
            ),
        ),
        mutating=True,
        slow=True,
    ),
    CommandSpec(
        "trend",
        "a chart of a watch's matching stories per day and its top sources",
        "WATCH [DAYS]",
        "lithium 30",
        (
            Param("watch", Kind.WATCH, "The watch (its #id or name)", required=True),
            Param(
                "days",
                Kind.INT,
                f"How many days back (1-{TREND_DAYS_MAX}, default {TREND_DAYS_DEFAULT})",
                min_value=1,
                max_value=TREND_DAYS_MAX,
                default=TREND_DAYS_DEFAULT,
            ),
        ),
        slow=True,
        public=True,
    ),
    CommandSpec(
        "status",
        "failing feeds, queue, dead letters, last poll, this channel's watches",
        "",
        "",
    ),
    CommandSpec(
        "why",
        "what happened to one article: fetched, matched, delivered",
        "URL",
        "https://example.com/article",
        (Param("url", Kind.URL, "The article's address", required=True, max_length=URL_MAX),),
        slow=True,
    ),
)

# Channel controls (bot.core.controls): volume and shape of what a channel receives.
_TZ = Param("tz", Kind.WORD, "IANA time zone, e.g. Europe/London (default UTC)", max_length=64)
CATALOGUE += (
    CommandSpec(
        "settings",
        "this channel's digest, quiet hours, snoozes and each watch's volume",
        "",
        "",
        aliases=("controls",),
        in_dm=True,
    ),
    CommandSpec(
        "digest",
        "alerts as they break (realtime), or a digest hourly or daily at HH:MM",
        "realtime|hourly|daily [HH:MM] [TZ]",
        "daily 08:00 Europe/London",
        (
            Param(
                "mode",
                Kind.CHOICE,
                "realtime, hourly or daily",
                required=True,
                choices=("realtime", "hourly", "daily"),
            ),
            # Up to a zone's length: on one line of text an hourly digest's zone is here.
            Param("at", Kind.WORD, "Daily digests: the time, HH:MM", max_length=64),
            _TZ,
        ),
        mutating=True,
        in_dm=True,
    ),
    CommandSpec(
        "quiet",
        "quiet hours: hold alerts, then one summary when they end",
        "HH:MM-HH:MM [TZ] | off",
        "22:00-07:00 America/New_York",
        (
            Param(
                "hours",
                Kind.WORD,
                "HH:MM-HH:MM (may cross midnight), or off",
                required=True,
                max_length=16,
            ),
            _TZ,
        ),
        mutating=True,
        in_dm=True,
    ),
    CommandSpec(
        "snooze",
        "pause the channel or one watch for a while; a summary follows",
        "channel|WATCH DURATION",
        "channel 2h",
        (
            Param(
                "target",
                Kind.WORD,
                "channel, or a watch (its #id or name)",
                required=True,
                max_length=NAME_MAX,
            ),
            Param(
                "duration",
                Kind.TEXT,
                "2h, 30m, 1d, until monday, until 08:00, or off",
                required=True,
                max_length=40,
            ),
        ),
        mutating=True,
        in_dm=True,
    ),
    CommandSpec(
        "watch volume",
        "cap a watch's alerts per hour here, or alert only when enough outlets carry a story",
        "WATCH [--per-hour N] [--min-outlets K]",
        "3 --per-hour 5 --min-outlets 2",
        (
            Param("watch", Kind.WATCH, "The watch (its #id or name)", required=True),
            Param(
                "per-hour",
                Kind.INT,
                "At most this many alerts an hour; the rest go to the next summary (0: no cap)",
                option=True,
                min_value=0,
                max_value=100,
            ),
            Param(
                "min-outlets",
                Kind.INT,
                "Alert only once this many outlets carry the story (0 or 1: at once)",
                option=True,
                min_value=0,
                max_value=20,
            ),
        ),
        mutating=True,
        aliases=("watch limit",),
        in_dm=True,
    ),
)

CATALOGUE += (
    CommandSpec(
        "updates",
        "how a story's new outlets and changed headline reach this channel",
        "edit|thread",
        "thread",
        (
            Param(
                "mode",
                Kind.CHOICE,
                "edit the story's message, or reply in its thread",
                required=True,
                choices=("edit", "thread"),
            ),
        ),
        mutating=True,
        in_dm=True,
    ),
    CommandSpec(
        "template set",
        "shape the first line of this channel's alerts (fields in `template show`)",
        "TEXT | default",
        "{{ source | upper }}: {{ title }} ({{ outlets }} outlets)",
        (
            Param(
                "text",
                Kind.TEXT,
                "e.g. {{ source }}: {{ title }} — or default",
                required=True,
                max_length=500,
            ),
        ),
        mutating=True,
        in_dm=True,
    ),
    CommandSpec(
        "template show",
        "this channel's alert template and the fields a template may use",
        "",
        "",
        in_dm=True,
    ),
)

# Personal watches: anyone may keep their own, delivered to them by direct message.
CATALOGUE += (
    CommandSpec(
        "dm add",
        "a watch of your own: its alerts come to you by direct message",
        "QUERY [--name NAME]",
        '"export controls" AND gallium --name gallium',
        (_QUERY, _NAME),
        personal=True,
    ),
    CommandSpec("dm list", "your own watches (delivered by direct message)", "", "", personal=True),
    CommandSpec(
        "dm remove",
        "stop one of your own watches",
        "WATCH",
        "gallium",
        (Param("watch", Kind.WATCH, "Your watch (its #id or name)", required=True),),
        aliases=("dm rm",),
        personal=True,
    ),
)

# What an alert's buttons run (bot.core.controls; "Pause watch 24h" is ``snooze``).
_ALERT = Param("alert", Kind.WORD, "The alert (from its button)", required=True, max_length=20)
STORY_WORDS_MAX = 300
CATALOGUE += (
    CommandSpec(
        "story mute",
        "no more alerts or updates of one story in this channel, named by its headline",
        "HEADLINE WORDS",
        "vietnam rare earth refinery",
        (
            Param(
                "story",
                Kind.STORY,
                "Words of the story's headline, as its alert shows it",
                required=True,
                max_length=STORY_WORDS_MAX,
            ),
        ),
        mutating=True,
        in_dm=True,  # typed in the DM: a personal alert's story
    ),
    CommandSpec(
        "not-relevant",
        "mark an alert's story as not what its watch is for",
        "ALERT",
        "42",
        (_ALERT,),
        hidden=True,
        in_dm=True,
    ),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in CATALOGUE}


def lookup(name: str) -> CommandSpec | None:
    """The command called ``name`` (or one of its aliases)."""
    spec = COMMANDS.get(name)
    if spec is not None:
        return spec
    for spec in CATALOGUE:
        if name in spec.aliases:
            return spec
    return None


def groups() -> dict[str, list[CommandSpec]]:
    """Grouped commands by group name (``watch`` -> add, list, remove, test)."""
    out: dict[str, list[CommandSpec]] = {}
    for spec in CATALOGUE:
        if spec.group:
            out.setdefault(spec.group, []).append(spec)
    return out


def button_args(command: str, value: str) -> dict[str, object]:
    """An alert button's value as the arguments of the catalogue command it runs (both
    platforms put the alert id, or the watch id, in the button). ``story mute`` from a
    button or a listing's menu names its story by alert id, which no typed text can."""
    if command == "unsubscribe":
        return {"watches": (value,)}  # "Mute this watch here"
    if command == "snooze":
        return {"target": value, "duration": "24h"}  # "Pause watch 24h"
    return {"alert": value}
