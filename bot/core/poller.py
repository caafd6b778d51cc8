"""The poll cycle: a thin shell of I/O around the pure decisions.

claim due feeds -> fetch (conditional GET) -> parse -> articles -> new? -> story ->
match -> alerts into the outbox, all of one feed's writes in one transaction. Fetches
run concurrently; one writer task commits finished feeds in batches, which is what
keeps SQLite fast (one writer, few commits) and PostgreSQL honest (short transactions).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from bot.core import intents
from bot.core.errors import FeedError, ParseError, QuerySyntaxError
from bot.core.fetch import FetchLimits, FetchRequest, FetchResult
from bot.core.intents import HELD_LOOKUPS, FeedNotice, FeedOutcome
from bot.core.matcher import MatchDocument, Matcher
from bot.core.models import Article
from bot.core.ports import Clock
from bot.core.prepare import PrepareJob, PreparePool
from bot.core.query import Query, parse_query
from bot.core.storeport import (
    GLOBAL_SOURCES,
    ArticlesStore,
    FeedRow,
    FeedsStore,
    IngestStore,
    MetaStore,
    WatchesStore,
    WatchRow,
)
from bot.core.stories import StoryIndex, story_features

log = logging.getLogger(__name__)


BATCH_MAX = 200  # feeds per write transaction
BATCH_WAIT = 0.05  # seconds the writer gathers finished feeds before committing
BATCH_MAX_ENTRIES = 2_000  # feed entries per write transaction (memory bound)
# Cycles claiming at least this many feeds parse in worker processes (when configured):
# below it the parsing is too little to be worth a process.
POOL_MIN_FEEDS = 200


class FeedFetcher(Protocol):
    """What the poller needs of ``bot.core.fetch.Fetcher`` (a seam for tests and benches)."""

    async def fetch(self, req: FetchRequest) -> FetchResult:
        """Fetch one feed (conditional GET); raise ``FetchError`` when it cannot."""
        ...


class PollStore(FeedsStore, WatchesStore, ArticlesStore, IngestStore, MetaStore, Protocol):
    """The parts of the store a poll cycle uses."""


@dataclass(slots=True)
class CycleReport:
    feeds: int = 0
    done: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new_articles: int = 0
    # Feeds polled for the first time whose items were recorded (silently, but for
    # ``backfill``): what a newcomer's first ``poll --once`` needs explained.
    first_polls: int = 0
    alert_ids: list[int] = field(default_factory=list)
    notices: list[FeedNotice] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # feed url -> reason
    parse_failures: int = 0
    lease_takeovers: int = 0
    # A forced poll of everything (``poll --once``): active feeds left to the instance
    # that holds them (it is polling them right now).
    leased_elsewhere: int = 0
    fetch_seconds: list[float] = field(default_factory=list)
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class CompiledWatch:
    row: WatchRow
    query: Query


class Poller:
    def __init__(
        self,
        *,
        store: PollStore,
        fetcher: FeedFetcher,
        clock: Clock,
        max_age: timedelta,
        backfill: int = 0,
        failing_after: int = 3,
        default_destinations: Callable[[], Sequence[str]] = lambda: (),
        instance_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 500,
        in_flight: int = 200,
        story_window: timedelta = timedelta(hours=48),
        prepare_pool: PreparePool | None = None,
        pool_min_feeds: int = POOL_MIN_FEEDS,
        max_body_bytes: int = FetchLimits().max_bytes,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.clock = clock
        self.max_age = max_age
        self.backfill = backfill
        self.failing_after = failing_after
        self.default_destinations = default_destinations
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.lease = lease
        self.batch_size = batch_size
        self.in_flight = in_flight
        self.story_window = story_window
        # Parsing (and a first poll's cleaning) in worker processes, when there are any.
        self.prepare_pool = prepare_pool or PreparePool(0)
        self.pool_min_feeds = pool_min_feeds
        self.max_body_bytes = max_body_bytes
        self.stories = StoryIndex(window=story_window)
        self._stories_loaded = False
        self._stories_seen_id = 0  # the newest article id the story index has looked at
        self._watches: dict[int, CompiledWatch] = {}
        # The store's watches stamp when they were last read; "unread" until the first read.
        self._watches_stamp: str | None = "unread"
        self._matcher = Matcher.build([])
        self.last_cycle: CycleReport | None = None

    # ---- watches ------------------------------------------------------------------------

    async def refresh_watches(self) -> None:
        """Recompile the matcher from the store (after any watch change). Only watches
        whose query changed are parsed and compiled again."""
        # Read before the rows: a change made while they are read is seen next time.
        self._watches_stamp = await self.store.watches_stamp()
        compiled: dict[int, CompiledWatch] = {}
        for row in await self.store.watch_rows():
            known = self._watches.get(row.id)
            if known is not None and known.query.text == row.query:
                compiled[row.id] = CompiledWatch(row, known.query)
                continue
            try:
                compiled[row.id] = CompiledWatch(row, parse_query(row.query))
            except QuerySyntaxError as e:
                log.warning("skipping watch %s with a bad query: %s", row.id, e)
        self._watches = compiled
        self._matcher = Matcher.build(
            ((w.row.id, w.query) for w in compiled.values()), reuse=self._matcher
        )

    def destinations_for(
        self, watch: WatchRow, reach: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        """Where an alert of ``watch`` goes, for an item of a feed that ``reach`` workspaces
        may receive (None: everyone; a workspace's own feed reaches only its channels)."""
        if reach is not None:
            return tuple(t.destination for t in watch.targets if t.tenant in reach)
        dests = list(watch.destinations)
        if watch.use_defaults:
            dests.extend(d for d in self.default_destinations() if d not in dests)
        return tuple(dests)

    def _first_poll_features(self) -> int:
        """How many of a first poll's newest articles need story features: those it alerts
        on (``backfill``) and, while the story index holds something, those looked up in
        it (:data:`~bot.core.intents.HELD_LOOKUPS`). Worked out where the entries are
        cleaned; any the placement still lacks, it works out itself."""
        return self.backfill + (HELD_LOOKUPS if len(self.stories) else 0)

    async def _load_stories(self) -> None:
        if self._stories_loaded:
            return
        now = self.clock.now()
        self._stories_seen_id = await self.store.max_article_id()
        rows = await self.store.recent_headlines(
            since=now - self.story_window, limit=self.stories.max_headlines
        )
        for story_key, title, summary, first_seen_at in reversed(rows):
            self.stories.add(story_key, story_features(title, summary), first_seen_at)
        self._stories_loaded = True

    # ---- the cycle ------------------------------------------------------------------------

    async def run_cycle(
        self,
        *,
        due_only: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> CycleReport:
        """Poll every due feed (every active feed when ``due_only`` is False) once."""
        started = time.perf_counter()
        report = CycleReport()
        await self._load_stories()
        self.stories.prune(self.clock.now())
        self.prepare_pool.stop_if_idle(asyncio.get_running_loop().time())
        if not due_only:
            await self._make_all_due()
            report.leased_elsewhere = await self.store.count_leased_elsewhere(
                self.instance_id, self.clock.now()
            )
        queue: asyncio.Queue[FeedOutcome | None] = asyncio.Queue(maxsize=100)
        writer = asyncio.create_task(self._write_outcomes(queue, report))
        # Keep fetch slots busy across claims: the next batch is claimed while the last
        # feeds of the previous one are still in flight (no stall on the slowest feed).
        slots = asyncio.Semaphore(self.in_flight)
        # Only feeds due when the cycle began: one that comes due again during a long
        # cycle waits for the next, instead of being polled twice in one.
        cycle_start = self.clock.now()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                batch = await self.store.claim_feeds(
                    owner=self.instance_id,
                    # The lease runs from the claim: a batch claimed late in a long cycle
                    # is fetched under a whole lease, not what is left of the first one's.
                    now=self.clock.now(),
                    lease=self.lease,
                    limit=self.batch_size,
                    due_only=True,
                    due_by=cycle_start,
                )
                if not batch:
                    break
                if not report.feeds and await self.store.watches_stamp() != self._watches_stamp:
                    # Watches change on whichever instance the chat command reached: a
                    # cycle with work looks at their stamp, and reads them again when
                    # another instance (or a restart's sync) changed them.
                    await self.refresh_watches()
                report.lease_takeovers += self.store.take_lease_takeovers()
                report.feeds += len(batch)
                in_worker = report.feeds >= self.pool_min_feeds
                if in_worker and not self.prepare_pool.running:
                    self.prepare_pool.warm()
                for feed in batch:
                    await slots.acquire()
                    task = asyncio.create_task(
                        self._fetch_into(feed, queue, report, progress, in_worker)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _t: slots.release())
                if len(batch) < self.batch_size:
                    break
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await queue.put(None)
            await writer
        report.elapsed = time.perf_counter() - started
        self.last_cycle = report
        await self.store.set_meta("last_poll_at", self.clock.now().isoformat())
        return report

    async def _fetch_into(
        self,
        feed: FeedRow,
        queue: asyncio.Queue[FeedOutcome | None],
        report: CycleReport,
        progress: Callable[[int, int], None] | None,
        in_worker: bool = False,
    ) -> None:
        await queue.put(await self._fetch_and_parse(feed, in_worker=in_worker))
        report.done += 1
        if progress:
            progress(report.done, report.feeds)

    async def _make_all_due(self) -> None:
        await self.store.make_all_due(self.clock.now())

    async def _fetch_and_parse(self, feed: FeedRow, *, in_worker: bool = False) -> FeedOutcome:
        now = self.clock.now()
        outcome = FeedOutcome(feed=feed, fetched_at=now)
        # A body bound for a worker process is decoded and hashed there too.
        decode = not self.prepare_pool.sends(in_worker)
        try:
            result = await self.fetcher.fetch(
                FetchRequest(
                    decode=decode,
                    url=feed.fetch_url,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    previous_body_hash=feed.body_hash,
                    # The operator's private-address switch never covers chat-added feeds.
                    allow_private=None if feed.source in GLOBAL_SOURCES else False,
                )
            )
            outcome.result = result
            if result.not_modified or result.body is None:
                return outcome
            prepared = await self.prepare_pool.prepare(
                PrepareJob(
                    body=result.body,
                    url=result.final_url,
                    content_type=result.content_type,
                    feed_url=feed.url,
                    feed_name=feed.name,
                    fetched_at=now,
                    clean=not feed.seeded,
                    # The entry prints stored with the last recorded body (whichever
                    # instance recorded it): its entries found again are known at once.
                    known=feed.entry_prints if feed.seeded else b"",
                    features_for=0 if feed.seeded else self._first_poll_features(),
                    encoding=result.content_encoding,
                    max_bytes=self.max_body_bytes,
                    previous_body_hash=feed.body_hash,
                ),
                in_worker=in_worker,
            )
            if prepared.body_hash is not None:
                result = replace(result, body_hash=prepared.body_hash, content_encoding=None)
            if prepared.unchanged:  # the same bytes again, without validators
                outcome.result = replace(result, body=None, not_modified=True)
                return outcome
            # Only the parsed entries travel on: holding bodies in the queue costs memory.
            outcome.result = replace(result, body=None)
            outcome.ttl_seconds = prepared.ttl_seconds
            outcome.parse_warning = prepared.warning
            outcome.feed_title = prepared.title
            outcome.entries = prepared.entries
            outcome.cleaned = prepared.cleaned
            outcome.notes = prepared.notes
            outcome.prints = prepared.prints
        except FeedError as e:
            outcome.error = e
            if outcome.result is not None and outcome.result.body is not None:
                outcome.result = replace(outcome.result, body=None)  # a bomb's, say
        except Exception as e:  # one broken feed never stops the others
            log.exception("unexpected error polling %s", feed.url)
            outcome.error = FeedError(f"internal error: {type(e).__name__}: {e}")
        return outcome

    async def _write_outcomes(
        self, queue: asyncio.Queue[FeedOutcome | None], report: CycleReport
    ) -> None:
        finished = False
        while not finished:
            item = await queue.get()
            if item is None:
                break
            batch = [item]
            entries = item.entry_count
            # Gather for a moment: one transaction for many feeds costs about what one
            # feed's costs, and fetches finish a few at a time. Entries are capped too: a
            # first poll of many feeds would otherwise build one huge write in memory.
            deadline = asyncio.get_running_loop().time() + BATCH_WAIT
            while len(batch) < BATCH_MAX and entries < BATCH_MAX_ENTRIES:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    if remaining <= 0:
                        nxt = queue.get_nowait()
                    else:
                        async with asyncio.timeout(remaining):
                            nxt = await queue.get()
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if nxt is None:
                    finished = True
                    break
                batch.append(nxt)
                entries += nxt.entry_count
            await self._record(batch, report)

    async def _record(self, batch: list[FeedOutcome], report: CycleReport) -> None:
        """Commit ``batch``; when that fails, each feed on its own, so one feed's bad data
        never loses the others' alerts, and the feed at fault is recorded as failing with
        the reason (it backs off, and `status` shows why) rather than polled again at once."""
        notices, alerts = len(report.notices), len(report.alert_ids)
        try:
            await self._commit_batch(batch, report)
            return
        except Exception as exc:
            del report.notices[notices:], report.alert_ids[alerts:]
            if len(batch) > 1:
                log.warning("could not record a batch of %d feeds; one by one now", len(batch))
                for outcome in batch:
                    await self._record([outcome], report)
                return
            log.exception("could not record feed %s", batch[0].feed.url)
            reason = f"internal error: its items could not be recorded ({type(exc).__name__})"
        failed = replace(batch[0], result=None, entries=[], cleaned=None, error=FeedError(reason))
        try:
            await self._commit_batch([failed], report)
        except Exception:
            log.exception(
                "could not record feed %s as failing; its lease will expire", failed.feed.url
            )
            await self.store.release_feeds(self.instance_id, [failed.feed.id])

    async def _commit_batch(self, batch: list[FeedOutcome], report: CycleReport) -> None:
        """Record a batch of finished feeds in ONE transaction: the pure plan of what it
        changes (``bot.core.intents``), applied by the store."""
        now = self.clock.now()
        updates: list[intents.FeedUpdateIntent] = []
        first_notice = len(report.notices)
        changed: list[FeedOutcome] = []
        for outcome in batch:
            feed = outcome.feed
            if outcome.result is not None:
                report.fetch_seconds.append(outcome.result.elapsed)
            if outcome.error is not None:
                report.failed += 1
                if isinstance(outcome.error, ParseError):
                    report.parse_failures += 1
                report.errors[feed.url] = outcome.error.reason
                update, notice = intents.failure_update(
                    feed,
                    fetched_at=outcome.fetched_at,
                    error=outcome.error,
                    now=now,
                    failing_after=self.failing_after,
                )
                updates.append(update)
                if notice is not None:
                    report.notices.append(notice)
                continue
            result = outcome.result
            assert result is not None
            if feed.failing_notified:
                report.notices.append(
                    FeedNotice(
                        feed.url, feed.name, False, None, None, feed.id, feed.source, feed.reach
                    )
                )
            updates.append(
                intents.feed_update(
                    feed,
                    fetched_at=outcome.fetched_at,
                    result=result,
                    ttl_seconds=outcome.ttl_seconds,
                    now=now,
                    entry_prints=outcome.prints,
                )
            )
            if result.not_modified:
                report.not_modified += 1
            else:
                report.fetched += 1
                changed.append(outcome)
        plan = intents.IngestPlan(now=now)
        if changed:
            raw = intents.raw_keys_by_feed(changed)
            # A feed not seeded yet has no seen keys (they are recorded with its seeding):
            # a first poll of thousands of feeds skips the lookups.
            known = {o.feed.id for o in changed if o.feed.seeded}
            screened = intents.screen_entries(
                changed, await self.store.seen_keys(_only(raw, known)), raw
            )
            seen = await self.store.seen_keys(_only(screened.keys_by_feed, known))
            plan = intents.plan_entries(
                screened, seen, now=now, backfill=self.backfill, max_age=self.max_age
            )
        plan = replace(
            plan,
            feeds=tuple(updates),
            notices=tuple(report.notices[first_notice:]),
            stories_seen_id=self._stories_seen_id,
            stories_since=now - self.story_window,
        )
        final = plan
        applied = await self.store.apply_ingest(final, lambda facts: self._place(final, facts))
        # Ours are indexed already; under the lock nobody else stored any since.
        self._stories_seen_id = max([self._stories_seen_id, *applied.article_ids])
        report.new_articles += plan.new_articles  # only once recorded: a rollback records none
        report.first_polls += sum(1 for o in changed if not o.feed.seeded)
        report.alert_ids.extend(applied.alert_ids)

    def _place(self, plan: intents.IngestPlan, facts: intents.PlacementFacts) -> intents.Placement:
        """Stories and alerts for a plan, under the store's story lock: index what other
        instances stored since we last looked, so N instances group as one would."""
        for h in facts.newer:
            self.stories.add(h.story_key, story_features(h.title, h.summary), h.first_seen_at)
            self._stories_seen_id = max(self._stories_seen_id, h.article_id)
        return intents.place_articles(
            plan, facts, stories=self.stories, targets=self._alert_targets
        )

    def _alert_targets(
        self, article: Article, reach: tuple[str, ...] | None
    ) -> list[tuple[int, str, tuple[str, ...]]]:
        """(watch, destination, matched terms) for every watch the article matches."""
        doc = MatchDocument(
            title=article.title,
            # The whole text, summary included, uncut: the summary is only its display cut.
            content=article.full_text,
            source=article.source,
        )
        out = []
        for match in self._matcher.match(doc):
            watch = self._watches.get(match.watch_id)
            if watch is None:
                continue
            for dest in self.destinations_for(watch.row, reach):
                out.append((watch.row.id, dest, match.matched))
        return out


def _only(keys_by_feed: Mapping[int, list[str]], feed_ids: set[int]) -> dict[int, list[str]]:
    return {fid: keys for fid, keys in keys_by_feed.items() if fid in feed_ids}
