"""``wirewatch`` command line. The contract (commands, flags, JSON shape) is documented in
the README and relied on by scripts: keep it stable.

Exit codes: 0 ok; 1 a command failed (unknown watch, rejected or duplicate feed, bad
query, an unexpected error); 2 the command could not run (bad usage, bad configuration, a
database, port or chat platform that cannot be used); 130 interrupted. Every failure is
one line per problem on stderr, prefixed ``wirewatch:``; ``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.adapters.console import ConsoleNotifier, format_story, group_by_story, json_line, line
from bot.app import Core, InstanceLock, open_core, open_store, run, sqlite_path
from bot.core.api import Caller
from bot.core.errors import ConfigError, QuerySyntaxError, WirewatchError
from bot.core.models import ArticleSearch, ArticleView, FeedHealth, FeedInfo, iso_utc
from bot.logs import mask_secrets, setup_logging
from bot.settings import Settings, load_settings, validate_destination, web_url_problem
from bot.spawning import lean_worker_start
from bot.terminal import terminal_text

log = logging.getLogger("wirewatch")


# `latest` and `watch test` list at most this many stories (a script asking for
# more wants everything, which `latest` is not for).
LIMIT_MAX = 1000
# Past this many feeds, `status` lists only the failing ones (unless --all).
STATUS_ROWS = 20
NO_MATCH = "no stored recent article matches that query"


def count(text: str) -> int:
    """An argparse type: a whole number from 1 to LIMIT_MAX."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"must be from 1 to {LIMIT_MAX}, not {value}")
    return value


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # The options are accepted before and after the subcommand. Below the top, a default of
    # SUPPRESS leaves the attribute unset unless given there, so `--config x run` is not
    # overwritten by the `run` parser's default.
    parser.add_argument(
        "--config",
        type=Path,
        default=None if top else argparse.SUPPRESS,
        help="TOML config file (default: $WIREWATCH_CONFIG, else config/default.toml)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="debug logging, and the traceback of an unexpected error",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wirewatch",
        description="Watch news feeds for topics; alert Slack, Discord or the console.",
    )
    _global_options(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, help: str, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=help, aliases=aliases)
        _global_options(parser, top=False)
        if aliases:
            # argparse records the alias typed; the dispatch wants one name.
            parser.set_defaults(**{parent.dest: name})
        return parser

    command(sub, "run", "run the scheduler and every configured adapter")

    poll = command(sub, "poll", "fetch every feed now and print the new alerts")
    poll.add_argument("--once", action="store_true", required=True, help="one cycle, then exit")
    poll.add_argument("--json", action="store_true", help="one JSON object per alert per line")

    # `feeds`/`watches` as well: the chat commands are plural, and people type what they know.
    feed = command(sub, "feed", "add, list, remove or check feeds", aliases=["feeds"])
    fsub = feed.add_subparsers(dest="action", required=True, metavar="ACTION")
    fa = command(fsub, "add", "add a feed (validated: fetched once, must parse)")
    fa.add_argument("url", type=feed_url)
    fa.add_argument("--name")
    command(fsub, "list", "list feeds with their health")
    fr = command(fsub, "remove", "remove a feed by id or URL")
    fr.add_argument("url")
    fc = command(fsub, "check", "fetch and parse a feed now, without adding it")
    fc.add_argument("url", type=feed_url)

    watch = command(sub, "watch", "add, list, remove or test watches", aliases=["watches"])
    wsub = watch.add_subparsers(dest="action", required=True, metavar="ACTION")
    wa = command(wsub, "add", "add a watch delivering to the console / default destinations")
    wa.add_argument("query")
    wa.add_argument("--name")
    wa.add_argument(
        "--channel", action="append", default=[], type=destination, help="destination, repeatable"
    )
    wa.add_argument(
        "--google-news",
        action="store_true",
        help="also poll a Google News search built from the query ([fetch] google_news_url)",
    )
    command(wsub, "list", "list watches with hit counts")
    wr = command(wsub, "remove", "remove a watch by id or name")
    wr.add_argument("query", metavar="ID")
    wt = command(wsub, "test", "which recent stories a query matches (a line each)")
    wt.add_argument("query")
    wt.add_argument("--limit", type=count, default=10, help=f"1 to {LIMIT_MAX} (default 10)")

    latest = command(
        sub,
        "latest",
        "newest stories (a line each, with their other outlets), optionally matching a query",
    )
    latest.add_argument("query", nargs="?")
    latest.add_argument("--limit", type=count, default=10, help=f"1 to {LIMIT_MAX} (default 10)")
    latest.add_argument("--json", action="store_true")

    status = command(sub, "status", "feed health, outbox, destinations")
    status.add_argument(
        "--all",
        action="store_true",
        help=f"every feed's line (by default only failing ones past {STATUS_ROWS} feeds)",
    )
    why = command(sub, "why", "what happened to an article URL")
    why.add_argument("url")

    command(sub, "demo", "offline demo: local sample feeds, one poll, the alerts")
    command(sub, "migrate", "bring the database to the newest schema, then exit")
    return p


def feed_url(text: str) -> str:
    """An argparse type: a feed URL as the config file would take it."""
    problem = web_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"feed URL {text!r} {problem}")
    return text


def destination(text: str) -> str:
    """An argparse type: a destination as the config file would take it."""
    try:
        return validate_destination(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(mask_secrets(str(e))) from None


def _progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="feed", file=sys.stderr, leave=False))
        b = bar[0]
        if b.total != total:
            b.total = total
        b.n = done
        b.refresh()

    return update


def _print_article(a: ArticleView) -> None:
    when = iso_utc(a.published) or "undated"
    latest = f"    latest coverage: {iso_utc(a.latest_at)}\n" if a.latest_at else ""
    matched = f"    matched: {', '.join(line(m) for m in a.matched)}\n" if a.matched else ""
    also = ", ".join(line(s) for s in a.also_reported_by)
    also = f"    also reported by: {also}\n" if also else ""
    further = "".join(
        f"    more on this story: {line(source)}: {line(title)} ({line(url)})\n"
        for source, title, url in a.further
    )
    print(
        f"[{when}] {line(a.source)}: {line(a.title)}\n    {line(a.url)}\n"
        f"{latest}{matched}{also}{further}",
        end="",
    )


async def cmd_poll(core: Core, as_json: bool) -> int:
    report = await core.poll(due_only=False, progress=_progress())
    alerts = await core.store.alerts_by_ids(report.alert_ids)
    if as_json:
        for alert in alerts:
            print(json_line(alert.as_json()))
    else:
        for group in group_by_story(alerts):
            destination = group[0].destination
            # Another destination's copy is queued for `run` to send: said, so two copies
            # of one story never read as the same alert printed twice.
            queued = "" if destination == "console" else f"    (queued for {line(destination)})"
            print(format_story(group) + (f"\n{queued}" if queued else "") + "\n")
    # Each story printed is its own message, named as the console sender names one: when
    # a story grows later, `run` prints that story again, not every story printed here.
    for group in group_by_story([a for a in alerts if a.destination == "console"]):
        await core.store.mark_sent(
            [a.id for a in group], message_id=f"console-{group[0].id}", now=core.clock.now()
        )
    for url, reason in sorted(report.errors.items()):
        log.warning("feed failed: %s: %s", line(url), line(reason))
    log.info(
        "polled %d feeds: %d changed, %d not modified, %d failed; %d new articles, %d alerts",
        report.feeds,
        report.fetched,
        report.not_modified,
        report.failed,
        report.new_articles,
        len(alerts),
    )
    if report.first_polls:
        log.info("%s", _first_poll_hint(report.first_polls, core.settings.poll.backfill))
    if report.leased_elsewhere:
        log.info("%s", _leased_elsewhere_hint(report.leased_elsewhere, core.poller.lease))
    return 0


def _leased_elsewhere_hint(feeds: int, lease: timedelta) -> str:
    """Why a forced poll polled fewer feeds than there are (instances sharing PostgreSQL)."""
    which = _feeds_were(feeds)
    minutes = max(1, round(lease.total_seconds() / 60))
    held = "its lease and polls it" if feeds == 1 else "their leases and polls them"
    return (
        f"{which} left out: another instance holds {held} (a lease left by a stopped"
        f" instance runs out within {minutes} minutes)"
    )


def _feeds_were(feeds: int) -> str:
    return "1 feed was" if feeds == 1 else f"{feeds} feeds were"


def _first_poll_hint(feeds: int, backfill: int) -> str:
    """Why a first poll printed (next to) nothing: a newcomer's first question."""
    which = _feeds_were(feeds)
    if backfill:
        kept = f"alerted on its newest {backfill} and recorded the rest without alerting"
    else:
        kept = "recorded its items without alerting ([poll] backfill = N alerts the newest N)"
    return f"{which} polled for the first time: each {kept}; the next polls alert what is new"


OPERATOR = Caller.console()


def _at(destination: str) -> Caller:
    """The operator acting for one destination (``watch add --channel``)."""
    return Caller(destination=destination, tenant=None, user="cli", can_manage=True)


def _moved_words(feed: FeedInfo) -> str:
    said = f"moved permanently to {line(feed.moved_to)}: polled there"
    if feed.source == "config":
        said += "; the config can name the new URL"
    return said


async def cmd_feed(core: Core, args: argparse.Namespace) -> int:
    if args.action == "add":
        info = await core.api.add_feed(OPERATOR, args.url, name=args.name)
        print(f"added feed #{info.id}: {line(info.name)} {line(info.url)}")
    elif args.action == "list":
        feeds = await core.api.list_feeds(OPERATOR)
        if not feeds:
            print("no feeds yet: add one with `wirewatch feed add URL`, or [[feeds]] in the config")
        for f in feeds:
            health = f.health.value
            if f.health in (FeedHealth.FAILING, FeedHealth.RETRYING):
                health += f" since {iso_utc(f.error_since)}: {line(f.last_error)}"
            name = f"{line(f.name)} " if f.name else ""
            print(f"#{f.id:<4} {line(f.url)}\n      {name}[{health}] every {f.interval_seconds}s")
            if f.moved_to:
                print(f"      {_moved_words(f)}")
    elif args.action == "remove":
        info = await core.api.remove_feed(OPERATOR, args.url)
        print(f"removed feed #{info.id}: {line(info.url)}")
    elif args.action == "check":
        from bot.core.articles import article_from_entry

        checked = await core.api.check_feed(OPERATOR, args.url)
        if checked.page is not None:
            print(f"{line(args.url)} is a web page; the feed it names is {line(checked.url)}")
        parsed = checked.parsed
        title = line(parsed.title) or "(untitled)"
        print(f"OK: {title} — {len(parsed.entries)} items ({parsed.parser} parser)")
        if parsed.warning:
            print(f"note: {line(parsed.warning)}")
        now = core.clock.now()
        for entry in parsed.entries[:5]:
            art = article_from_entry(
                entry, feed_url=checked.url, feed_title=parsed.title, seen_at=now
            )
            if art:
                print(f"  - {line(art.title)}\n    {line(art.url)}")
    return 0


async def cmd_watch(core: Core, args: argparse.Namespace) -> int:
    if args.action == "add":
        dests = args.channel or ["console"]
        info = await core.api.add_watch(
            _at(dests[0]), args.query, name=args.name, google_news=args.google_news
        )
        for extra in dests[1:]:
            await core.api.subscribe(_at(extra), [str(info.id)])
        print(f"added watch #{info.id}: {line(info.query)} -> {', '.join(map(line, dests))}")
        if info.google_news:
            print("  also searches Google News (its first read records what is there, silently)")
    elif args.action == "list":
        watches = await core.api.list_watches(OPERATOR)
        if not watches:
            print("no watches yet: add one with `wirewatch watch add QUERY`, or [[watches]]")
        for w in watches:
            last = iso_utc(w.last_hit_at) or "never"
            name = f" ({line(w.name)})" if w.name else ""
            dests = ", ".join(line(d) for d in w.destinations) or "default destinations"
            search = ", searches Google News" if w.google_news else ""
            print(
                f"#{w.id:<4} {line(w.query)}{name}\n"
                f"      hits: {w.hits}, last hit: {last}, to: {dests}{search}"
            )
    elif args.action == "remove":
        info = await core.api.remove_watch(OPERATOR, args.query)
        print(f"removed watch #{info.id}: {line(info.query)}")
    elif args.action == "test":
        found = await core.api.test_query(OPERATOR, args.query, limit=args.limit)
        if not found.articles:
            print(NO_MATCH)
        for a in found.articles:
            _print_article(a)
        _searched_back(found)
    return 0


def _searched_back(found: ArticleSearch) -> None:
    """On stderr (stdout holds the results): how far back a search cut by its bound read."""
    if found.searched_back_to is not None:
        print(
            f"searched the newest {found.read:,} article{'s' if found.read != 1 else ''} kept,"
            f" published back to "
            f"{iso_utc(found.searched_back_to)}: older ones were not searched",
            file=sys.stderr,
        )


async def cmd_latest(core: Core, args: argparse.Namespace) -> int:
    found = await core.api.latest(OPERATOR, args.query, limit=args.limit)
    if not found.articles and not args.json:
        print(
            NO_MATCH
            if args.query
            else "no articles stored yet: `wirewatch poll --once` fetches the feeds"
        )
    for a in found.articles:
        if args.json:
            print(json_line(a.as_json()))
        else:
            _print_article(a)
    _searched_back(found)
    return 0


async def cmd_status(core: Core, show_all: bool) -> int:
    st = await core.api.status(OPERATOR)
    print(f"last poll: {iso_utc(st.last_poll_at) or 'never'}")
    print(
        f"outbox: {st.outbox_depth} pending"
        + (f" (oldest since {iso_utc(st.oldest_pending_at)})" if st.oldest_pending_at else "")
        + f", {st.dead_letters} dead letters"
    )
    for dead in st.recent_dead:
        print(
            f"  dead #{dead.id} {line(dead.destination)} · {line(dead.title)}:"
            f" {line(dead.last_error or 'no reason recorded')}"
        )
    if st.dead_letters > len(st.recent_dead):
        print(f"  (and {st.dead_letters - len(st.recent_dead)} older dead letters)")
    counts = {h: sum(1 for f in st.feeds if f.health is h) for h in FeedHealth}
    new = f"{counts[FeedHealth.NEW]} new, " if counts[FeedHealth.NEW] else ""
    print(
        f"feeds: {len(st.feeds)} ({new}{counts[FeedHealth.OK]} ok,"
        f" {counts[FeedHealth.RETRYING]} retrying, {counts[FeedHealth.FAILING]} failing)"
    )
    # Thousands of healthy feeds (an OPML import) would bury the few that need a look.
    shown = st.feeds
    if not show_all and len(st.feeds) > STATUS_ROWS:
        troubled = (FeedHealth.FAILING, FeedHealth.RETRYING)
        shown = tuple(f for f in st.feeds if f.health in troubled)
    for f in shown:
        row = f"  #{f.id:<4} {f.health.value:<8} {line(f.name or f.url)}"
        row += f"\n         last success: {iso_utc(f.last_success_at) or 'never'}"
        if f.last_error:
            row += f"; last error: {line(f.last_error)} (since {iso_utc(f.error_since)})"
        row += f"; next poll: {iso_utc(f.next_poll_at) or 'now'}"
        if f.moved_to:
            row += f"\n         {_moved_words(f)}"
        print(row)
    if len(shown) < len(st.feeds):
        print(
            f"  ({len(st.feeds) - len(shown)} feeds not failing or retrying:"
            " `wirewatch status --all` lists them)"
        )
    if st.destinations:
        print("destinations:")
        for d in st.destinations:
            extra = (
                f": {line(d.last_error)} (since {iso_utc(d.failing_since)})" if d.last_error else ""
            )
            print(f"  {line(d.destination):<40} {d.state.value} · {d.pending} pending{extra}")
    return 0


async def cmd_why(core: Core, url: str) -> int:
    report = await core.api.why(OPERATOR, url)
    for text in report.lines:
        print(line(text))
    return 0 if report.found else 1


async def dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "run":
        await run(settings)
        return 0
    if args.command == "migrate":
        store = await open_store(settings)
        await store.close()
        log.info("database is at the newest schema")
        return 0
    console = ConsoleNotifier(json_lines=getattr(args, "json", False))
    if args.command == "poll":
        # A poll writes like `run` does: on SQLite it takes the same one-instance lock, and
        # holding it means leases left by a crashed run can be dropped at once.
        path = sqlite_path(settings.database.url)
        lock = InstanceLock(path) if path is not None else None
        if lock is not None:
            lock.acquire()
        try:
            async with open_core(settings, console=console, polls=True) as core:
                if lock is not None:
                    await core.store.release_all_leases()
                return await cmd_poll(core, args.json)
        finally:
            if lock is not None:
                lock.release()
    async with open_core(settings, console=console) as core:
        if args.command == "feed":
            return await cmd_feed(core, args)
        if args.command == "watch":
            return await cmd_watch(core, args)
        if args.command == "latest":
            return await cmd_latest(core, args)
        if args.command == "status":
            return await cmd_status(core, args.all)
        if args.command == "why":
            return await cmd_why(core, args.url)
    raise AssertionError(args.command)


def say(message: str) -> None:
    """An error for the operator on stderr, every line marked as ours (a caret under a
    query stays aligned: every line gets the same prefix)."""
    for text in message.splitlines() or [""]:
        # Errors can quote a feed or a server (a parse failure, a status line).
        print(f"wirewatch: {terminal_text(mask_secrets(text))}", file=sys.stderr)


def _reader_gone() -> int:
    """stdout's reader went away (`wirewatch feed list | head`): stop quietly, with the
    status a shell gives a command killed by SIGPIPE, as other command-line tools do."""
    # The interpreter flushes stdout on its way out: into the void now, not the closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE (13), also where the signal does not exist


def console() -> int:
    """The `wirewatch` console script: :func:`main`, with parsing workers that do not
    import the command line again (see bot.spawning)."""
    lean_worker_start()
    return main()


_QUERY_COMMANDS = {("watch", "add"), ("watches", "add"), ("watch", "test"), ("watches", "test")}


@functools.cache
def _option_kinds() -> tuple[frozenset[str], frozenset[str]]:
    """``(flags, valued)``: every option the parser knows, read from it, so an option added
    to a command is never mistaken for a query starting with a dash."""
    flags: set[str] = set()
    valued: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings:
                (flags if action.nargs == 0 else valued).update(action.option_strings)
    return frozenset(flags), frozenset(valued)


def _query_last(argv: list[str]) -> list[str]:
    """A query that starts with an exclusion (``-sports tariff``) is the query, not an
    option argparse does not know: it goes after ``--``, where a positional may start with
    a dash. Only for the commands that take a query, and only a word no option is."""
    flags, valued = _option_kinds()
    words: list[str] = []
    value_next = False
    for arg in argv:
        if value_next:
            value_next = False
        elif not arg.startswith("-"):
            words.append(arg)
        elif arg in valued:
            value_next = True
    if not (tuple(words[:2]) in _QUERY_COMMANDS or words[:1] == ["latest"]) or "--" in argv:
        return argv
    out: list[str] = []
    query: str | None = None
    takes_value = False
    for arg in argv:
        option = arg.partition("=")[0]
        if takes_value:
            takes_value = False
        elif arg.startswith("-") and len(arg) > 1 and option not in flags | valued:
            if query is None:
                query = arg
                continue
        elif option in valued and "=" not in arg:
            takes_value = True
        out.append(arg)
    return out if query is None else [*out, "--", query]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 ok, 1 the command failed, 2 it could not run
    (bad usage, bad configuration, a database/port/platform that cannot be used)."""
    args = build_parser().parse_args(_query_last(sys.argv[1:] if argv is None else list(argv)))
    if args.command == "demo":
        setup_logging("DEBUG" if args.verbose else "WARNING", "text")
        from bot.demo import run_demo

        try:
            return asyncio.run(run_demo())
        except BrokenPipeError:
            return _reader_gone()
    try:
        settings = load_settings(args.config)
    except ConfigError as e:
        say(str(e))
        return 2
    setup_logging("DEBUG" if args.verbose else settings.log_level, settings.log_format)
    try:
        return asyncio.run(dispatch(settings, args))
    except ConfigError as e:
        log.debug("the start failed", exc_info=e)
        say(str(e))
        return 2
    except QuerySyntaxError as e:
        print(
            f"wirewatch: bad query: {e.message}\n  {e.pointer().replace(chr(10), chr(10) + '  ')}",
            file=sys.stderr,
        )
        return 1
    except WirewatchError as e:
        say(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except Exception as e:
        # A bug or a failure nobody worded yet: one line, and the traceback with -v.
        if args.verbose:
            log.exception("unexpected error")
        say(
            f"unexpected error: {type(e).__name__}: {e}"
            + ("" if args.verbose else " (-v shows the traceback)")
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
