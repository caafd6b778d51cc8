"""One handler per catalogue command: arguments in, neutral :class:`Reply` out.

``Commands.run`` never raises: a refusal, a bad query, an unknown watch, a feed that cannot
be fetched, even a bug, all become replies that say what went wrong and what to type
instead. Every surface gets the same words; only the rendering differs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from bot.core.api import Caller, CoreAPI, SubscribeResult
from bot.core.commands.catalogue import (
    CATALOGUE,
    COMMANDS,
    LATEST_DEFAULT,
    TEST_LIMIT,
    CommandSpec,
)
from bot.core.commands.reply import (
    Articles,
    Cmd,
    Code,
    Line,
    Native,
    Paragraph,
    Pre,
    Reply,
    Section,
    Span,
    Strong,
    Tone,
    UserRef,
    Visibility,
    When,
    plain_text,
    text_reply,
)
from bot.core.commands.textargs import UnknownCommandError, UsageError
from bot.core.controls import ControlError, Digest, WatchControls, describe, snoozed
from bot.core.errors import (
    DuplicateError,
    FeedError,
    NotFoundError,
    PermissionDeniedError,
    QuerySyntaxError,
    QuotaError,
    WirewatchError,
)
from bot.core.models import (
    DestinationState,
    FeedHealth,
    FeedInfo,
    StatusReport,
    WatchInfo,
)

log = logging.getLogger(__name__)

Handler = Callable[[Caller, Mapping[str, object]], Awaitable[Reply]]

QUERY_SHOWN = 200  # characters of a query shown in a reply


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def watch_ref(watch: WatchInfo) -> Line:
    """``#3 (minerals) "rare earth"``."""
    spans: list[Span] = [Code(f"#{watch.id}")]
    if watch.name:
        spans.append(f" ({watch.name})")
    spans += [" ", Code(shorten(watch.query, QUERY_SHOWN))]
    return tuple(spans)


def joined(lines: Sequence[Line], sep: str = ", ") -> Line:
    out: list[Span] = []
    for i, item in enumerate(lines):
        if i:
            out.append(sep)
        out.extend(item)
    return tuple(out)


def watch_line(watch: WatchInfo) -> Line:
    spans: list[Span] = [Code(f"#{watch.id}"), " "]
    if watch.name:
        spans += [Strong(watch.name), " "]
    spans += [Code(shorten(watch.query, QUERY_SHOWN))]
    spans.append(f" — {watch.hits} hit{'s' if watch.hits != 1 else ''}")
    if watch.last_hit_at is not None:
        spans += [", last ", When(watch.last_hit_at)]
    if watch.mention:
        spans.append(" · pings its group")
    if watch.owner is None:
        spans.append(" · default watch")
    return tuple(spans)


def feed_line(feed: FeedInfo) -> Line:
    mark = {FeedHealth.OK: "✅", FeedHealth.FAILING: "⚠️", FeedHealth.NEW: "🆕"}[feed.health]
    spans: list[Span] = [f"{mark} ", Code(f"#{feed.id}"), " "]
    if feed.name:
        spans.append(f"{feed.name} — ")
    spans.append(feed.url)
    spans.append(f" · every {max(1, round(feed.interval_seconds / 60))} min")
    if feed.source == "config":
        spans.append(" · operator's feed")
    if feed.health is FeedHealth.FAILING:
        spans += [
            " · failing since ",
            When(feed.error_since),
            f": {feed.last_error or 'unknown error'}",
        ]
    elif feed.last_success_at is not None:
        spans += [" · last read ", When(feed.last_success_at)]
    return tuple(spans)


class Commands:
    """Runs catalogue commands against the core."""

    def __init__(self, core: CoreAPI) -> None:
        self.core = core
        self._handlers: dict[str, Handler] = {
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
            "settings": self._settings,
            "digest": self._digest,
            "quiet": self._quiet,
            "snooze": self._snooze,
            "watch volume": self._watch_volume,
        }
        missing = {spec.name for spec in CATALOGUE} - set(self._handlers)
        assert not missing, f"catalogue commands without a handler: {missing}"

    def refusal(self, caller: Caller, spec: CommandSpec) -> Reply | None:
        """The refusal for a command this caller may not run here, or None."""
        if spec.mutating and not caller.can_manage:
            return text_reply(
                "⛔ Only ",
                Native(caller.managers),
                " can change this channel's alerts, watches and feeds. Everyone can use ",
                Cmd("latest"),
                ", ",
                Cmd("watch list"),
                ", ",
                Cmd("watch test"),
                ", ",
                Cmd("status"),
                " and ",
                Cmd("why"),
                ".",
                tone=Tone.ERROR,
            )
        return None

    async def run(self, caller: Caller, name: str, args: Mapping[str, object]) -> Reply:
        """Run one command. Never raises."""
        spec = COMMANDS[name]
        extra = {"command": name, "destination": caller.destination, "user": caller.user}
        try:
            refused = self.refusal(caller, spec)
            if refused is not None:
                log.info("command refused", extra=extra)
                return refused
            log.info("command", extra=extra)
            return await self._handlers[name](caller, args)
        except QuerySyntaxError as e:
            return query_error(e)
        except FeedError as e:
            return text_reply(f"⚠️ That feed can't be used: {e.reason}", tone=Tone.ERROR)
        except ControlError as e:
            return text_reply(f"⚠️ {e}. Example: ", Cmd(spec.name, spec.example), tone=Tone.ERROR)
        except NotFoundError as e:
            return text_reply(f"{e} — ", _list_hint(spec), " shows the ids.", tone=Tone.ERROR)
        except (PermissionDeniedError, DuplicateError, QuotaError) as e:
            return text_reply(f"⛔ {e}", tone=Tone.ERROR)
        except WirewatchError as e:
            log.warning("command failed", extra={**extra, "error": str(e)})
            return text_reply(f"⚠️ That did not work: {e}", tone=Tone.ERROR)
        except Exception:
            log.exception("command crashed", extra=extra)
            return text_reply(
                "⚠️ Something went wrong on Wirewatch's side; the details are in its log.",
                tone=Tone.ERROR,
            )

    # --- replies for text that did not make a command ----------------------------------

    @staticmethod
    def unknown(error: UnknownCommandError) -> Reply:
        return text_reply(
            "I don't know ",
            Code(error.word),
            ". ",
            Cmd("help"),
            " lists every command.",
            tone=Tone.ERROR,
        )

    @staticmethod
    def usage(error: UsageError) -> Reply:
        spec = error.spec
        spans: list[Span] = [f"{error.problem[:1].upper()}{error.problem[1:]}. Usage: "]
        spans.append(Cmd(spec.name, spec.usage))
        if spec.example:
            spans += [" — for example ", Cmd(spec.name, spec.example)]
        return text_reply(*spans, tone=Tone.ERROR)

    # --- the commands --------------------------------------------------------------------

    async def _help(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        lines: list[Line] = []
        for spec in CATALOGUE:
            if spec.name == "help":
                continue
            row: list[Span] = [Cmd(spec.name, spec.usage), f" — {spec.summary}"]
            if spec.example:
                row += [". e.g. ", Cmd(spec.name, spec.example)]
            lines.append(tuple(row))
        blocks = (
            Paragraph(
                (
                    Strong("Wirewatch"),
                    " posts news alerts when items in the watched feeds match a channel's queries.",
                )
            ),
            Section(("Commands",), tuple(lines)),
            Paragraph(
                (
                    'Queries: words, "quoted phrases", AND / OR / NOT (or -word), '
                    "parentheses, title: summary: source: fields and /regex/. Case and "
                    "accents don't matter. Changing a channel's alerts, watches and feeds is "
                    "for ",
                    Native(caller.managers),
                    ".",
                )
            ),
        )
        return Reply(summary="Wirewatch commands", blocks=blocks, title="Wirewatch")

    def _subscription_reply(self, caller: Caller, result: SubscribeResult, *, on: bool) -> Reply:
        state = "on" if on else "off"
        paragraphs: list[Line] = []
        if result.changed:
            paragraphs.append(
                (f"Alerts {state} here for ", *joined([watch_ref(w) for w in result.changed]), ".")
            )
        if result.unchanged:
            paragraphs.append(
                (f"Already {state}: ", *joined([watch_ref(w) for w in result.unchanged]), ".")
            )
        if result.unknown:
            names = joined([(Code(u),) for u in result.unknown])
            paragraphs.append(
                ("No watch called ", *names, " here — ", Cmd("watch list"), " shows the ids.")
            )
        if not paragraphs:
            paragraphs.append(
                (
                    "There are no default watches to subscribe to yet: add one with ",
                    Cmd("watch add", "QUERY"),
                    ".",
                )
                if on
                else ("This channel had no watches.",)
            )
        announce: Line | None = None
        if result.changed:
            who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
            announce = (
                *who,
                f" turned {state} Wirewatch alerts here: ",
                *joined([watch_ref(w) for w in result.changed]),
            )
        return Reply(
            summary=plain_text(paragraphs[0]),
            blocks=tuple(Paragraph(p) for p in paragraphs),
            tone=Tone.SUCCESS if result.changed else Tone.INFO,
            announce=announce,
            data={"changed": [w.id for w in result.changed]},
        )

    async def _subscribe(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        result = await self.core.subscribe(caller, _refs(args.get("watches")))
        return self._subscription_reply(caller, result, on=True)

    async def _unsubscribe(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        result = await self.core.unsubscribe(caller, _refs(args.get("watches")))
        return self._subscription_reply(caller, result, on=False)

    async def _watch_add(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch = await self.core.add_watch(
            caller,
            str(args["query"]),
            name=_opt_str(args.get("name")),
            mention=_opt_str(args.get("ping")),
        )
        ref = watch_ref(watch)
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        return Reply(
            summary=f"Watch #{watch.id} added",
            blocks=(
                Paragraph(
                    (
                        "✅ Watch ",
                        *ref,
                        " added: new matching stories will be posted in this channel. ",
                        Cmd("watch test", shorten(watch.query, QUERY_SHOWN)),
                        " shows what it would have matched.",
                    )
                ),
            ),
            tone=Tone.SUCCESS,
            announce=(*who, " added watch ", *ref, " to this channel."),
            data={"watch_id": watch.id},
        )

    async def _watch_list(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watches = await self.core.list_watches(caller)
        section = Section(
            (f"Watches in this channel ({len(watches)})",),
            tuple(watch_line(w) for w in watches),
            empty=(
                "No watches post here yet: ",
                Cmd("watch add", "QUERY"),
                ", or ",
                Cmd("subscribe"),
                " to the default ones.",
            ),
        )
        return Reply(
            summary=f"{len(watches)} watches in this channel",
            blocks=(section,),
            data={"watch_ids": [w.id for w in watches]},
        )

    async def _watch_remove(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch = await self.core.remove_watch(caller, str(args["watch"]))
        ref = watch_ref(watch)
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        return Reply(
            summary=f"Watch #{watch.id} removed from this channel",
            blocks=(Paragraph(("Watch ", *ref, " no longer posts in this channel.")),),
            tone=Tone.SUCCESS,
            announce=(*who, " removed watch ", *ref, " from this channel."),
            data={"watch_id": watch.id},
        )

    async def _watch_test(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        query = str(args["query"])
        articles = await self.core.test_query(caller, query, limit=TEST_LIMIT)
        shown = Code(shorten(query, QUERY_SHOWN))
        if not articles:
            return text_reply("No stored recent article matches ", shown, ".")
        count = f"{len(articles)} recent article{'s' if len(articles) != 1 else ''}"
        return Reply(
            summary=f"{count} match",
            blocks=(Paragraph((shown, f" would have matched {count}:")), Articles(tuple(articles))),
            data={"urls": [a.url for a in articles]},
        )

    async def _latest(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        query = _opt_str(args.get("query"))
        limit = int(str(args.get("count") or LATEST_DEFAULT))
        share = bool(args.get("share"))
        articles = await self.core.latest(caller, query, limit=limit)
        visibility = Visibility.CHANNEL if share else Visibility.PRIVATE
        about: Line = (" matching ", Code(shorten(query, QUERY_SHOWN))) if query else ()
        if not articles:
            reply = text_reply("No stored articles", *about, " yet.")
            return Reply(reply.summary, reply.blocks, visibility=visibility)
        heading: list[Span] = [
            Strong(f"Latest {len(articles)} article{'s' if len(articles) != 1 else ''}"),
            *about,
        ]
        if share and caller.user:
            heading += [" — shared by ", UserRef(_user_id(caller))]
        return Reply(
            summary=plain_text(tuple(heading)),
            blocks=(Paragraph(tuple(heading)), Articles(tuple(articles))),
            visibility=visibility,
            data={"urls": [a.url for a in articles]},
        )

    async def _feeds_add(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        feed = await self.core.add_feed(caller, str(args["url"]), name=_opt_str(args.get("name")))
        label = f" ({feed.name})" if feed.name else ""
        minutes = max(1, round(feed.interval_seconds / 60))
        return Reply(
            summary=f"Feed #{feed.id} added",
            blocks=(
                Paragraph(
                    (
                        "✅ Feed ",
                        Code(f"#{feed.id}"),
                        f"{label} added: {feed.url} — read about every {minutes} min; its "
                        "matching items reach this workspace's channels only.",
                    )
                ),
            ),
            tone=Tone.SUCCESS,
            data={"feed_id": feed.id},
        )

    async def _feeds_list(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        feeds = await self.core.list_feeds(caller)
        failing = sum(1 for f in feeds if f.health is FeedHealth.FAILING)
        section = Section(
            (f"Feeds ({len(feeds)}, {failing} failing)",),
            tuple(feed_line(f) for f in feeds),
            empty=("No feeds yet: add one with ", Cmd("feeds add", "URL"), "."),
        )
        return Reply(
            summary=f"{len(feeds)} feeds, {failing} failing",
            blocks=(section,),
            tone=Tone.WARNING if failing else Tone.INFO,
            data={"feed_ids": [f.id for f in feeds]},
        )

    async def _feeds_remove(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        feed = await self.core.remove_feed(caller, str(args["feed"]))
        return text_reply("Feed ", Code(f"#{feed.id}"), f" removed: {feed.url}", tone=Tone.SUCCESS)

    # --- channel controls ----------------------------------------------------------------

    async def _settings(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        report = await self.core.channel_settings(caller)
        lines = tuple((text,) for text in describe(report.controls, report.now))
        volumes = tuple(
            (*watch_ref(w), " — ", _volume_text(v, report.now)) for w, v in report.watches
        )
        return Reply(
            summary="This channel's settings",
            blocks=(
                Section(("This channel",), lines),
                Section(
                    ("Watches here",),
                    volumes,
                    empty=("No watches post here yet: ", Cmd("watch add", "QUERY"), "."),
                ),
                Paragraph(
                    (
                        "Change them with ",
                        Cmd("digest", "daily 08:00 Europe/London"),
                        ", ",
                        Cmd("quiet", "22:00-07:00"),
                        ", ",
                        Cmd("snooze", "channel 2h"),
                        " and ",
                        Cmd("watch volume", "WATCH --per-hour 5"),
                        ".",
                    )
                ),
            ),
        )

    def _changed(self, caller: Caller, summary: str, what: Line) -> Reply:
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        return Reply(
            summary=summary,
            blocks=(Paragraph(("✅ ", *what)),),
            tone=Tone.SUCCESS,
            announce=(*who, " changed this channel's alerts: ", *what),
        )

    async def _digest(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        controls = await self.core.set_digest(
            caller, str(args["mode"]), _opt_str(args.get("at")), _opt_str(args.get("tz"))
        )
        if controls.digest is Digest.REALTIME:
            what: Line = ("Stories are posted here as they break.",)
        elif controls.digest is Digest.HOURLY:
            what = ("Stories are collected into one digest every hour, on the hour.",)
        else:
            when = f"{controls.digest_at:%H:%M}" if controls.digest_at else "?"
            what = (f"Stories are collected into one digest daily at {when} {controls.digest_tz}.",)
        return self._changed(caller, f"Digest: {controls.digest}", what)

    async def _quiet(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        controls = await self.core.set_quiet(caller, str(args["hours"]), _opt_str(args.get("tz")))
        if not controls.quiet or controls.quiet_start is None or controls.quiet_end is None:
            return self._changed(caller, "Quiet hours off", ("Quiet hours are off.",))
        span = f"{controls.quiet_start:%H:%M}-{controls.quiet_end:%H:%M} {controls.quiet_tz}"
        return self._changed(
            caller,
            f"Quiet hours {span}",
            (f"Quiet hours {span}: alerts are held, then sent as one summary when they end.",),
        )

    async def _snooze(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch, until = await self.core.snooze(caller, str(args["target"]), str(args["duration"]))
        subject: Line = ("This channel",) if watch is None else ("Watch ", *watch_ref(watch))
        if until is None:
            return self._changed(caller, "Snooze ended", (*subject, " is no longer snoozed."))
        return self._changed(
            caller,
            "Snoozed",
            (*subject, " is snoozed until ", *_until_text(until), "; a summary follows."),
        )

    async def _watch_volume(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        per_hour = args.get("per-hour")
        min_outlets = args.get("min-outlets")
        watch, controls = await self.core.set_volume(
            caller,
            str(args["watch"]),
            per_hour=int(str(per_hour)) if per_hour is not None else None,
            min_outlets=int(str(min_outlets)) if min_outlets is not None else None,
        )
        return self._changed(
            caller,
            f"Watch #{watch.id} volume",
            (
                "Watch ",
                *watch_ref(watch),
                " here: ",
                _volume_text(controls, None),
                ".",
            ),
        )

    async def _status(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        return status_reply(await self.core.status(caller), caller.destination)

    async def _why(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        report = await self.core.why(caller, str(args["url"]))
        return Reply(
            summary=report.lines[0] if report.lines else "No record of it.",
            blocks=(Section((f"Why: {report.url}",), tuple((ln,) for ln in report.lines)),),
            tone=Tone.INFO if report.found else Tone.WARNING,
        )


def _volume_text(controls: WatchControls, now: datetime | None) -> str:
    parts = []
    if controls.max_per_hour:
        parts.append(f"at most {controls.max_per_hour}/hour")
    if controls.min_outlets:
        parts.append(f"only stories with {controls.min_outlets}+ outlets")
    if now and snoozed(controls.snoozed_until, now) and controls.snoozed_until is not None:
        parts.append(f"snoozed until {controls.snoozed_until:%Y-%m-%d %H:%M} UTC")
    return "; ".join(parts) or "every story, as it breaks"


def _until_text(until: datetime | None) -> Line:
    return (When(until),) if until is not None else ("now",)


def status_reply(report: StatusReport, destination: str) -> Reply:
    feeds = report.feeds
    failing = report.failing_feeds
    counts = {h: sum(1 for f in feeds if f.health is h) for h in FeedHealth}
    lines: list[Line] = [
        (
            Strong("Feeds: "),
            f"{counts[FeedHealth.OK]} ok · {counts[FeedHealth.FAILING]} failing · "
            f"{counts[FeedHealth.NEW]} new · last poll ",
            When(report.last_poll_at),
        ),
    ]
    outbox: list[Span] = [Strong("Delivery: "), f"{report.outbox_depth} waiting"]
    if report.oldest_pending_at is not None:
        outbox += [", oldest from ", When(report.oldest_pending_at)]
    outbox.append(f" · {report.dead_letters} dead letters")
    lines.append(tuple(outbox))
    here = next((d for d in report.destinations if d.destination == destination), None)
    if here is not None and here.state is DestinationState.FAILING:
        lines.append(
            (
                Strong("This channel: "),
                "⚠️ failing since ",
                When(here.failing_since),
                f": {here.last_error or 'unknown error'} · {here.pending} alerts waiting",
            )
        )
    others = [
        d
        for d in report.destinations
        if d.state is DestinationState.FAILING and d.destination != destination
    ]
    if others:
        lines.append((Strong("Other failing channels: "), str(len(others))))
    blocks: list[Section] = [Section(("Wirewatch status",), tuple(lines))]
    if failing:
        blocks.append(
            Section((f"Failing feeds ({len(failing)})",), tuple(feed_line(f) for f in failing))
        )
    blocks.append(
        Section(
            ("Watches in this channel",),
            tuple(watch_line(w) for w in report.subscriptions),
            empty=("none — ", Cmd("subscribe"), " or ", Cmd("watch add", "QUERY")),
        )
    )
    healthy = not failing and report.dead_letters == 0
    return Reply(
        summary="Wirewatch status",
        blocks=tuple(blocks),
        tone=Tone.INFO if healthy else Tone.WARNING,
    )


def query_error(error: QuerySyntaxError) -> Reply:
    return Reply(
        summary=f"That query does not parse: {error.message}",
        blocks=(
            Paragraph(
                (
                    f"⚠️ That query does not parse: {error.message} "
                    f"(at position {error.position + 1}).",
                )
            ),
            Pre(error.pointer()),
            Paragraph(
                (
                    "Queries look like ",
                    Code('"rare earth" AND (lithium OR cobalt) NOT battery'),
                    ".",
                )
            ),
        ),
        tone=Tone.ERROR,
    )


def _list_hint(spec: CommandSpec) -> Cmd:
    return Cmd("feeds list") if spec.name.startswith("feeds") else Cmd("watch list")


def _refs(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p for p in value.replace(",", " ").split() if p)
    assert isinstance(value, tuple | list)
    return tuple(str(v) for v in value)


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _user_id(caller: Caller) -> str:
    """The platform-native id inside ``caller.user`` ("slack:U1" -> "U1")."""
    assert caller.user is not None
    return caller.user.partition(":")[2] or caller.user
