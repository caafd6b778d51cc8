"""A fetched body made ready for the poller: parsed, each entry's raw key, and on a feed's
first poll every entry cleaned too.

:func:`prepare_body` is a pure function of picklable values, so the poller can run it in
a worker process (see :class:`PreparePool`): parsing and cleaning are most of a cycle's
CPU, and in the event loop's process they compete with fetching and the store's writer
for one interpreter lock. A first poll cleans every entry (all of them are new to the
feed), which is why the worker does that work too. A known feed's entries are mostly old
news: those found in the body recorded last for the feed (``PrepareJob.known``, its
prints as stored with the feed) stay here, and the few others are cleaned here too, with
their story features. Without that body's
prints, the entries go back raw and are cleaned in the loop only once their seen keys are
checked.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from bot.core.articles import article_from_entry, entry_identity, raw_entry_key
from bot.core.bodies import decode_body
from bot.core.decide import PRINT_SIZE, entry_print, headline_note, newest
from bot.core.models import Article, FeedEntry
from bot.core.parsing import parse_feed

if TYPE_CHECKING:
    from bot.core.stories import StoryFeatures

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PrepareJob:
    body: bytes
    url: str  # where the body came from (after redirects): relative links resolve to it
    content_type: str | None
    feed_url: str  # the feed's own address: raw and identity keys are per feed
    feed_name: str | None  # the operator's name for the feed, if any
    fetched_at: datetime
    clean: bool  # also clean every entry (a first poll: all of them are new)
    # The entry prints (``decide.entry_print``) stored with the body recorded last for this
    # feed: entries found there, headline unchanged, are known and are left out of what
    # travels back (most of a changed feed's entries are old ones).
    known: bytes = b""
    # Set when ``body`` is as the server sent it (``FetchRequest.decode`` off): decoded
    # and hashed here, within ``max_bytes``, and found unchanged when its hash is
    # ``previous_body_hash``.
    encoding: str | None = None
    max_bytes: int = 0
    previous_body_hash: str | None = None
    # With ``clean``: the newest this-many articles also get their story features (those a
    # first poll may alert on or look up in a story index that holds something).
    features_for: int = 0


class CleanEntry(NamedTuple):
    """A first poll's entry, cleaned: all the poller needs of it (the raw entry stays in
    the worker, which halves what travels back)."""

    raw_key: str
    note: str  # see bot.core.decide.headline_note
    keys: tuple[str, ...]  # identity keys (empty: not news)
    article: Article | None
    # Worked out beside a known feed's few new entries (they may alert and join stories),
    # and for a first poll's newest few (``PrepareJob.features_for``).
    features: StoryFeatures | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    title: str | None  # the feed's name: the operator's, else the feed's own
    ttl_seconds: int | None
    warning: str | None
    entries: list[tuple[FeedEntry, str]]  # each entry with its raw key (without ``clean``)
    # With ``clean``, every entry cleaned; with ``known``, those not in the last body. In
    # the feed's order. ``entries`` is empty then.
    cleaned: list[CleanEntry] | None = None
    notes: list[str] | None = None  # with ``entries``: each one's headline note
    prints: bytes = b""  # every entry's print, for the next poll's ``PrepareJob.known``
    skipped: int = 0  # entries left out as known
    body_hash: str | None = None  # with ``PrepareJob.encoding``: the decoded body's sha1
    unchanged: bool = False  # ... equal to ``previous_body_hash``: nothing was parsed


def prepare_body(job: PrepareJob) -> Prepared:
    """Parse ``job.body``; raises :class:`~bot.core.errors.ParseError` on a body that is
    not a feed."""
    body, body_hash = job.body, None
    if job.encoding is not None:
        body, body_hash = decode_body(body, job.encoding, job.max_bytes)
        if body_hash == job.previous_body_hash:
            return Prepared(None, None, None, [], body_hash=body_hash, unchanged=True)
    parsed = parse_feed(body, url=job.url, content_type=job.content_type)
    title = job.feed_name or parsed.title
    feed_url = job.feed_url
    if job.clean:
        cleaned = [
            _cleaned(
                entry,
                raw_entry_key(entry, feed_url=feed_url),
                headline_note(entry.title or ""),
                job,
                title,
            )
            for entry in parsed.entries
        ]
        if job.features_for:
            _add_features(cleaned, job.features_for)
        marks = b"".join(entry_print(c.raw_key, c.note) for c in cleaned)
        return Prepared(
            title,
            parsed.ttl_seconds,
            parsed.warning,
            [],
            cleaned,
            prints=marks,
            body_hash=body_hash,
        )
    known = job.known
    old = {known[i : i + PRINT_SIZE] for i in range(0, len(known), PRINT_SIZE)}
    entries, notes, prints = [], [], []
    for entry in parsed.entries:
        raw = raw_entry_key(entry, feed_url=feed_url)
        note = headline_note(entry.title or "")
        mark = entry_print(raw, note)
        prints.append(mark)
        if mark not in old:
            entries.append((entry, raw))
            notes.append(note)
    skipped = len(prints) - len(entries)
    if old:
        # The last body's entries left out, what remains is nearly always new: cleaned
        # here, with its story features, rather than in the poller's busy process.
        from bot.core.stories import story_features  # only workers that need it load it

        cleaned = []
        for (entry, raw), note in zip(entries, notes, strict=True):
            c = _cleaned(entry, raw, note, job, title)
            if c.article is not None:
                c = c._replace(features=story_features(c.article.title, c.article.summary))
            cleaned.append(c)
        return Prepared(
            title,
            parsed.ttl_seconds,
            parsed.warning,
            [],
            cleaned,
            prints=b"".join(prints),
            skipped=skipped,
            body_hash=body_hash,
        )
    return Prepared(
        title,
        parsed.ttl_seconds,
        parsed.warning,
        entries,
        notes=notes,
        prints=b"".join(prints),
        skipped=skipped,
        body_hash=body_hash,
    )


def _cleaned(
    entry: FeedEntry, raw: str, note: str, job: PrepareJob, title: str | None
) -> CleanEntry:
    identity = entry_identity(entry, feed_url=job.feed_url)
    article = None
    if identity is not None:
        article = article_from_entry(
            entry,
            feed_url=job.feed_url,
            feed_title=title,
            seen_at=job.fetched_at,
            identity=identity,
        )
    return CleanEntry(raw, note, identity.keys if identity is not None else (), article)


def _add_features(cleaned: list[CleanEntry], count: int) -> None:
    """Work out the story features of the ``count`` newest articles of ``cleaned``."""
    from bot.core.stories import story_features  # only workers that need it load it

    found = [(i, c.article) for i, c in enumerate(cleaned) if c.article is not None]
    for j in newest([article.published for _, article in found], count):
        i, article = found[j]
        cleaned[i] = cleaned[i]._replace(features=story_features(article.title, article.summary))


def _ready() -> None:
    """Nothing: run once per worker by :meth:`PreparePool.warm`, whose unpickling of this
    function imports the parsing modules in the new process."""


class PreparePool:
    """Runs :func:`prepare_body` in worker processes when asked to; in the loop otherwise.

    Workers start on first use ("spawn": the bot's process holds threads and sockets a
    fork would copy mid-flight), only import the parsing and cleaning modules, and are
    stopped after ``idle`` unused (a small install, or a quiet spell, holds no process
    for them). A worker that dies (killed, out of memory) breaks the pool: that body is
    prepared in the loop instead, and so is everything for ``rest`` seconds before a fresh
    pool is tried (a worker that cannot start at all must not be respawned per feed), so
    a feed never fails for it.
    """

    def __init__(self, workers: int, *, idle: float = 600.0, rest: float = 300.0) -> None:
        self.workers = workers
        self.idle = idle
        self.rest = rest
        self._executor: Executor | None = None
        self._last_used = 0.0
        self._broken_at: float | None = None

    def warm(self) -> None:
        """Start the workers now, without waiting for them: a cycle calls this as it claims
        its feeds, so the processes start and import while the first fetches are in
        flight instead of after the first body arrives."""
        executor = self._ready_executor(asyncio.get_running_loop().time())
        if executor is not None:
            for _ in range(self.workers):
                executor.submit(_ready)

    def _ready_executor(self, now: float) -> Executor | None:
        """The executor to use now, started if need be; None: prepare in the loop."""
        if self.workers <= 0:
            return None
        if self._broken_at is not None:
            if now - self._broken_at < self.rest:
                return None
            self._broken_at = None
        self._last_used = now
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def sends(self, in_worker: bool) -> bool:
        """Whether :meth:`prepare` hands a body asked ``in_worker`` to a worker process (a
        broken pool's fallback aside): such a body may come undecoded, the worker decodes."""
        return in_worker and self.workers > 0

    async def prepare(self, job: PrepareJob, *, in_worker: bool = True) -> Prepared:
        if not self.sends(in_worker):
            return prepare_body(job)
        loop = asyncio.get_running_loop()
        executor = self._ready_executor(loop.time())
        if executor is None:
            return prepare_body(job)
        try:
            return await loop.run_in_executor(executor, prepare_body, job)
        except BrokenProcessPool:
            if self._broken_at is None:
                log.warning(
                    "a feed-parsing worker process died; parsing in the main process",
                    extra={"retry_in_seconds": self.rest},
                )
            self._broken_at = loop.time()
            self._stop(wait=False)
            return prepare_body(job)

    def stop_if_idle(self, now: float) -> None:
        """Stop the workers when nothing used them for ``idle`` seconds (loop time)."""
        if self._executor is not None and now - self._last_used >= self.idle:
            self._stop(wait=False)

    @property
    def running(self) -> bool:
        return self._executor is not None

    def close(self) -> None:
        self._stop(wait=True)

    def _stop(self, *, wait: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)
