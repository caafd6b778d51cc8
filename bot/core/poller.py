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
from typing import Any

from bot.core import decide
from bot.core.articles import article_from_entry, entry_identity_keys
from bot.core.errors import FeedError, ParseError, QuerySyntaxError
from bot.core.fetch import FetchRequest, FetchResult
from bot.core.matcher import MatchDocument, Matcher
from bot.core.models import Article, FeedEntry
from bot.core.notices import feed_failing_text, feed_recovered_text
from bot.core.parsing import parse_feed
from bot.core.ports import Clock
from bot.core.query import Query, parse_query
from bot.core.schedule import effective_interval, next_poll_at
from bot.core.stories import StoryIndex, story_key_for_url
from bot.core.textfold import headline_tokens
from bot.store import ingest
from bot.store.store import FeedRow, Store, WatchRow

log = logging.getLogger(__name__)


class FeedFetcher:
    """What the poller needs of ``bot.core.fetch.Fetcher`` (a seam for tests and benches)."""

    async def fetch(self, req: FetchRequest) -> FetchResult:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass(slots=True)
class FeedOutcome:
    feed: FeedRow
    fetched_at: datetime
    result: FetchResult | None = None
    # Entries with their identity keys; turned into articles only once known unseen,
    # because cleaning full text costs several times the parse.
    entries: list[tuple[FeedEntry, tuple[str, ...]]] = field(default_factory=list)
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

    @property
    def text(self) -> str:
        name = self.feed_name or self.feed_url
        if self.failing:
            return feed_failing_text(name, self.feed_url, self.since, self.reason)
        return feed_recovered_text(name)


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
        fetcher: Any,
        clock: Clock,
        max_age: timedelta,
        backfill: int = 0,
        failing_after: int = 3,
        default_destinations: Callable[[], Sequence[str]] = lambda: (),
        instance_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 500,
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
        self.story_window = story_window
        self.stories = StoryIndex(window=story_window)
        self._stories_loaded = False
        self._watches: dict[int, CompiledWatch] = {}
        self._matcher = Matcher.build([])
        self.last_cycle: CycleReport | None = None

    # ---- watches ------------------------------------------------------------------------

    async def refresh_watches(self) -> None:
        """Recompile the matcher from the store (after any watch change)."""
        compiled: dict[int, CompiledWatch] = {}
        for row in await self.store.watch_rows():
            try:
                compiled[row.id] = CompiledWatch(row, parse_query(row.query))
            except QuerySyntaxError as e:
                log.warning("skipping watch %s with a bad query: %s", row.id, e)
        self._watches = compiled
        self._matcher = Matcher.build((w.row.id, w.query) for w in compiled.values())

    def destinations_for(self, watch: WatchRow) -> tuple[str, ...]:
        dests = list(watch.destinations)
        if watch.use_defaults:
            dests.extend(d for d in self.default_destinations() if d not in dests)
        return tuple(dests)

    async def _load_stories(self) -> None:
        if self._stories_loaded:
            return
        now = self.clock.now()
        rows = await self.store.recent_articles(since=now - self.story_window, limit=50_000)
        for r in reversed(rows):
            if r.held_reason is None:
                self.stories.add(r.story_key, headline_tokens(r.title), r.first_seen_at)
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
        if not self._watches:
            await self.refresh_watches()
        queue: asyncio.Queue[FeedOutcome | None] = asyncio.Queue(maxsize=200)
        writer = asyncio.create_task(self._write_outcomes(queue, report))
        total_claimed = 0
        try:
            while True:
                batch = await self.store.claim_feeds(
                    owner=self.instance_id,
                    now=self.clock.now(),
                    lease=self.lease,
                    limit=self.batch_size,
                    due_only=True,
                )
                if not batch and not due_only and total_claimed == 0:
                    # Force mode: make every active feed due now, then claim them.
                    await self._make_all_due()
                    due_only = True
                    continue
                if not batch:
                    break
                report.lease_takeovers += self.store.take_lease_takeovers()
                total_claimed += len(batch)
                report.feeds += len(batch)
                await asyncio.gather(*(self._fetch_into(f, queue, report, progress) for f in batch))
                if len(batch) < self.batch_size:
                    break
        finally:
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
            for entry in parsed.entries:
                keys = entry_identity_keys(entry, feed_url=feed.url)
                if keys:
                    outcome.entries.append((entry, keys))
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
            # Drain what is already waiting: one transaction for many feeds.
            while len(batch) < 200:
                try:
                    nxt = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if nxt is None:
                    finished = True
                    break
                batch.append(nxt)
            try:
                await self._commit_batch(batch, report)
            except Exception:
                log.exception(
                    "could not record a batch of %d feeds; leases will expire", len(batch)
                )
                await self.store.release_feeds(self.instance_id, [o.feed.id for o in batch])

    async def _commit_batch(self, batch: list[FeedOutcome], report: CycleReport) -> None:
        now = self.clock.now()
        first_notice = len(report.notices)
        simple_updates: list[dict[str, Any]] = []
        alert_ids: list[int] = []
        hits: dict[int, int] = {}  # watch id -> alerts created in this batch
        async with self.store.transaction() as conn:
            for outcome in batch:
                feed = outcome.feed
                if outcome.result is not None:
                    report.fetch_seconds.append(outcome.result.elapsed)
                if outcome.error is not None:
                    report.failed += 1
                    if isinstance(outcome.error, ParseError):
                        report.parse_failures += 1
                    report.errors[feed.url] = outcome.error.reason
                    failures = feed.consecutive_failures + 1
                    retry_after = getattr(outcome.error, "retry_after", None)
                    values = {
                        "b_id": feed.id,
                        "last_fetch_at": outcome.fetched_at,
                        "last_error": outcome.error.reason,
                        "error_since": feed.error_since or outcome.fetched_at,
                        "consecutive_failures": failures,
                        "last_status": getattr(outcome.error, "status", None),
                        "next_poll_at": next_poll_at(
                            now=now,
                            url=feed.url,
                            interval=feed.interval,
                            consecutive_failures=failures,
                            retry_after=retry_after,
                        ),
                        "lease_owner": None,
                        "lease_until": None,
                        "failing_notified": feed.failing_notified or failures >= self.failing_after,
                    }
                    if failures >= self.failing_after and not feed.failing_notified:
                        report.notices.append(
                            FeedNotice(
                                feed.url,
                                feed.name,
                                True,
                                outcome.error.reason,
                                feed.error_since or outcome.fetched_at,
                            )
                        )
                    await ingest.update_feed_state(conn, feed.id, _unbind(values))
                    continue
                result = outcome.result
                assert result is not None
                if feed.failing_notified:
                    report.notices.append(FeedNotice(feed.url, feed.name, False, None, None))
                interval = effective_interval(
                    feed.interval, ttl_seconds=outcome.ttl_seconds, max_age=result.max_age
                )
                base = {
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
                    simple_updates.append(base)
                    continue
                report.fetched += 1
                created = await self._ingest_articles(conn, outcome, now, report, hits)
                alert_ids.extend(created)
                values = dict(base)
                values.update(
                    etag=result.etag,
                    last_modified=result.last_modified,
                    body_hash=result.body_hash,
                    ttl_seconds=outcome.ttl_seconds,
                    max_age=result.max_age,
                    seeded=True,
                )
                await ingest.update_feed_state(conn, feed.id, _unbind(values))
            await ingest.update_feed_states(conn, simple_updates)
            # Hit counters are the rows instances share: update them last and in id order,
            # so two instances' batches never lock them in opposite orders (a deadlock).
            for watch_id in sorted(hits):
                await ingest.count_hit(conn, watch_id, now, by=hits[watch_id])
            # Notices are queued with the state change that caused them: told exactly once.
            fresh_notices = report.notices[first_notice:]
            if fresh_notices:
                dests = await ingest.notice_destinations(conn)
                rows = [(d, n.text) for n in fresh_notices for d in dests]
                await ingest.insert_notices(conn, rows, now)
        report.alert_ids.extend(alert_ids)

    async def _ingest_articles(
        self,
        conn: Any,
        outcome: FeedOutcome,
        now: datetime,
        report: CycleReport,
        hits: dict[int, int],
    ) -> list[int]:
        feed = outcome.feed
        keys = list(dict.fromkeys(k for _, item_keys in outcome.entries for k in item_keys))
        seen = await ingest.seen_keys(conn, feed.id, keys)
        fresh_entries = decide.fresh_indexes([k for _, k in outcome.entries], seen)
        # Record every key not seen yet, also for known items (a changed guid's new key).
        await ingest.add_seen_keys(conn, feed.id, [k for k in keys if k not in seen], now)
        fresh = [
            a
            for a in (
                article_from_entry(
                    outcome.entries[i][0],
                    feed_url=feed.url,
                    feed_title=outcome.feed_title,
                    seen_at=outcome.fetched_at,
                )
                for i in fresh_entries
            )
            if a is not None
        ]
        # A link-less item still needs a unique address to be stored and shown.
        fresh = [
            a if a.url else replace(a, url=f"urn:wirewatch:item:{a.identity_keys[0]}")
            for a in fresh
        ]
        if not fresh:
            return []
        report.new_articles += len(fresh)
        decisions = decide.decide_items(
            fresh,
            first_poll=not feed.seeded,
            backfill=self.backfill,
            max_age=self.max_age,
            now=now,
        )
        stored = await ingest.articles_by_url(conn, [a.url for a in fresh])
        # Phase 1 (pure): a story for every article not stored yet, then one bulk insert.
        to_insert: list[tuple[Article, str, str | None]] = []
        for d in decisions:
            article = d.article
            if article.url in stored or any(a.url == article.url for a, _, _ in to_insert):
                # The same canonical URL through another feed: same article, same story.
                continue
            tokens = headline_tokens(article.title)
            story_key = self.stories.find(tokens, now) or story_key_for_url(article.url)
            if d.alert:
                # Held items (a new feed's backlog, old news) are not indexed: the index
                # is for stories that can still alert, and a seeding poll brings thousands.
                self.stories.add(story_key, tokens, now)
            to_insert.append((article, story_key, d.held_reason))
        stored.update(await ingest.insert_articles(conn, to_insert, feed_id=feed.id, now=now))
        # Phase 2: match what may alert and queue one alert per watch, destination, story.
        created: list[int] = []
        for d in decisions:
            article = d.article
            existing = stored[article.url]
            article_id, story_key = existing.id, existing.story_key
            if not d.alert:
                continue
            doc = MatchDocument(
                title=article.title,
                summary=article.summary,
                content=article.content,
                source=article.source,
            )
            for match in self._matcher.match(doc):
                watch = self._watches.get(match.watch_id)
                if watch is None:
                    continue
                hit = False
                for dest in self.destinations_for(watch.row):
                    alert_id = await ingest.insert_alert(
                        conn,
                        watch_id=watch.row.id,
                        destination=dest,
                        story_key=story_key,
                        article_id=article_id,
                        matched=match.matched,
                        now=now,
                    )
                    if alert_id is not None:
                        created.append(alert_id)
                        hit = True
                if hit:
                    hits[watch.row.id] = hits.get(watch.row.id, 0) + 1
        return created


def _unbind(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "b_id"}
