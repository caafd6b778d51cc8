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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from bot.core import decide
from bot.core.articles import article_from_entry, entry_identity_keys, raw_entry_key
from bot.core.errors import FeedError, ParseError, QuerySyntaxError
from bot.core.fetch import FetchRequest, FetchResult
from bot.core.matcher import MatchDocument, Matcher
from bot.core.models import Article, FeedEntry
from bot.core.notices import FeedFailing, FeedRecovered, Notice, feed_notice_destinations
from bot.core.parsing import parse_feed
from bot.core.ports import Clock
from bot.core.query import Query, parse_query
from bot.core.schedule import effective_interval, next_poll_at
from bot.core.stories import StoryIndex, story_features, story_key_for_url
from bot.store import ingest
from bot.store.store import GLOBAL_SOURCES, FeedRow, Store, WatchRow

log = logging.getLogger(__name__)


BATCH_MAX = 200  # feeds per write transaction
BATCH_WAIT = 0.05  # seconds the writer gathers finished feeds before committing
BATCH_MAX_ENTRIES = 2_000  # feed entries per write transaction (memory bound)


class FeedFetcher(Protocol):
    """What the poller needs of ``bot.core.fetch.Fetcher`` (a seam for tests and benches)."""

    async def fetch(self, req: FetchRequest) -> FetchResult:
        """Fetch one feed (conditional GET); raise ``FetchError`` when it cannot."""
        ...


@dataclass(slots=True)
class FeedOutcome:
    feed: FeedRow
    fetched_at: datetime
    result: FetchResult | None = None
    # Entries with their cheap raw key; full identity keys and articles are computed
    # only for entries whose raw key is unseen (cleaning costs several times the parse).
    entries: list[tuple[FeedEntry, str]] = field(default_factory=list)
    feed_title: str | None = None
    ttl_seconds: int | None = None
    error: FeedError | None = None
    parse_warning: str | None = None


@dataclass(frozen=True, slots=True)
class FeedNotice:
    """A feed started failing or recovered: tell the channels, once."""

    feed_url: str
    feed_name: str | None
    failing: bool
    reason: str | None
    since: datetime | None
    feed_id: int | None = None
    source: str = "config"
    reach: tuple[str, ...] | None = None  # the feed's ``FeedRow.reach``: who may hear of it

    @property
    def notice(self) -> Notice:
        """The notice as data; each notifier words it (and its commands) natively."""
        name = self.feed_name or self.feed_url
        if self.failing:
            return FeedFailing(
                name=name,
                url=self.feed_url,
                since=self.since,
                reason=self.reason,
                feed_id=self.feed_id,
                source=self.source,
            )
        return FeedRecovered(name=name, url=self.feed_url)


@dataclass(slots=True)
class CycleReport:
    feeds: int = 0
    done: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new_articles: int = 0
    alert_ids: list[int] = field(default_factory=list)
    notices: list[FeedNotice] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # feed url -> reason
    parse_failures: int = 0
    lease_takeovers: int = 0
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
        store: Store,
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
        self.stories = StoryIndex(window=story_window)
        self._stories_loaded = False
        self._stories_seen_id = 0  # the newest article id the story index has looked at
        self._watches: dict[int, CompiledWatch] = {}
        self._matcher = Matcher.build([])
        self.last_cycle: CycleReport | None = None

    # ---- watches ------------------------------------------------------------------------

    async def refresh_watches(self) -> None:
        """Recompile the matcher from the store (after any watch change). Only watches
        whose query changed are parsed and compiled again."""
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

    async def _load_stories(self) -> None:
        if self._stories_loaded:
            return
        now = self.clock.now()
        self._stories_seen_id = await self.store.run_write(ingest.max_article_id)
        rows = await self.store.recent_headlines(
            since=now - self.story_window, limit=self.stories.max_headlines
        )
        for story_key, title, summary, first_seen_at in reversed(rows):
            self.stories.add(story_key, story_features(title, summary), first_seen_at)
        self._stories_loaded = True

    def _catch_up_stories(self, conn: Connection, now: datetime) -> None:
        """Take the story lock and index what other instances stored since we last looked,
        so N instances group articles exactly as one would."""
        ingest.lock_stories(conn)
        if conn.dialect.name != "postgresql":
            return  # one instance owns a SQLite file: its index is already complete
        for article_id, story_key, title, summary, first_seen_at in ingest.headlines_after(
            conn, self._stories_seen_id, now - self.story_window
        ):
            self.stories.add(story_key, story_features(title, summary), first_seen_at)
            self._stories_seen_id = max(self._stories_seen_id, article_id)

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
        if not self._watches:
            await self.refresh_watches()
        if not due_only:
            await self._make_all_due()
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
                    now=cycle_start,
                    lease=self.lease,
                    limit=self.batch_size,
                    due_only=True,
                )
                if not batch:
                    break
                report.lease_takeovers += self.store.take_lease_takeovers()
                report.feeds += len(batch)
                for feed in batch:
                    await slots.acquire()
                    task = asyncio.create_task(self._fetch_into(feed, queue, report, progress))
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
    ) -> None:
        await queue.put(await self._fetch_and_parse(feed))
        report.done += 1
        if progress:
            progress(report.done, report.feeds)

    async def _make_all_due(self) -> None:
        from sqlalchemy import update

        from bot.store.schema import feeds

        async with self.store.transaction() as conn:
            await conn.execute(
                update(feeds).where(feeds.c.active.is_(True)).values(next_poll_at=self.clock.now())
            )

    async def _fetch_and_parse(self, feed: FeedRow) -> FeedOutcome:
        now = self.clock.now()
        outcome = FeedOutcome(feed=feed, fetched_at=now)
        try:
            result = await self.fetcher.fetch(
                FetchRequest(
                    url=feed.url,
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
            parsed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
            # Only the parsed entries travel on: holding bodies in the queue costs memory.
            outcome.result = replace(result, body=None)
            outcome.ttl_seconds = parsed.ttl_seconds
            outcome.parse_warning = parsed.warning
            outcome.feed_title = feed.name or parsed.title
            outcome.entries = [
                (entry, raw_entry_key(entry, feed_url=feed.url)) for entry in parsed.entries
            ]
        except FeedError as e:
            outcome.error = e
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
            entries = len(item.entries)
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
                entries += len(nxt.entries)
            try:
                await self._commit_batch(batch, report)
            except Exception:
                log.exception(
                    "could not record a batch of %d feeds; leases will expire", len(batch)
                )
                await self.store.release_feeds(self.instance_id, [o.feed.id for o in batch])

    async def _commit_batch(self, batch: list[FeedOutcome], report: CycleReport) -> None:
        """Record a batch of finished feeds in ONE transaction, with a handful of statements
        for the whole batch rather than several per feed (each costs a round trip)."""
        now = self.clock.now()
        first_notice = len(report.notices)
        failed_rows: list[dict[str, Any]] = []
        unchanged_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        changed: list[FeedOutcome] = []
        for outcome in batch:
            feed = outcome.feed
            if outcome.result is not None:
                report.fetch_seconds.append(outcome.result.elapsed)
            if outcome.error is not None:
                failed_rows.append(self._failure_row(outcome, now, report))
                continue
            result = outcome.result
            assert result is not None
            if feed.failing_notified:
                report.notices.append(
                    FeedNotice(
                        feed.url, feed.name, False, None, None, feed.id, feed.source, feed.reach
                    )
                )
            interval = effective_interval(
                feed.interval, ttl_seconds=outcome.ttl_seconds, max_age=result.max_age
            )
            row = {
                "b_id": feed.id,
                "last_fetch_at": outcome.fetched_at,
                "last_success_at": outcome.fetched_at,
                "last_status": result.status,
                "last_error": None,
                "error_since": None,
                "consecutive_failures": 0,
                "failing_notified": False,
                "next_poll_at": next_poll_at(
                    now=now, url=feed.url, interval=interval, consecutive_failures=0
                ),
                "lease_owner": None,
                "lease_until": None,
            }
            if result.not_modified:
                report.not_modified += 1
                unchanged_rows.append(row)
                continue
            report.fetched += 1
            row.update(
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=result.body_hash,
                ttl_seconds=outcome.ttl_seconds,
                max_age=result.max_age,
                seeded=True,
            )
            changed_rows.append(row)
            changed.append(outcome)
        fresh_notices = report.notices[first_notice:]

        def write(conn: Connection) -> list[int]:
            hits: dict[int, int] = {}  # watch id -> stories alerted in this batch
            alert_ids = self._ingest_changed(conn, changed, now, report, hits)
            for rows in (failed_rows, changed_rows, unchanged_rows):
                ingest.update_feed_states(conn, rows)
            # Hit counters are the rows instances share: update them last and in id order,
            # so two instances' batches never lock them in opposite orders (a deadlock).
            for watch_id in sorted(hits):
                ingest.count_hit(conn, watch_id, now, by=hits[watch_id])
            # Notices are queued with the state change that caused them: told exactly once.
            if fresh_notices:
                subscribed = ingest.notice_subscribers(conn)
                notice_rows: list[tuple[str, Notice | str]] = [
                    (d, n.notice)
                    for n in fresh_notices
                    for d in feed_notice_destinations(n.reach, subscribed)
                ]
                ingest.insert_notices(conn, notice_rows, now)
            return alert_ids

        new_articles_before = report.new_articles
        try:
            report.alert_ids.extend(await self.store.run_write(write))
        except BaseException:
            report.new_articles = new_articles_before  # rolled back: nothing was recorded
            raise

    def _failure_row(
        self, outcome: FeedOutcome, now: datetime, report: CycleReport
    ) -> dict[str, Any]:
        feed, error = outcome.feed, outcome.error
        assert error is not None
        report.failed += 1
        if isinstance(error, ParseError):
            report.parse_failures += 1
        report.errors[feed.url] = error.reason
        failures = feed.consecutive_failures + 1
        since = feed.error_since or outcome.fetched_at
        if failures >= self.failing_after and not feed.failing_notified:
            report.notices.append(
                FeedNotice(
                    feed.url, feed.name, True, error.reason, since, feed.id, feed.source, feed.reach
                )
            )
        return {
            "b_id": feed.id,
            "last_fetch_at": outcome.fetched_at,
            "last_error": error.reason,
            "error_since": since,
            "consecutive_failures": failures,
            "last_status": getattr(error, "status", None),
            "next_poll_at": next_poll_at(
                now=now,
                url=feed.url,
                interval=feed.interval,
                consecutive_failures=failures,
                retry_after=getattr(error, "retry_after", None),
            ),
            "lease_owner": None,
            "lease_until": None,
            "failing_notified": feed.failing_notified or failures >= self.failing_after,
        }

    def _ingest_changed(
        self,
        conn: Connection,
        outcomes: list[FeedOutcome],
        now: datetime,
        report: CycleReport,
        hits: dict[int, int],
    ) -> list[int]:
        """New items of every changed feed in the batch -> articles, stories, alerts."""
        if not outcomes:
            return []
        # 1. Raw keys: entries whose raw guid/link this feed sent before are old news.
        raw_by_feed = {o.feed.id: list(dict.fromkeys(r for _, r in o.entries)) for o in outcomes}
        seen_raw = ingest.seen_keys_many(conn, raw_by_feed)
        # 2. Full identity keys only for the rest (usually a few entries per feed).
        candidates: dict[int, list[tuple[FeedEntry, tuple[str, ...]]]] = {}
        notes: dict[tuple[int, str], str] = {}
        retitled: list[tuple[FeedOutcome, FeedEntry, str]] = []
        for o in outcomes:
            fid, listed = o.feed.id, set()
            candidates[fid] = []
            for entry, raw in o.entries:
                if raw in listed:
                    continue
                note = decide.headline_note(entry.title or "")
                if (fid, raw) in seen_raw:
                    before = seen_raw[(fid, raw)]
                    if before is not None and before != note:
                        retitled.append((o, entry, raw))  # the same item, another headline
                        notes[(fid, raw)] = note
                    continue
                notes[(fid, raw)] = note
                listed.add(raw)
                keys = entry_identity_keys(entry, feed_url=o.feed.url)
                if keys:
                    candidates[fid].append((entry, keys))
        keys_by_feed = {
            fid: list(dict.fromkeys(k for _, keys in items for k in keys))
            for fid, items in candidates.items()
        }
        seen = ingest.seen_keys_many(conn, keys_by_feed)
        # Record every key not seen yet, also for known items (a changed guid's new key).
        new_pairs = [
            (fid, k) for fid, keys in raw_by_feed.items() for k in keys if (fid, k) not in seen_raw
        ]
        new_pairs += [
            (fid, k) for fid, keys in keys_by_feed.items() for k in keys if (fid, k) not in seen
        ]
        ingest.add_seen_pairs(conn, new_pairs, now, notes)
        if retitled:
            self._retitle(conn, retitled, now)
            ingest.set_seen_notes(
                conn, {(o.feed.id, raw): notes[(o.feed.id, raw)] for o, _, raw in retitled}
            )
        per_feed: list[tuple[FeedOutcome, list[decide.ItemDecision]]] = []
        for o in outcomes:
            feed_seen = {k for k in keys_by_feed[o.feed.id] if (o.feed.id, k) in seen}
            fresh = self._fresh_articles(o, candidates[o.feed.id], feed_seen)
            if not fresh:
                continue
            report.new_articles += len(fresh)
            decisions = decide.decide_items(
                fresh,
                first_poll=not o.feed.seeded,
                backfill=self.backfill,
                max_age=self.max_age,
                now=now,
            )
            per_feed.append((o, decisions))
        if not per_feed:
            return []
        stored = ingest.articles_by_url(
            conn, list({d.article.url: None for _, ds in per_feed for d in ds})
        )
        self._catch_up_stories(conn, now)
        # A story for every article not stored yet (pure, in memory), then one insert.
        to_insert: list[tuple[Article, str, str | None, int]] = []
        pending: set[str] = set()
        grown: set[str] = set()
        for o, decisions in per_feed:
            for d in decisions:
                article = d.article
                if article.url in stored or article.url in pending:
                    # The same canonical URL through another feed: same article and story.
                    continue
                features = story_features(article.title, article.summary)
                found = self.stories.find(features, now)
                story_key = found or story_key_for_url(article.url)
                if found is not None:
                    grown.add(found)  # another outlet's copy: the story's messages grow
                if d.alert:
                    # Held items (a new feed's backlog, old news) are not indexed: the index
                    # is for stories that can still alert, and a seeding poll brings thousands.
                    self.stories.add(story_key, features, now)
                to_insert.append((article, story_key, d.held_reason, o.feed.id))
                pending.add(article.url)
        inserted = ingest.insert_articles(conn, to_insert, now=now)
        stored.update(inserted)
        # Ours are indexed already; under the lock nobody else stored any since.
        self._stories_seen_id = max([self._stories_seen_id, *(a.id for a in inserted.values())])
        # Which workspaces each article may reach: its feeds' (None: everyone).
        reach: dict[str, tuple[str, ...] | None] = {}
        for o, decisions in per_feed:
            for d in decisions:
                reach[d.article.url] = _wider(reach.get(d.article.url, ()), o.feed.reach)
        # Match what may alert, oldest first so a channel reads the news in order, and queue
        # one alert per watch, destination and story.
        alertable = sorted(
            (d.article for _, ds in per_feed for d in ds if d.alert),
            key=lambda a: a.published,
        )
        rows: list[ingest.AlertRow] = []
        queued: set[tuple[int, str, str]] = set()
        for article in alertable:
            existing = stored[article.url]
            doc = MatchDocument(
                title=article.title,
                # The whole text, summary included, uncut: the summary is only its display cut.
                content=article.full_text,
                source=article.source,
            )
            for match in self._matcher.match(doc):
                watch = self._watches.get(match.watch_id)
                if watch is None:
                    continue
                for dest in self.destinations_for(watch.row, reach[article.url]):
                    key = (watch.row.id, dest, existing.story_key)
                    if key in queued:
                        continue  # two outlets' copies of one story in the same batch
                    queued.add(key)
                    rows.append(
                        ingest.AlertRow(
                            watch.row.id, dest, existing.story_key, existing.id, match.matched
                        )
                    )
        created = ingest.insert_alerts(conn, rows, now)
        # One message per story and channel: what joins a story already posted there
        # edits that message instead of posting again.
        folded = set(ingest.fold_into_posts(conn, created, now))
        ingest.touch_posts(conn, sorted(grown))
        # Hits count stories a watch alerted on, not messages.
        for watch_id, _story in {(r.watch_id, r.story_key) for _, r in created}:
            hits[watch_id] = hits.get(watch_id, 0) + 1
        return [alert_id for alert_id, _ in created if alert_id not in folded]

    def _retitle(
        self, conn: Connection, retitled: list[tuple[FeedOutcome, FeedEntry, str]], now: datetime
    ) -> None:
        """Known items whose headline changed: a material change is stored and the story's
        messages are edited (marked "updated"), never posted again."""
        changes = []
        for o, entry, _ in retitled:
            article = article_from_entry(
                entry, feed_url=o.feed.url, feed_title=o.feed_title, seen_at=now
            )
            if article is not None and article.url:
                changes.append((article.url, article.title, article.summary))
        stories = ingest.retitle_articles(conn, changes, now, decide.headline_changed_materially)
        ingest.touch_posts(conn, sorted(set(stories)))

    def _fresh_articles(
        self,
        outcome: FeedOutcome,
        entries: list[tuple[FeedEntry, tuple[str, ...]]],
        seen: set[str],
    ) -> list[Article]:
        """Clean only the entries none of whose keys were seen (cleaning is the costly part)."""
        fresh_entries = decide.fresh_indexes([k for _, k in entries], seen)
        fresh = []
        for i in fresh_entries:
            article = article_from_entry(
                entries[i][0],
                feed_url=outcome.feed.url,
                feed_title=outcome.feed_title,
                seen_at=outcome.fetched_at,
            )
            if article is None:
                continue
            if not article.url:
                # A link-less item still needs a unique address to be stored and shown.
                article = replace(article, url=f"urn:wirewatch:item:{article.identity_keys[0]}")
            fresh.append(article)
        return fresh


def _wider(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The union of two reaches; None (everyone) absorbs any other."""
    if a is None or b is None:
        return None
    return tuple(sorted({*a, *b}))


def _unbind(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "b_id"}
