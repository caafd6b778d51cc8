"""The poll pipeline end to end: a real local feed server, a real SQLite file, the real core.

Each test drives polls the way `wirewatch poll --once` does and checks the alerts a user
would expect across seeding, new items, re-dated and re-guided items, restarts, old items,
the same story from several outlets, and broken feeds.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.api import Caller
from bot.core.intents import HELD_LOOKUPS
from bot.core.models import Alert, WhyReport
from bot.settings import Settings
from bot.store.schema import alerts
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

WATCHES = [
    {"query": '"rare earth"', "name": "rare earth"},
    {"query": 'Greer -"Germaine Greer"', "name": "Greer"},
]


def item(
    slug: str,
    title: str,
    clock: FakeClock,
    *,
    age_minutes: int = 30,
    host: str = "reuters.test",
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "title": title,
        "link": f"https://{host}/{slug}",
        "guid": f"{host}-{slug}",
        "description": extra.pop("description", f"{title}. More to follow."),
        "pubDate": clock.now() - timedelta(minutes=age_minutes),
    }
    data.update(extra)
    return data


async def poll(settings: Settings, clock: FakeClock) -> list[Alert]:
    async with core_for(settings, clock=clock) as core:
        report = await core.poll(due_only=False)
        return await core.store.alerts_by_ids(report.alert_ids)


async def test_first_poll_is_silent_then_new_items_alert_once(tmp_path: Path) -> None:
    """A new feed's existing items are recorded silently; a later item alerts exactly once."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES)
        old = [item("a", "China tightens rare earth rules", clock, age_minutes=120)]
        server.set_feed("/r.rss", rss(old))
        assert await poll(settings, clock) == []

        clock.advance(minutes=10)
        new = item("b", "Rare-earth exports slump as curbs bite", clock, age_minutes=1)
        server.set_feed("/r.rss", rss([new, *old]))
        alerts = await poll(settings, clock)
        assert [(a.title, a.matched, a.watch_name) for a in alerts] == [
            ("Rare-earth exports slump as curbs bite", ("rare earth",), "rare earth")
        ]
        assert alerts[0].url == "https://reuters.test/b"

        clock.advance(minutes=10)
        assert await poll(settings, clock) == []  # unchanged feed: a 304, nothing twice
        assert server.last_headers("/r.rss").get("If-None-Match")


async def test_restart_and_reordered_redated_or_reguided_items_never_repeat(tmp_path: Path) -> None:
    """Items seen before stay seen after a restart, re-ordering, re-dating, a new guid for
    the same URL, or tracking parameters added to the URL."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES)
        server.set_feed("/r.rss", rss([item("seed", "Markets open", clock)]))
        await poll(settings, clock)
        a = item("a", "Rare earth prices jump", clock, age_minutes=5)
        b = item("b", "Greer heads to Geneva for rare earth talks", clock, age_minutes=4)
        server.set_feed("/r.rss", rss([a, b]))
        assert len(await poll(settings, clock)) == 3  # a: rare earth; b: rare earth + Greer

        clock.advance(minutes=30)
        redated = dict(a, pubDate=clock.now())
        reguided = dict(b, guid="new-cms-guid-123", link=b["link"] + "?utm_source=rss&fbclid=x")
        server.set_feed("/r.rss", rss([reguided, redated]))  # reordered as well
        assert await poll(settings, clock) == []


SCMP_HEADLINE = "China, U.S. set for key trade talks in Malaysia"


async def test_same_story_from_two_outlets_alerts_once_per_watch(tmp_path: Path) -> None:
    """Near-duplicate headlines from two outlets share one story key and one alert."""
    clock = FakeClock()
    async with FeedServer() as server:
        feeds = [server.url("/reuters.rss"), server.url("/scmp.rss")]
        watches = [{"query": '"He Lifeng" OR Malaysia', "name": "talks"}]
        settings = make_settings(tmp_path, feeds=feeds, watches=watches)
        server.set_feed("/reuters.rss", rss([item("x", "Fed holds rates", clock)], title="Reuters"))
        hk = item("y", "HK stocks rise", clock, host="scmp.test")
        server.set_feed("/scmp.rss", rss([hk], title="SCMP"))
        await poll(settings, clock)

        r = item("kl", "China, U.S. set for key trade talks in Malaysia this week", clock)
        s = item("kl2", SCMP_HEADLINE, clock, host="scmp.test")
        server.set_feed("/reuters.rss", rss([r], title="Reuters"))
        server.set_feed("/scmp.rss", rss([s], title="SCMP"))
        alerts = await poll(settings, clock)
        assert len(alerts) == 1

        async with core_for(settings, clock=clock) as core:
            first = await core.store.article_by_url(r["link"])
            second = await core.store.article_by_url(s["link"])
            found = await core.api.latest(Caller.console(), limit=10)
        assert first.story_key == second.story_key == alerts[0].story_key
        # `latest` lists the story once, by its newest article, naming the other outlet.
        shown = [a for a in found.articles if a.story_key == alerts[0].story_key]
        assert len(shown) == 1
        assert {shown[0].url, *(url for _, url in shown[0].coverage)} == {r["link"], s["link"]}
        assert {shown[0].source, *shown[0].also_reported_by} == {"Reuters", "SCMP"}
        assert len(found.articles) == 3  # and the two earlier headlines, each its own story


LEAD = "China expands rare earth export controls to five more elements"
LEAD_RETITLES = (
    "China expands rare earth export controls to seven elements",
    "China adds seven rare earths to export control list, citing security",
)


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
async def test_an_outlet_with_a_retitled_leads_first_headline_joins_its_story_after_a_restart(
    tmp_path: Path, restart: bool
) -> None:
    """The story index knows a lead by the headline it first saw, and a retitle does not
    change that while the instance runs: an outlet carrying the lead's first headline
    joins the story. A restarted instance, its index rebuilt from the store, groups it
    the same way (it indexed the new headline, and the outlet's alert came a second
    time)."""
    clock = FakeClock()
    async with FeedServer() as server, contextlib.AsyncExitStack() as stack:
        feeds = [server.url("/reuters.rss"), server.url("/scmp.rss")]
        settings = make_settings(tmp_path, feeds=feeds, watches=WATCHES)
        server.set_feed("/reuters.rss", rss([item("x", "Fed holds rates", clock)], title="Reuters"))
        hk = item("y", "HK stocks rise", clock, host="scmp.test")
        server.set_feed("/scmp.rss", rss([hk], title="SCMP"))
        core = await stack.enter_async_context(core_for(settings, clock=clock))
        assert (await core.poll(due_only=False)).alert_ids == []  # seeding is silent

        clock.advance(minutes=10)
        lead = item("controls", LEAD, clock, age_minutes=5)
        server.set_feed("/reuters.rss", rss([lead], title="Reuters"))
        assert len((await core.poll(due_only=False)).alert_ids) == 1

        for title in LEAD_RETITLES:  # retitled twice: the first headline is still kept
            clock.advance(minutes=10)
            retitled = dict(lead, title=title, description=f"{title}. More to follow.")
            server.set_feed("/reuters.rss", rss([retitled], title="Reuters"))
            assert (await core.poll(due_only=False)).alert_ids == []
            assert (await core.store.article_by_url(lead["link"])).title == title

        if restart:
            await stack.aclose()  # the process ends; a new one opens the same file
            core = await stack.enter_async_context(core_for(settings, clock=clock))

        clock.advance(minutes=10)
        later = item("controls", LEAD, clock, age_minutes=5, host="scmp.test")
        server.set_feed("/scmp.rss", rss([later], title="SCMP"))
        assert (await core.poll(due_only=False)).alert_ids == []  # it grows the story
        first = await core.store.article_by_url(lead["link"])
        second = await core.store.article_by_url(later["link"])
        assert second.story_key == first.story_key
        async with core.store.transaction() as conn:
            queued = (await conn.execute(select(alerts.c.story_key))).scalars().all()
        assert queued == [first.story_key]  # one alert in all: the lead's


async def test_a_new_feeds_backlog_joins_a_running_story_with_its_newest_items_only(
    tmp_path: Path,
) -> None:
    """An outlet added to a running bot: its first poll is silent, its newest item about a
    story the bot is telling joins that story, and an item of the same story further down
    its backlog than HELD_LOOKUPS keeps a story of its own (it is not looked up)."""
    clock = FakeClock()
    async with FeedServer() as server:
        reuters, scmp = server.url("/reuters.rss"), server.url("/scmp.rss")
        watches = [{"query": '"He Lifeng" OR Malaysia', "name": "talks"}]
        settings = make_settings(tmp_path, feeds=[reuters], watches=watches)
        server.set_feed("/reuters.rss", rss([item("x", "Fed holds rates", clock)]))
        await poll(settings, clock)
        headline = "China, U.S. set for key trade talks in Malaysia this week"
        server.set_feed("/reuters.rss", rss([item("kl", headline, clock, age_minutes=5)]))
        [alert] = await poll(settings, clock)

        clock.advance(minutes=10)
        backlog = [
            item("kl2", headline, clock, age_minutes=2, host="scmp.test"),
            *(
                item(f"o{n}", f"Harbour ferry timetable {n} changes", clock, age_minutes=10 + n)
                for n in range(HELD_LOOKUPS)
            ),
            # Joins when looked up (the two-outlet test above shows these headlines do).
            item("kl3", SCMP_HEADLINE, clock, age_minutes=90, host="scmp.test"),
        ]
        server.set_feed("/scmp.rss", rss(backlog))
        both = make_settings(tmp_path, feeds=[reuters, scmp], watches=watches)
        assert await poll(both, clock) == []  # a new feed's first poll is silent
        async with core_for(both, clock=clock) as core:
            joined = await core.store.article_by_url("https://scmp.test/kl2")
            apart = await core.store.article_by_url("https://scmp.test/kl3")
        assert joined.story_key == alert.story_key
        assert apart.story_key != alert.story_key


async def published_after_seeding(
    tmp_path: Path, clock: FakeClock, new: dict[str, Any], url: str
) -> tuple[list[Alert], WhyReport]:
    """A feed seeded with one item, then showing ``new``: the second poll's alerts, and
    what `why` says of ``url``."""
    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES)
        server.set_feed("/r.rss", rss([item("seed", "Markets open", clock)]))
        await poll(settings, clock)
        server.set_feed("/r.rss", rss([new]))
        alerts = await poll(settings, clock)
        async with core_for(settings, clock=clock) as core:
            return alerts, await core.api.why(Caller.console(), url)


async def test_a_recurring_headline_twice_in_a_day_is_two_items(tmp_path: Path) -> None:
    """A live blog's "Live updates" at 09:00 and another at 09:20, each with its own link
    and guid: the second alerts too (a key of headline and day took it for the first)."""
    clock = FakeClock()
    fed = item(
        "live-fed", "Live updates", clock, description="The Fed holds rates.", age_minutes=20
    )
    curbs = item("live-curbs", "Live updates", clock, description="China widens rare earth curbs.")
    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES)
        server.set_feed("/r.rss", rss([item("seed", "Markets open", clock)]))
        assert await poll(settings, clock) == []
        server.set_feed("/r.rss", rss([fed]))
        assert await poll(settings, clock) == []  # no watch of ours
        clock.advance(minutes=5)
        server.set_feed("/r.rss", rss([curbs, fed]))
        alerts = await poll(settings, clock)
    assert [a.url for a in alerts] == ["https://reuters.test/live-curbs"]


async def test_a_feeds_ttl_keeps_its_cadence_through_not_modified_answers(tmp_path: Path) -> None:
    """A feed asking for a 20-minute <ttl>: polled every 20 minutes, also after a 304 or
    an unchanged body, which carry no <ttl> (the configured 5 minutes came back then)."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES)
        server.set_feed("/r.rss", rss([item("seed", "Markets open", clock)], ttl=20))
        async with core_for(settings, clock=clock) as core:
            await core.poll(due_only=False)  # the new body
            due = []
            for _ in range(3):  # a 304 each time, polled when due
                [feed] = await core.store.list_feeds()
                assert feed.next_poll_at is not None
                due.append(feed.next_poll_at)
                clock.advance(seconds=(feed.next_poll_at - clock.now()).total_seconds() + 1)
                assert (await core.poll(due_only=True)).not_modified == 1
    assert server.last_headers("/r.rss").get("If-None-Match")
    gaps = [later - earlier for earlier, later in pairwise(due)]
    assert all(timedelta(minutes=19) < gap < timedelta(minutes=21) for gap in gaps), gaps


async def test_many_feeds_on_one_busy_host_wait_their_turn_not_time_out(tmp_path: Path) -> None:
    """Twelve feeds on one host (Google News searches), two connections to it at a time,
    each answer in 0.5 s, a 2 s deadline: every feed is fetched. Waiting for the host's
    connection counted against the deadline, so half of them failed as timeouts."""
    clock = FakeClock()
    async with FeedServer() as server:
        server.delay = 0.5
        paths = [f"/f{i}.rss" for i in range(12)]
        for path in paths:
            server.set_feed(path, rss([item(path.strip("/"), "Markets open", clock)]))
        fetch = {"allow_private_addresses": True, "timeout_seconds": 1, "per_host": 2}
        settings = make_settings(
            tmp_path, feeds=[server.url(p) for p in paths], watches=WATCHES, fetch=fetch
        )
        async with core_for(settings, clock=clock) as core:
            report = await core.poll(due_only=False)
    assert (report.fetched, report.failed, report.errors) == (12, 0, {})


async def test_items_older_than_the_age_limit_do_not_alert(tmp_path: Path) -> None:
    """A newly found item published four days ago is recorded but never alerts."""
    clock = FakeClock()
    stale = item("old", "Rare earth quotas set", clock, age_minutes=4 * 24 * 60)
    alerts, why = await published_after_seeding(tmp_path, clock, stale, "https://reuters.test/old")
    assert alerts == []
    assert any("older than the alert age limit" in line for line in why.lines)


def portuguese_date(when: datetime) -> str:
    """RFC 822 as a Brazilian news site writes it: "Qua, 02 Dez 2026 09:15:00 -0300"."""
    days = ["Seg", "Ter", "Qua", "Qui", "Sex", "Sáb", "Dom"]
    months = ["Jan", "Fev", "Mar", "Abr", "Mai", "Jun", "Jul", "Ago", "Set", "Out", "Nov", "Dez"]
    local = when.astimezone(timezone(timedelta(hours=-3)))
    return (
        f"{days[local.weekday()]}, {local.day:02d} {months[local.month - 1]} {local.year}"
        f" {local:%H:%M:%S} -0300"
    )


async def test_an_old_item_dated_in_portuguese_is_known_to_be_old(tmp_path: Path) -> None:
    """Day and month names in another language are still a date: an item published four
    days ago never alerts, and `why` says so (undated, it would have counted as new)."""
    clock = FakeClock()
    date = portuguese_date(clock.now() - timedelta(days=4))
    stale = item("velho", "Rare earth quotas set", clock, pubDate=date)
    url = "https://reuters.test/velho"
    alerts, why = await published_after_seeding(tmp_path, clock, stale, url)
    assert alerts == []
    assert any("older than the alert age limit" in line for line in why.lines)

    fresh = item("novo", "Rare earth quotas set", clock, pubDate=portuguese_date(clock.now()))
    alerts, _ = await published_after_seeding(tmp_path / "2", clock, fresh, "")
    assert [a.url for a in alerts] == ["https://reuters.test/novo"]
    assert alerts[0].published is not None
    assert abs(alerts[0].published - clock.now()) < timedelta(seconds=1)


async def test_an_item_dated_days_ahead_alerts_as_new_and_why_says_why(tmp_path: Path) -> None:
    """A publisher's clock or template bug dates an item years ahead: it alerts as new,
    dated when it was first seen, and `why` says the feed's date was set aside."""
    clock = FakeClock()
    ahead = item("ahead", "Rare earth quotas set", clock, pubDate=clock.now() + timedelta(days=3))
    url = "https://reuters.test/ahead"
    alerts, why = await published_after_seeding(tmp_path, clock, ahead, url)
    assert [a.url for a in alerts] == [url]
    assert alerts[0].published is None
    assert any("or one more than a day ahead: first-seen time used" in line for line in why.lines)


async def test_why_says_when_no_watch_found_anything(tmp_path: Path) -> None:
    """`why` on an article no watch has a word of: it says so, rather than nothing."""
    clock = FakeClock()
    cat = item("cat", "Cat rescued from tree", clock)
    _, why = await published_after_seeding(tmp_path, clock, cat, "https://reuters.test/cat")
    assert why.found
    assert why.lines[-1] == f"No watch found any of its terms in it ({len(WATCHES)} checked)."


async def test_backfill_alerts_the_newest_items_of_a_new_feed(tmp_path: Path) -> None:
    """With backfill = 1 the first poll alerts only the newest matching item."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(
            tmp_path, feeds=[server.url("/r.rss")], watches=WATCHES, poll={"backfill": 1}
        )
        server.set_feed(
            "/r.rss",
            rss(
                [
                    item("old", "Rare earth miners rally", clock, age_minutes=90),
                    item("new", "Rare earth magnets in short supply", clock, age_minutes=5),
                ]
            ),
        )
        alerts = await poll(settings, clock)
        assert [a.title for a in alerts] == ["Rare earth magnets in short supply"]


async def test_a_broken_feed_is_marked_failing_and_never_stops_the_others(tmp_path: Path) -> None:
    """A 500 and a non-feed body fail with reasons; the healthy feed still alerts."""
    clock = FakeClock()
    async with FeedServer() as server:
        feeds = [server.url("/good.rss"), server.url("/down.rss"), server.url("/html")]
        settings = make_settings(tmp_path, feeds=feeds, watches=WATCHES, poll={"failing_after": 2})
        server.set_feed("/good.rss", rss([item("seed", "Markets open", clock)]))
        server.set_feed("/down.rss", "oops", status=500)
        server.set_feed("/html", "<html><body>Not a feed</body></html>", content_type="text/html")
        await poll(settings, clock)
        clock.advance(minutes=10)
        server.set_feed(
            "/good.rss", rss([item("n", "Rare earth deal signed", clock, age_minutes=1)])
        )
        async with core_for(settings, clock=clock) as core:
            report = await core.poll(due_only=False)
            assert len(report.alert_ids) == 1
            status = await core.api.status(Caller.console())
        failing = {f.url: f for f in status.failing_feeds}
        assert set(failing) == {server.url("/down.rss"), server.url("/html")}
        assert "500" in (failing[server.url("/down.rss")].last_error or "")
        assert failing[server.url("/html")].error_since is not None
        assert {n.feed_url for n in report.notices if n.failing} == set(failing)


async def test_one_fetch_per_feed_per_cycle_however_many_watches(tmp_path: Path) -> None:
    """Fifty watches over one feed cost one request per cycle."""
    clock = FakeClock()
    async with FeedServer() as server:
        watches = [{"query": f"term{i} OR rare"} for i in range(50)]
        settings = make_settings(tmp_path, feeds=[server.url("/r.rss")], watches=watches)
        server.set_feed("/r.rss", rss([item("a", "Rare find", clock)]))
        await poll(settings, clock)
        assert server.hits("/r.rss") == 1


async def test_a_feedburner_relayed_article_is_the_publishers_own_and_alerts_once(
    tmp_path: Path,
) -> None:
    """A FeedBurner feed links each item through its click tracker and names the
    publisher's URL in ``feedburner:origLink``: the alert links the article itself, and
    the same article in the publisher's own feed, polled in the same cycle under another
    headline, is the same article (one alert), not a second story."""
    clock = FakeClock()
    article = "https://reuters.test/rare-earth-quota"
    relayed = item(
        "x",
        "Rare earth miners get their 2027 allowance",
        clock,
        link="http://feedproxy.test/~r/reuters/~3/Ab1/rare-earth-quota",
        guid="reuters-relay-118",
        orig_link=article,
    )
    own = item("rare-earth-quota", "China sets new rare earth mining quota", clock)
    async with FeedServer() as server:
        feeds = [server.url("/fb.rss"), server.url("/own.rss")]
        settings = make_settings(tmp_path, feeds=feeds, watches=WATCHES)
        for path in ("/fb.rss", "/own.rss"):
            server.set_feed(path, rss([item("seed", "Markets open", clock)]))
        await poll(settings, clock)
        server.set_feed("/fb.rss", rss([relayed], title="Reuters via FeedBurner"))
        server.set_feed("/own.rss", rss([own], title="Reuters"))
        alerts = await poll(settings, clock)
    assert [a.url for a in alerts] == [article]


async def test_a_bing_news_item_fetched_again_with_a_new_click_id_never_alerts_twice(
    tmp_path: Path,
) -> None:
    """Bing News search feeds link through a click counter whose ``tid`` changes on every
    fetch, with no guid: the article behind it is one item, and its outlet is its host."""
    clock = FakeClock()
    target = "https%3a%2f%2fwww.harbordaily.example%2fports%2frare-earth-magnets.html"

    def bing(tid: str, title: str = "Rare earth magnets pile up at US ports") -> dict[str, Any]:
        return {
            "title": title,
            "link": f"http://www.bing.com/news/apiclick.aspx?ref=FexRss&tid={tid}&url={target}",
            "description": f"{title}. More to follow.",
            "pubDate": clock.now() - timedelta(minutes=20),
        }

    async with FeedServer() as server:
        settings = make_settings(tmp_path, feeds=[server.url("/bing.rss")], watches=WATCHES)
        server.set_feed("/bing.rss", rss([item("seed", "Markets open", clock)]))
        await poll(settings, clock)
        server.set_feed("/bing.rss", rss([bing("A1")], title="rare earth - BingNews"))
        first = await poll(settings, clock)
        assert [(a.url, a.source) for a in first] == [
            ("https://www.harbordaily.example/ports/rare-earth-magnets.html", "harbordaily.example")
        ]
        server.set_feed("/bing.rss", rss([bing("B2")], title="rare earth - BingNews"))
        assert await poll(settings, clock) == []
