"""One handler per catalogue command: arguments in, neutral :class:`Reply` out.

``Commands.run`` never raises: a refusal, a bad query, an unknown watch, a feed that cannot
be fetched, even a bug, all become replies that say what went wrong and what to type
instead. Every surface gets the same words; only the rendering differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from bot.core.api import Caller, CoreAPI, SubscribeResult
from bot.core.commands.catalogue import (
    CATALOGUE,
    COMMANDS,
    LATEST_DEFAULT,
    TEST_LIMIT,
    TREND_DAYS_DEFAULT,
    CommandSpec,
    FileIn,
)
from bot.core.commands.reply import (
    Articles,
    Cmd,
    Code,
    FileOut,
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
    UnsearchableQueryError,
    WirewatchError,
)
from bot.core.models import (
    ArticleSearch,
    DestinationState,
    FeedHealth,
    FeedInfo,
    StatusReport,
    WatchInfo,
)
from bot.core.opml import OpmlFeed, render_opml
from bot.core.query import parse_query
from bot.core.search_feeds import google_news_query
from bot.core.templates import FIELDS, TemplateError
from bot.core.trend import TrendData, render_trend_png

log = logging.getLogger(__name__)

Handler = Callable[[Caller, Mapping[str, object]], Awaitable[Reply]]

QUERY_SHOWN = 200  # characters of a query shown in a reply
STORY_CHOICES_SHOWN = 10  # stories listed when words of a headline match several


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
    if watch.not_relevant:
        marked = min(watch.not_relevant, watch.hits) if watch.hits else watch.not_relevant
        precision = 100 * (watch.hits - marked) // watch.hits if watch.hits else 0
        spans.append(f" · precision {precision}% ({marked} marked not relevant)")
    if watch.mention:
        spans.append(" · pings its group")
    if watch.google_news:
        spans.append(" · searches Google News")
    if watch.owner is None:
        spans.append(" · default watch")
    return tuple(spans)


def feed_line(feed: FeedInfo) -> Line:
    mark = {
        FeedHealth.OK: "✅",
        FeedHealth.RETRYING: "🔁",
        FeedHealth.FAILING: "⚠️",
        FeedHealth.NEW: "🆕",
    }[feed.health]
    spans: list[Span] = [f"{mark} ", Code(f"#{feed.id}"), " "]
    if feed.name:
        spans.append(f"{feed.name} — ")
    spans.append(feed.url)
    spans.append(f" · every {max(1, round(feed.interval_seconds / 60))} min")
    if feed.moved_to:
        spans.append(f" · moved to {feed.moved_to}")
    if feed.source == "config":
        spans.append(" · operator's feed")
    if feed.health in (FeedHealth.FAILING, FeedHealth.RETRYING):
        spans += [
            " · failing since " if feed.health is FeedHealth.FAILING else " · retrying, failed ",
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
            "feeds export": self._feeds_export,
            "feeds import": self._feeds_import,
            "backfill": self._backfill,
            "trend": self._trend,
            "status": self._status,
            "why": self._why,
            "settings": self._settings,
            "digest": self._digest,
            "quiet": self._quiet,
            "snooze": self._snooze,
            "watch volume": self._watch_volume,
            "watch edit": self._watch_edit,
            "updates": self._updates,
            "template set": self._template_set,
            "template show": self._template_show,
            "dm add": self._dm_add,
            "dm list": self._dm_list,
            "dm remove": self._dm_remove,
            "story mute": self._story_mute,
            "not-relevant": self._not_relevant,
        }
        missing = {spec.name for spec in CATALOGUE} - set(self._handlers)
        assert not missing, f"catalogue commands without a handler: {missing}"

    def refusal(self, caller: Caller, spec: CommandSpec) -> Reply | None:
        """The refusal for a command this caller may not run here, or None."""
        if spec.mutating and caller.direct and not spec.in_dm:
            # A direct message has no channel's alerts to change: say what works there
            # (a manager's `subscribe` in a DM was taken as a channel, anyone else was told
            # only to ask a manager).
            return text_reply(
                "This command changes what a channel receives: run it in a channel. Here, in "
                "a direct message, ",
                Cmd("dm add", "QUERY"),
                " keeps a watch of your own, delivered to you.",
                tone=Tone.ERROR,
            )
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
        except UnsearchableQueryError as e:
            return unsearchable_reply(e, spec)
        except FeedError as e:
            return text_reply(f"⚠️ That feed can't be used: {e.reason}", tone=Tone.ERROR)
        except (ControlError, TemplateError) as e:
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
            if spec.name == "help" or spec.hidden:
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
            google_news=bool(args.get("google-news")),
        )
        ref = watch_ref(watch)
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        searching = " It also searches Google News." if watch.google_news else ""
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
                *_search_note(watch),
            ),
            tone=Tone.SUCCESS,
            announce=(*who, " added watch ", *ref, f" to this channel.{searching}"),
            data={"watch_id": watch.id},
        )

    async def _watch_edit(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        search_on, search_off = args.get("google-news"), args.get("no-google-news")
        if search_on and search_off:
            return text_reply(
                "Say ",
                Code("google-news"),
                " or ",
                Code("no-google-news"),
                ", not both.",
                tone=Tone.ERROR,
            )
        if (
            not any(args.get(k) is not None for k in ("query", "name", "ping", "google-news"))
            and not args.get("no-ping")
            and not search_off
        ):
            return text_reply(
                "Say what to change: a new query, ",
                Code("--name NAME"),
                ", ",
                Code("--ping GROUP"),
                ", ",
                Code("no-ping"),
                ", ",
                Code("google-news"),
                " or ",
                Code("no-google-news"),
                ". e.g. ",
                Cmd("watch edit", COMMANDS["watch edit"].example),
                tone=Tone.ERROR,
            )
        ping = _opt_str(args.get("ping"))
        name = _opt_str(args.get("name"))
        watch = await self.core.edit_watch(
            caller,
            str(args["watch"]),
            query=_opt_str(args.get("query")),
            name=("" if name.lower() == "none" else name) if name is not None else None,
            mention="" if args.get("no-ping") else ping,
            google_news=False if search_off else None if search_on is None else bool(search_on),
        )
        ref = watch_ref(watch)
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        pings = " It pings its group." if watch.mention else ""
        asked_off = search_off or search_on is False
        stopped = " It does not search Google News." if asked_off else ""
        return Reply(
            summary=f"Watch #{watch.id} changed",
            blocks=(
                Paragraph(("✏️ Watch ", *ref, f" changed.{pings}{stopped}")),
                *(_search_note(watch) if watch.google_news else ()),
            ),
            tone=Tone.SUCCESS,
            announce=(*who, " changed watch ", *ref, " in this channel."),
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
        found = await self.core.test_query(caller, query, limit=TEST_LIMIT)
        articles = found.articles
        shown = Code(shorten(query, QUERY_SHOWN))
        if not articles:
            if found.searched_back_to is not None:
                return text_reply("No article matches ", shown, *_unsearched(found, " among "))
            return text_reply("No stored recent article matches ", shown, ".")
        count = f"{len(articles)} recent stor{'ies' if len(articles) != 1 else 'y'}"
        return Reply(
            summary=f"{count} match",
            blocks=(
                Paragraph((shown, f" would have matched {count}:")),
                Articles(articles),
                *_searched_back(found),
            ),
            data={"urls": [a.url for a in articles]},
        )

    async def _latest(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        query = _opt_str(args.get("query"))
        limit = int(str(args.get("count") or LATEST_DEFAULT))
        share = bool(args.get("share"))
        found = await self.core.latest(caller, query, limit=limit)
        articles = found.articles
        visibility = Visibility.CHANNEL if share else Visibility.PRIVATE
        about: Line = (" matching ", Code(shorten(query, QUERY_SHOWN))) if query else ()
        if not articles:
            if found.searched_back_to is not None:
                reply = text_reply("No article", *about, *_unsearched(found, " among "))
            else:
                reply = text_reply("No stored articles", *about, " yet.")
            return Reply(reply.summary, reply.blocks, visibility=visibility)
        heading: list[Span] = [
            Strong(f"Latest {len(articles)} stor{'ies' if len(articles) != 1 else 'y'}"),
            *about,
        ]
        if share and caller.user:
            heading += [" — shared by ", UserRef(_user_id(caller))]
        return Reply(
            summary=plain_text(tuple(heading)),
            blocks=(Paragraph(tuple(heading)), Articles(articles), *_searched_back(found)),
            visibility=visibility,
            data={"urls": [a.url for a in articles]},
        )

    async def _feeds_add(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        typed = str(args["url"]).strip().strip("<>")
        feed = await self.core.add_feed(caller, typed, name=_opt_str(args.get("name")))
        label = f" ({feed.name})" if feed.name else ""
        minutes = max(1, round(feed.interval_seconds / 60))
        found: tuple[Paragraph, ...] = ()
        if feed.url != typed:
            found = (Paragraph((f"🔎 {typed} is a web page; the feed it names is {feed.url}.",)),)
        return Reply(
            summary=f"Feed #{feed.id} added",
            blocks=(
                *found,
                Paragraph(
                    (
                        "✅ Feed ",
                        Code(f"#{feed.id}"),
                        f"{label} added: {feed.url} — read about every {minutes} min; its "
                        "matching items reach this workspace's channels only.",
                    )
                ),
                _first_read_note(1),
            ),
            tone=Tone.SUCCESS,
            data={"feed_id": feed.id, "discovered": feed.url != typed},
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

    async def _feeds_export(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        feeds = await self.core.list_feeds(caller)
        document = render_opml(
            "Wirewatch feeds",
            [OpmlFeed(f.url, f.name) for f in feeds],
            created=datetime.now(UTC),
        )
        count = f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}"
        return Reply(
            summary=f"OPML export of {count}",
            blocks=(
                Paragraph(
                    (
                        f"📄 The {count} this workspace reads, as OPML: any feed reader imports "
                        "it, and so does ",
                        Cmd("feeds import", "URL"),
                        ".",
                    )
                ),
            ),
            visibility=Visibility.CHANNEL,
            files=(
                FileOut(
                    "wirewatch-feeds.opml",
                    "text/x-opml",
                    document,
                    title=f"Wirewatch feeds ({count})",
                ),
            ),
            data={"feeds": len(feeds)},
        )

    async def _feeds_import(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        upload = args.get("file")
        url = _opt_str(args.get("url"))
        if not isinstance(upload, FileIn) and url is None:
            return text_reply(
                "Give the OPML file's address: ",
                Cmd("feeds import", "URL"),
                ". Slack commands cannot carry files, so on Slack it is always a URL; on "
                "Discord you may attach the file instead.",
                tone=Tone.ERROR,
            )
        document = upload.data if isinstance(upload, FileIn) else None
        try:
            result = await self.core.import_feeds(caller, url=url, document=document)
        except FeedError as e:
            return text_reply(f"⚠️ That OPML file can't be used: {e.reason}", tone=Tone.ERROR)
        counts = (
            f"{len(result.added)} added, {len(result.present)} already here, "
            f"{len(result.refused)} refused"
        )
        blocks: list[Paragraph | Section] = [
            Paragraph(
                (
                    "📥 ",
                    Strong(result.title or "The OPML file"),
                    f" lists {result.listed} feed{'s' if result.listed != 1 else ''}: {counts}.",
                )
            )
        ]
        if result.added:
            blocks.append(
                Section(
                    (f"Added ({len(result.added)})",), tuple(feed_line(f) for f in result.added)
                )
            )
            blocks.append(_first_read_note(len(result.added)))
        if result.refused:
            blocks.append(
                Section(
                    (f"Refused ({len(result.refused)})",),
                    tuple((u, f" — {reason}") for u, reason in result.refused),
                )
            )
        if result.present:
            blocks.append(
                Section(
                    (f"Already read here ({len(result.present)})",),
                    tuple((u,) for u in result.present),
                )
            )
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        added = len(result.added)
        return Reply(
            summary=f"OPML import: {counts}",
            blocks=tuple(blocks),
            tone=Tone.SUCCESS if result.added else Tone.WARNING if result.refused else Tone.INFO,
            announce=(
                *who,
                f" imported {added} feed{'s' if added != 1 else ''} for this workspace.",
            )
            if result.added
            else None,
            data={
                "added": [f.url for f in result.added],
                "present": list(result.present),
                "refused": [u for u, _ in result.refused],
            },
        )

    async def _backfill(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        count = int(str(args.get("count") or 10))
        result = await self.core.backfill(caller, count)
        if result.watches == 0:
            return text_reply(
                "No watches post here yet, so there is nothing to backfill: ",
                Cmd("watch add", "QUERY"),
                ", or ",
                Cmd("subscribe"),
                " to the default ones.",
            )
        if not result.queued:
            return text_reply(
                "Nothing to backfill: no recent matching story that this channel has not had "
                f"already ({result.already_here} it has)."
            )
        n = len(result.queued)
        stories = f"{n} stor{'ies' if n != 1 else 'y'}"
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        return Reply(
            summary=f"Posting {stories} here now",
            blocks=(
                Paragraph(
                    (
                        f"⏪ Posting the latest {stories} matching this channel's watches now, "
                        "oldest first",
                        f" ({result.already_here} it already had are left out)."
                        if result.already_here
                        else ".",
                    )
                ),
            ),
            tone=Tone.SUCCESS,
            announce=(*who, f" asked for the latest {stories} of this channel's watches."),
            data={"urls": [a.url for a in result.queued]},
        )

    async def _trend(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        days = int(str(args.get("days") or TREND_DAYS_DEFAULT))
        data = await self.core.trend(caller, str(args["watch"]), days)
        # Drawing is CPU work of tens of milliseconds: keep it off the event loop.
        png = await asyncio.to_thread(render_trend_png, data)
        top = ", ".join(f"{name} ({n})" for name, n in data.top_sources[:3]) or "none"
        title = f"{data.watch}: {data.total} stories in {len(data.days)} days"
        return Reply(
            summary=title,
            blocks=(
                Paragraph(
                    (
                        "📈 ",
                        Code(shorten(data.watch, QUERY_SHOWN)),
                        f": {data.total} matching stor{'ies' if data.total != 1 else 'y'} in the "
                        f"last {len(data.days)} days, busiest day "
                        f"{max(data.stories_per_day, default=0)}; top sources: {top}."
                        + _trend_partial_note(data),
                    )
                ),
            ),
            visibility=Visibility.CHANNEL,
            files=(
                FileOut(
                    "wirewatch-trend.png",
                    "image/png",
                    png,
                    title=title,
                    alt=f"Bar chart of {title}, and the top sources",
                ),
            ),
            data={"stories_per_day": list(data.stories_per_day), "total": data.total},
        )

    # --- channel controls ----------------------------------------------------------------

    async def _settings(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        report = await self.core.channel_settings(caller)
        lines = tuple(
            (text,) if until is None else (text, When(until, absolute=True))
            for text, until in describe(report.controls, report.now)
        )
        volumes = tuple(
            (*watch_ref(w), " — ", *_volume_text(v, report.now)) for w, v in report.watches
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
        own_dm = caller.dm is not None and caller.destination == caller.dm
        return Reply(
            summary=summary,
            blocks=(Paragraph(("✅ ", *what)),),
            tone=Tone.SUCCESS,
            # A person's own DM alerts: nobody else to tell.
            announce=None if own_dm else (*who, " changed this channel's alerts: ", *what),
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
                *_volume_text(controls, None),
                ".",
            ),
        )

    async def _updates(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        controls = await self.core.set_updates(caller, str(args["mode"]))
        what = (
            "A story's new outlets and changed headline arrive as replies in its thread."
            if controls.threads
            else "A story's message is edited as new outlets carry it."
        )
        return self._changed(caller, f"Story updates: {args['mode']}", (what,))

    # --- templates -----------------------------------------------------------------------

    async def _template_set(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        controls, sample = await self.core.set_template(caller, str(args["text"]))
        if controls.template is None:
            return self._changed(caller, "Template removed", ("Alerts use the default layout.",))
        return self._changed(
            caller,
            "Template set",
            ("Alerts here now start with the template. A sample: ", Code(sample or "")),
        )

    async def _template_show(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        report = await self.core.channel_settings(caller)
        current: Line = (
            ("This channel's template: ", Code(report.controls.template))
            if report.controls.template
            else ("This channel uses the default layout (no template).",)
        )
        return Reply(
            summary="Alert template",
            blocks=(
                Paragraph(current),
                Section(
                    (
                        "Fields: {{ name }}; filters such as |upper, |truncate(80), |join(', '); "
                        "{% if %} … {% endif %}",
                    ),
                    tuple((Code(name), f" — {text}") for name, text in FIELDS.items()),
                ),
            ),
        )

    # --- personal watches ---------------------------------------------------------------

    async def _dm_add(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch = await self.core.add_watch(
            caller, str(args["query"]), name=_opt_str(args.get("name")), personal=True
        )
        return Reply(
            summary=f"Personal watch #{watch.id} added",
            blocks=(
                Paragraph(
                    (
                        "✅ Your watch ",
                        *watch_ref(watch),
                        " is on: matching stories come to you by direct message. ",
                        Cmd("dm list"),
                        " shows your watches.",
                    )
                ),
            ),
            tone=Tone.SUCCESS,
            data={"watch_id": watch.id},
        )

    async def _dm_list(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watches = await self.core.list_watches(caller, personal=True)
        return Reply(
            summary=f"{len(watches)} personal watches",
            blocks=(
                Section(
                    (f"Your watches, by direct message ({len(watches)})",),
                    tuple(watch_line(w) for w in watches),
                    empty=("None yet: ", Cmd("dm add", "QUERY"), "."),
                ),
            ),
            data={"watch_ids": [w.id for w in watches]},
        )

    async def _dm_remove(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch = await self.core.remove_watch(caller, str(args["watch"]), personal=True)
        return text_reply("Your watch ", *watch_ref(watch), " is removed.", tone=Tone.SUCCESS)

    # --- alert buttons ------------------------------------------------------------------

    async def _story_mute(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        alert = args.get("alert")
        if alert is not None:  # an alert's button, or a listing's menu: its alert id
            title, new = await self.core.mute_story(caller, str(alert))
            if not new:  # a second press, or a muted story picked again in a listing's menu
                return self._already_muted(title)
            return self._story_muted(caller, title)
        words = str(args["story"])
        found = await self.core.mute_story_named(caller, words)
        typed = Code(shorten(words, QUERY_SHOWN))
        if not found:
            return text_reply(
                "No story alerted here has ",
                typed,
                " in its headline. Type words of the headline as its alert shows it, e.g. ",
                Cmd("story mute", COMMANDS["story mute"].example),
                "; under a listing of several stories, its “Mute a story…” menu picks one.",
                tone=Tone.ERROR,
            )
        if len(found) > 1:
            shown = found[:STORY_CHOICES_SHOWN]
            more = len(found) - len(shown)
            return Reply(
                summary=f"{len(found)} stories here match",
                blocks=(
                    Paragraph(
                        (
                            f"{len(found)} stories alerted here have ",
                            typed,
                            " in their headline; nothing was muted. Type more of the one "
                            "you mean, e.g. ",
                            Cmd("story mute", shorten(found[0].title, QUERY_SHOWN)),
                            ".",
                        )
                    ),
                    Section(
                        ("Stories with those words, newest first",),
                        tuple(
                            (f"“{shorten(s.title, 120)}”", " (muted)" if s.muted else "")
                            for s in shown
                        )
                        + (((f"…and {more} more",),) if more else ()),
                    ),
                ),
                tone=Tone.WARNING,
            )
        story = found[0]
        if story.muted:
            return self._already_muted(story.title)
        return self._story_muted(caller, story.title)

    @staticmethod
    def _already_muted(title: str) -> Reply:
        return text_reply(f"🔇 “{shorten(title, 120)}” was already muted here.", tone=Tone.INFO)

    @staticmethod
    def _story_muted(caller: Caller, title: str) -> Reply:
        headline = shorten(title, 120)
        who: Line = (UserRef(_user_id(caller)),) if caller.user else ("Someone",)
        return Reply(
            summary="Story muted",
            blocks=(
                Paragraph((f"🔇 Muted here: “{headline}” — no more alerts or updates of it.",)),
            ),
            tone=Tone.SUCCESS,
            announce=(*who, f" muted the story “{headline}” in this channel."),
        )

    async def _not_relevant(self, caller: Caller, args: Mapping[str, object]) -> Reply:
        watch, new = await self.core.not_relevant(caller, str(args["alert"]))
        said = "Thanks — noted" if new else "You had already marked it"
        return Reply(
            summary="Marked not relevant",
            blocks=(
                Paragraph(
                    (
                        f"👎 {said}: not relevant to watch ",
                        *watch_ref(watch),
                        f" ({watch.not_relevant} marked here). ",
                        Cmd("watch list"),
                        " shows each watch's precision; ",
                        Cmd("watch edit", f"{watch.id} QUERY"),
                        " tightens its query.",
                    )
                ),
            ),
            tone=Tone.SUCCESS,
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


def _search_note(watch: WatchInfo) -> tuple[Paragraph, ...]:
    """What a watch's Google News search looks for, and why its first read alerts nothing."""
    searched = google_news_query(parse_query(watch.query)) if watch.google_news else None
    if searched is None:
        return ()
    return (
        Paragraph(
            (
                "🔎 It also searches Google News for ",
                Code(shorten(searched, QUERY_SHOWN)),
                " (the last 7 days), read as one of this workspace's feeds: its items reach "
                "this workspace's channels only, and alert when they match the watch. What the "
                "search finds now is recorded without alerting when it is first read.",
            )
        ),
    )


def unsearchable_reply(error: UnsearchableQueryError, spec: CommandSpec) -> Reply:
    """Why a watch cannot search Google News, and the two ways on."""
    without = "without google-news" if spec.name == "watch add" else "with no-google-news"
    return text_reply(
        "⚠️ Google News can't search for ",
        Code(shorten(error.query, QUERY_SHOWN)),
        ": it searches words and phrases, and a regular expression or a source: term is "
        "not one. Add a word or phrase the articles must contain (",
        Code('"rare earth" /export(s|ed)? ban/'),
        f"), or keep the watch {without}.",
        tone=Tone.ERROR,
    )


def _first_read_note(feeds: int) -> Paragraph:
    """Why a feed just added does not alert on what it shows now: otherwise "I added it,
    and the story I can see in it never came" is the first thing a newcomer asks."""
    carries, is_, publishes = (
        ("it carries", "it is", "it publishes")
        if feeds == 1
        else ("these feeds carry", "they are", "they publish")
    )
    return Paragraph(
        (
            f"What {carries} now is recorded without alerting when {is_} first read "
            f"(no flood of old news); items {publishes} after that alert.",
        )
    )


def _volume_text(controls: WatchControls, now: datetime | None) -> Line:
    parts = []
    if controls.max_per_hour:
        parts.append(f"at most {controls.max_per_hour}/hour")
    if controls.min_outlets:
        parts.append(f"only stories with {controls.min_outlets}+ outlets")
    text = "; ".join(parts)
    if now and snoozed(controls.snoozed_until, now) and controls.snoozed_until is not None:
        # In the reader's own time zone, as snooze itself answered it.
        return (
            f"{text}; snoozed until " if text else "snoozed until ",
            When(controls.snoozed_until, absolute=True),
        )
    return (text or "every story, as it breaks",)


def _until_text(until: datetime | None) -> Line:
    return (When(until),) if until is not None else ("now",)


def status_reply(report: StatusReport, destination: str) -> Reply:
    feeds = report.feeds
    failing = report.failing_feeds
    counts = {h: sum(1 for f in feeds if f.health is h) for h in FeedHealth}
    lines: list[Line] = [
        (
            Strong("Feeds: "),
            f"{counts[FeedHealth.OK]} ok · {counts[FeedHealth.RETRYING]} retrying · "
            f"{counts[FeedHealth.FAILING]} failing · {counts[FeedHealth.NEW]} new · last poll ",
            When(report.last_poll_at),
        ),
    ]
    outbox: list[Span] = [Strong("Delivery: "), f"{report.outbox_depth} waiting"]
    if report.oldest_pending_at is not None:
        outbox += [", oldest from ", When(report.oldest_pending_at)]
    outbox.append(f" · {report.dead_letters} dead letters")
    lines.append(tuple(outbox))
    for dead in report.recent_dead:
        # The channel's own alerts given up on, and why: not only how many.
        lines.append(
            (
                Strong("Not delivered: "),
                f"{dead.title} — {dead.last_error or 'no reason recorded'}",
            )
        )
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
    """Where the ids a command takes are listed: one's own watches are not the channel's."""
    if spec.name.startswith("feeds"):
        return Cmd("feeds list")
    return Cmd("dm list") if spec.personal else Cmd("watch list")


def _refs(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p for p in value.replace(",", " ").split() if p)
    assert isinstance(value, tuple | list)
    return tuple(str(v) for v in value)


def _unsearched(found: ArticleSearch, lead: str) -> Line:
    """How far back a search cut by its bound read (``searched_back_to`` is set)."""
    articles = f"{found.read:,} article{'s' if found.read != 1 else ''}"
    return (
        f"{lead}the newest {articles} kept, published back to ",
        When(found.searched_back_to, absolute=True),
        ": older ones were not searched.",
    )


def _searched_back(found: ArticleSearch) -> tuple[Paragraph, ...]:
    """A note under fewer results than asked for, when the search stopped at its bound."""
    if found.searched_back_to is None:
        return ()
    return (Paragraph(_unsearched(found, "Searched ")),)


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _user_id(caller: Caller) -> str:
    """The platform-native id inside ``caller.user`` ("slack:U1" -> "U1")."""
    assert caller.user is not None
    return caller.user.partition(":")[2] or caller.user


def _trend_partial_note(data: TrendData) -> str:
    """Why the chart's shaded days are not quiet days."""
    if data.counted_from is None:
        return ""
    day = f"{data.counted_from.day} {data.counted_from:%b}"
    if data.read_all:
        why = "the bot holds none or only some of their articles (it keeps them for a limited time)"
    else:
        why = "only the newest articles were read, and there were more"
    return f" Days before {day} are counted in part: {why}."
