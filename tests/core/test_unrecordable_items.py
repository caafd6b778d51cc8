"""Items that cannot be recorded as they are: a lone UTF-16 surrogate (an emoji cut in
half by a script, valid JSON, or an XML character reference to one) is made U+FFFD, and a
feed whose items the store refuses for any reason fails alone, with its reason, while the
feeds recorded beside it still alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.parsing import parse_feed
from tests.core.test_pipeline import WATCHES, item, poll
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

CUT_EMOJI = "truncated emoji \\ud83d here"  # JSON text: a high surrogate with no low one


def json_feed(items: list[dict[str, Any]], *, raw_summary: str | None = None) -> str:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items})
    return body if raw_summary is None else body.replace("SUMMARY", raw_summary)


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    body = json_feed(
        [{"id": "2", "url": "https://j.test/2", "title": "Smile \\ud83d", "summary": "SUMMARY"}],
        raw_summary=CUT_EMOJI,
    ).replace("Smile \\\\ud83d", "Smile \\ud83d")
    [entry] = parse_feed(body.encode(), url="https://j.test/feed.json").entries
    assert entry.title == "Smile \ufffd"
    assert entry.summary == "truncated emoji \ufffd here"
    entry.summary.encode("utf-8")  # text the database and chat APIs take
    xml = (
        b'<rss version="2.0"><channel><title>x</title><item><title>a &#xD83D; b &#55357;'
        b"</title><link>https://e.test/a</link></item><item><title>c</item>"
        b"</channel></rss>"
    )
    entries = parse_feed(xml, url="https://e.test/feed.rss").entries
    assert entries and all("\ud83d" not in e.title for e in entries)


async def test_a_cut_emoji_in_one_feed_never_stops_the_others(tmp_path: Path) -> None:
    """It used to make the whole batch's write fail: the healthy feed beside it lost its
    alert every cycle, and both showed `ok`."""
    clock = FakeClock()
    async with FeedServer() as server:
        feeds = [server.url("/ok.rss"), server.url("/j.json")]
        settings = make_settings(tmp_path, feeds=feeds, watches=WATCHES)
        server.set_feed("/ok.rss", rss([item("seed", "Markets open", clock)]))
        seed = [{"id": "1", "url": "https://j.test/1", "title": "Hello", "summary": "fine"}]
        server.set_feed("/j.json", json_feed(seed), content_type="application/feed+json")
        assert await poll(settings, clock) == []
        clock.advance(minutes=10)
        fresh = item("n", "Rare earth curbs widen", clock, age_minutes=1)
        server.set_feed("/ok.rss", rss([fresh, item("seed", "Markets open", clock)]))
        cut = {
            "id": "2",
            "url": "https://j.test/2",
            "title": "Rare earth smile",
            "summary": "SUMMARY",
        }
        server.set_feed(
            "/j.json",
            json_feed([cut, *seed], raw_summary=CUT_EMOJI),
            content_type="application/feed+json",
        )
        alerts = await poll(settings, clock)
    assert sorted(a.title for a in alerts) == ["Rare earth curbs widen", "Rare earth smile"]


async def test_a_feed_the_store_refuses_fails_alone_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever makes one feed's write fail (here the store refuses any batch holding it),
    the feeds written beside it still alert, and that feed is marked as failing with the
    reason instead of being fetched again at once, every tick."""
    clock = FakeClock()
    async with FeedServer() as server:
        feeds = [server.url("/ok.rss"), server.url("/bad.rss")]
        settings = make_settings(tmp_path, feeds=feeds, watches=WATCHES)
        server.set_feed("/ok.rss", rss([item("seed", "Markets open", clock)]))
        server.set_feed("/bad.rss", rss([item("seed", "Bonds steady", clock, host="b.test")]))
        assert await poll(settings, clock) == []
        clock.advance(minutes=10)
        server.set_feed(
            "/ok.rss",
            rss([item("n", "Rare earth curbs widen", clock, age_minutes=1)]),
        )
        server.set_feed(
            "/bad.rss",
            rss([item("m", "Rare earth magnets", clock, age_minutes=1, host="b.test")]),
        )
        async with core_for(settings, clock=clock) as core:
            apply_ingest = core.store.apply_ingest

            async def refusing(plan: Any, place: Any) -> Any:
                if any(u.feed_id == bad for u in plan.feeds if u.error is None):
                    raise RuntimeError("the database refused this write")
                return await apply_ingest(plan, place)

            [bad] = [f.id for f in await core.store.list_feeds() if f.url.endswith("/bad.rss")]
            monkeypatch.setattr(core.store, "apply_ingest", refusing)
            report = await core.poll(due_only=False)
            alerts = await core.store.alerts_by_ids(report.alert_ids)
            status = {f.url.rsplit("/", 1)[1]: f for f in await core.store.list_feeds()}
            clock.advance(minutes=1)
            fetched = server.hits("/bad.rss")
            again = await core.poll(due_only=True)
            fetched_again = server.hits("/bad.rss") - fetched
    assert [a.title for a in alerts] == ["Rare earth curbs widen"]
    assert status["bad.rss"].last_error == (
        "internal error: its items could not be recorded (RuntimeError)"
    )
    assert status["ok.rss"].last_error is None
    # The failing feed backs off like any other failure (the healthy one may be due: its
    # slot can fall within the minute).
    assert fetched_again == 0 and again.failed == 0
