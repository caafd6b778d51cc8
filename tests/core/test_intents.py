"""The batch plan is pure: what a poll records is decided from fetched entries and what
the store says it has seen, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core import intents
from bot.core.articles import raw_entry_key
from bot.core.decide import HELD_FIRST_POLL, headline_note
from bot.core.errors import FeedError
from bot.core.fetch import FetchResult
from bot.core.intents import FeedOutcome, PlacementFacts, StoredArticle
from bot.core.models import FeedEntry
from bot.core.storeport import FeedRow
from bot.core.stories import StoryIndex

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _feed(feed_id: int, *, seeded: bool = True, failures: int = 0) -> FeedRow:
    return FeedRow(
        id=feed_id,
        url=f"https://news{feed_id}.example/rss",
        name=f"News {feed_id}",
        interval=600,
        etag=None,
        last_modified=None,
        body_hash=None,
        seeded=seeded,
        consecutive_failures=failures,
        error_since=None,
        last_error=None,
        failing_notified=False,
    )


def _entry(n: int, title: str) -> FeedEntry:
    return FeedEntry(
        guid=f"item-{n}",
        link=f"https://outlet.example/{n}",
        title=title,
        summary=f"{title}. More on the story.",
        published=NOW - timedelta(minutes=n),
    )


def _outcome(feed: FeedRow, entries: list[FeedEntry]) -> FeedOutcome:
    return FeedOutcome(
        feed=feed,
        fetched_at=NOW,
        entries=[(e, raw_entry_key(e, feed_url=feed.url)) for e in entries],
        feed_title=feed.name,
    )


def _plan(outcomes: list[FeedOutcome], seen_raw: dict[tuple[int, str], str | None]):  # type: ignore[no-untyped-def]
    screened = intents.screen_entries(outcomes, seen_raw)
    return intents.plan_entries(screened, {}, now=NOW, backfill=0, max_age=timedelta(days=2))


def test_an_entry_whose_raw_key_was_seen_is_old_news() -> None:
    feed = _feed(1)
    old, new = _entry(1, "Tariff talks resume"), _entry(2, "Port strike ends")
    outcome = _outcome(feed, [old, new])
    seen = {(1, raw_entry_key(old, feed_url=feed.url)): headline_note(old.title)}
    plan = _plan([outcome], seen)
    assert [d.article.title for f in plan.fresh for d in f.decisions] == ["Port strike ends"]
    recorded = {s.key for s in plan.seen}
    assert raw_entry_key(new, feed_url=feed.url) in recorded
    assert raw_entry_key(old, feed_url=feed.url) not in recorded
    assert plan.retitles == ()


def test_a_known_item_with_another_headline_is_planned_as_a_retitle() -> None:
    feed = _feed(1)
    before = _entry(1, "Tariff talks resume")
    after = _entry(1, "Tariff talks collapse")
    raw = raw_entry_key(after, feed_url=feed.url)
    plan = _plan([_outcome(feed, [after])], {(1, raw): headline_note(before.title)})
    assert plan.fresh == ()
    assert [r.title for r in plan.retitles] == ["Tariff talks collapse"]
    assert plan.seen_notes == {(1, raw): headline_note(after.title)}


def test_a_new_feeds_items_are_recorded_silently() -> None:
    plan = _plan([_outcome(_feed(1, seeded=False), [_entry(1, "Tariff talks resume")])], {})
    (decision,) = plan.fresh[0].decisions
    assert not decision.alert and decision.held_reason == HELD_FIRST_POLL


def test_two_outlets_copies_of_one_story_queue_one_alert_per_watch_and_channel() -> None:
    a = _outcome(_feed(1), [_entry(1, "China tightens rare earth export controls")])
    b = _outcome(_feed(2), [_entry(2, "China tightens rare earth export controls again")])
    plan = _plan([a, b], {})

    def targets(article, reach):  # type: ignore[no-untyped-def]
        return [(7, "slack:C1", ("rare earth",)), (7, "discord:9", ("rare earth",))]

    placed = intents.place_articles(
        plan, PlacementFacts(stored={}), stories=StoryIndex(), targets=targets
    )
    assert len(placed.articles) == 2
    assert len({p.story_key for p in placed.articles}) == 1
    assert sorted((x.watch_id, x.destination) for x in placed.alerts) == [
        (7, "discord:9"),
        (7, "slack:C1"),
    ]


def test_an_article_stored_before_keeps_its_story_and_is_not_stored_again() -> None:
    outcome = _outcome(_feed(1), [_entry(1, "Port strike ends")])
    plan = _plan([outcome], {})
    url = plan.fresh[0].decisions[0].article.url
    facts = PlacementFacts(stored={url: StoredArticle(5, "s-known", None, "Port strike ends")})
    placed = intents.place_articles(
        plan, facts, stories=StoryIndex(), targets=lambda a, r: [(3, "slack:C1", ("port",))]
    )
    assert placed.articles == ()
    assert [(x.story_key, x.article_url) for x in placed.alerts] == [("s-known", url)]


def test_a_feed_is_announced_failing_once_when_it_crosses_the_threshold() -> None:
    error = FeedError("HTTP 500")
    update, notice = intents.failure_update(
        _feed(1, failures=2), fetched_at=NOW, error=error, now=NOW, failing_after=3
    )
    assert notice is not None and notice.failing
    assert update.consecutive_failures == 3 and update.failing_notified
    assert update.next_poll_at > NOW
    told = replace(_feed(1, failures=3), failing_notified=True)
    _, again = intents.failure_update(told, fetched_at=NOW, error=error, now=NOW, failing_after=3)
    assert again is None


def test_a_304_keeps_the_validators_and_a_new_body_replaces_them() -> None:
    def result(not_modified: bool) -> FetchResult:
        return FetchResult(
            url="u",
            final_url="u",
            status=304 if not_modified else 200,
            not_modified=not_modified,
            body=None,
            body_hash="h",
            etag='"e2"',
            last_modified=None,
            content_type=None,
            max_age=None,
            elapsed=0.1,
        )

    unchanged = intents.feed_update(
        _feed(1), fetched_at=NOW, result=result(True), ttl_seconds=None, now=NOW
    )
    changed = intents.feed_update(
        _feed(1), fetched_at=NOW, result=result(False), ttl_seconds=None, now=NOW
    )
    assert unchanged.validators is None and unchanged.succeeded
    assert changed.validators is not None and changed.validators.etag == '"e2"'
