"""One command contract, two platforms: every catalogue command driven as a user would
(a Socket Mode slash command through the real slack-bolt app; an INTERACTION_CREATE
through the real discord.py client), against the real core on SQLite. The same table
of expectations holds on both, because both adapters only translate."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiohttp import web

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.slack.app import SlackAdapter
from bot.app import Core
from bot.core import service
from bot.core.api import Caller
from bot.core.commands.catalogue import CATALOGUE, COMMANDS
from tests.adapters.slack.conftest import _PROXY_VARS, slack_settings
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, FakeDiscord
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

WATCHES = [{"query": '"rare earth"', "name": "rare earth"}, {"query": "lithium", "name": "lithium"}]
# Google News searches go to the feed server (``[fetch] google_news_url``), never to Google.
SEARCH_PATH = "/rss/search"
SEARCH_ARGS = "?q={q}&hl=en-US&gl=US&ceid=US:en"
SLACK_ADMIN, SLACK_MEMBER = "UADMIN", "UMEMBER"


@dataclass
class Answer:
    text: str
    public: bool  # the channel saw the answer or an announcement of the change


class Chat(Protocol):
    core: Core

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, manager: bool = True,
        other_channel: bool = False,
    ) -> Answer: ...  # fmt: skip

    def here(self, *, other_channel: bool = False) -> Caller: ...


def _plain(text: str) -> str:
    """Markup-free text, so one expectation reads the same on both platforms."""
    text = re.sub(r"[*`\\]", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackChat:
    def __init__(self, core: Core, slack: FakeSlack) -> None:
        self.core, self.slack = core, slack

    def here(self, *, other_channel: bool = False) -> Caller:
        return Caller("slack:C2" if other_channel else "slack:C1", f"slack:{TEAM_ID}")

    @staticmethod
    def text_for(name: str, args: dict[str, Any]) -> str:
        words = [name]
        options = {p.name for p in COMMANDS[name].params if p.option}
        for key, value in args.items():
            if key in options:
                words.append(f"--{key} {value}")
            elif value is True:
                words.append(key)
            else:
                words.append(str(value))
        return " ".join(words)

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, manager: bool = True,
        other_channel: bool = False,
    ) -> Answer:  # fmt: skip
        channel = "C2" if other_channel else "C1"
        posts_before = len(self.slack.posts(channel))
        responses_before = len(self.slack.responses)
        ack = await self.slack.send_slash_command(
            self.text_for(name, args or {}),
            user_id=SLACK_ADMIN if manager else SLACK_MEMBER,
            channel_id=channel,
        )
        message = ack
        if not ack.get("blocks"):  # a slow command: the answer follows via response_url
            await self.slack.wait_for(lambda: len(self.slack.responses) > responses_before)
            message = self.slack.responses[-1].body
        blocks = "\n".join(b["text"]["text"] for b in message.get("blocks") or [] if b.get("text"))
        public = message.get("response_type") == "in_channel"
        if not public:
            try:
                await self.slack.wait_for(
                    lambda: len(self.slack.posts(channel)) > posts_before, within=0.3
                )
                public = True
            except TimeoutError:
                public = False
        return Answer(_plain(blocks or message.get("text", "")), public)


class DiscordChat:
    def __init__(self, core: Core, fake: FakeDiscord) -> None:
        self.core, self.fake = core, fake

    def here(self, *, other_channel: bool = False) -> Caller:
        channel = OTHER_CHANNEL_ID if other_channel else CHANNEL_ID
        return Caller(f"discord:{channel}", f"discord:g:{GUILD_ID}")

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, manager: bool = True,
        other_channel: bool = False,
    ) -> Answer:  # fmt: skip
        group, _, leaf = name.partition(" ")
        options = {
            ("watch" if k == "watches" else k.replace("-", "_")): v for k, v in (args or {}).items()
        }
        call = await self.fake.slash(
            group,
            options,
            subcommand=leaf or None,
            channel_id=OTHER_CHANNEL_ID if other_channel else CHANNEL_ID,
            member_permissions=(1 << 53) - 1 if manager else 0,
        )
        if call.callback_type == 5:  # deferred: the answer is an edit
            await call.wait_final()
        return Answer(_plain(call.text), not call.ephemeral)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Core, FeedServer]]:
    clock = FakeClock()

    def item(slug: str, title: str, minutes: int) -> dict[str, Any]:
        return {
            "title": title,
            "link": f"https://reuters.test/{slug}",
            "guid": slug,
            "description": f"{title}. More to follow.",
            "pubDate": clock.now() - timedelta(minutes=minutes),
        }

    async with FeedServer() as feeds:
        feeds.set_feed(
            "/news.rss",
            rss(
                [
                    item("re", "China curbs rare earth exports", 30),
                    item("li", "Lithium prices slide again", 40),
                ],
                title="Reuters test",
            ),
        )
        feeds.set_feed(
            "/desk.rss",
            rss([item("desk", "Desk feed: chip export bans widen", 20)], title="Desk feed"),
        )
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url("/news.rss")],
            watches=WATCHES,
            # The feed server is on 127.0.0.1: chat may reach it only through the allow-list.
            fetch={
                "chat_private_allowlist": ["127.0.0.1"],
                "google_news_url": feeds.url(SEARCH_PATH) + SEARCH_ARGS,
            },
        )
        async with core_for(settings, clock=clock) as core:
            await core.poll(due_only=False)
            yield core, feeds


@pytest.fixture(params=["slack", "discord"])
async def chat(
    request: pytest.FixtureRequest,
    world: tuple[Core, FeedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Chat]:
    core, _ = world
    if request.param == "slack":
        for var in _PROXY_VARS:  # slack_sdk ignores NO_PROXY: 127.0.0.1 must go direct
            monkeypatch.delenv(var, raising=False)
        async with FakeSlack() as fake_slack:
            fake_slack.users[SLACK_ADMIN] = {"is_admin": True}
            adapter = SlackAdapter(
                core=core.api,
                settings=slack_settings(fake_slack),
                pace_seconds=0.0,
                http_host="127.0.0.1",
            )
            await adapter.start()
            try:
                yield SlackChat(core, fake_slack)
            finally:
                await adapter.stop()
        return
    async with FakeDiscord() as fake:
        bot = DiscordAdapter(core=core.api, settings=fake.settings(), guild_ready_timeout=0.05)
        await bot.start()
        try:
            yield DiscordChat(core, fake)
        finally:
            await bot.stop()


async def queries(chat: Chat, *, other_channel: bool = False) -> list[str]:
    here = chat.here(other_channel=other_channel)
    return sorted(w.query for w in await chat.core.api.list_watches(here))


async def test_help_names_every_command(chat: Chat) -> None:
    answer = await chat.run("help")
    assert not answer.public
    for spec in CATALOGUE:
        if spec.name != "help" and not spec.hidden:
            assert spec.name in answer.text, spec.name


async def test_subscribe_announces_and_is_idempotent(chat: Chat) -> None:
    first = await chat.run("subscribe")
    assert "Alerts on here for #1 (rare earth)" in first.text and first.public
    assert await queries(chat) == ['"rare earth"', "lithium"]
    assert await queries(chat, other_channel=True) == []
    again = await chat.run("subscribe")
    assert "Already on" in again.text and not again.public


async def test_members_are_refused_changes_but_may_read(chat: Chat) -> None:
    for name, args in [
        ("subscribe", {}),
        ("unsubscribe", {}),
        ("watch add", {"query": "tariffs"}),
        ("watch remove", {"watch": "1"}),
        ("feeds add", {"url": "https://example.com/rss"}),
        ("feeds remove", {"feed": "1"}),
    ]:
        answer = await chat.run(name, args, manager=False)
        assert "⛔ Only" in answer.text and not answer.public, name
    assert await queries(chat) == []
    assert "Watches in this channel (0)" in (await chat.run("watch list", manager=False)).text
    assert "Wirewatch status" in (await chat.run("status", manager=False)).text


async def test_watch_add_list_remove(chat: Chat) -> None:
    added = await chat.run("watch add", {"query": 'cobalt AND "supply chain"', "name": "cobalt"})
    assert "added: new matching stories will be posted in this channel" in added.text
    assert added.public
    listed = await chat.run("watch list")
    assert 'cobalt AND "supply chain"' in listed.text and "cobalt" in listed.text
    duplicate = await chat.run("watch add", {"query": 'COBALT AND "supply chain"'})
    assert "already has that query here" in duplicate.text
    removed = await chat.run("watch remove", {"watch": "cobalt"})
    assert "no longer posts in this channel" in removed.text
    assert await queries(chat) == []
    unknown = await chat.run("watch remove", {"watch": "99"})
    assert "no watch '99' here" in unknown.text and "watch list" in unknown.text


async def test_another_channels_watch_cannot_be_taken(chat: Chat) -> None:
    await chat.run("watch add", {"query": "Bessent", "name": "bessent"}, other_channel=True)
    (theirs,) = await chat.core.api.list_watches(chat.here(other_channel=True))
    taken = await chat.run("subscribe", {"watches": str(theirs.id)})
    assert f"No watch called {theirs.id} here" in taken.text
    assert await queries(chat) == []


async def test_a_bad_query_points_at_the_error_privately(chat: Chat) -> None:
    answer = await chat.run("watch add", {"query": '"rare earth AND'})
    assert "That query does not parse" in answer.text and "^" in answer.text
    assert not answer.public
    assert await queries(chat) == []


async def test_unsubscribe_one_then_all(chat: Chat) -> None:
    await chat.run("subscribe")
    one = await chat.run("unsubscribe", {"watches": "lithium"})
    assert "Alerts off here for #2 (lithium)" in one.text
    assert await queries(chat) == ['"rare earth"']
    await chat.run("unsubscribe")
    assert await queries(chat) == []


async def test_latest_is_private_unless_shared_and_counts(chat: Chat) -> None:
    private = await chat.run("latest", manager=False)
    assert not private.public
    assert "China curbs rare earth exports" in private.text
    assert "Lithium prices slide again" in private.text
    shared = await chat.run("latest", {"query": "lithium", "count": 1, "share": True})
    assert shared.public
    assert "Lithium prices slide again" in shared.text and "China curbs" not in shared.text


RULES = "Beijing adds licence rules for seven elements."


async def test_latest_lists_a_story_once_by_its_first_report_naming_its_other_outlets(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    """Reuters reports a rare-earth story, the Wire carries it minutes later: `latest` and
    `watch test` show it on one line led by the first report, as its alert was (not by the
    Wire's rewrite), naming the Wire ("also reported by"); and the story is listed by its
    latest activity, above a story first reported after Reuters' but before the Wire's."""
    core, feeds = world

    def item(host: str, title: str, minutes: int, lead: str = RULES) -> dict[str, Any]:
        return {
            "title": title,
            "link": f"https://{host}/{minutes}",
            "guid": f"{host}-{minutes}",
            "description": lead,
            "pubDate": core.clock.now() - timedelta(minutes=minutes),
        }

    soy = item("wire.test", "Soybean futures steady", 50, "Prices held.")
    feeds.set_feed("/wire.rss", rss([soy], title="Wire"))
    added = await chat.run("feeds add", {"url": feeds.url("/wire.rss")})
    assert "Wire" in added.text
    await core.poll(due_only=False)  # the new feed's first poll: its items recorded
    reuters = item("reuters.test", "China tightens rare earth export licences", 12)
    feeds.set_feed("/news.rss", rss([reuters], title="Reuters test"))
    await core.poll(due_only=False)
    core.clock.advance(minutes=1)
    cobalt = item("wire.test", "Cobalt exports halted at the border", 8, "Trucks wait.")
    wire = item("wire.test", "China tightens export licences for rare earths", 5)
    feeds.set_feed("/wire.rss", rss([wire, cobalt, soy], title="Wire"))
    await core.poll(due_only=False)

    for answer in (
        await chat.run("latest", manager=False),
        await chat.run("watch test", {"query": '"rare earth"'}, manager=False),
    ):
        assert reuters["title"] in answer.text and wire["title"] not in answer.text
        assert answer.text.count(RULES) == 1
        assert "also reported by" in answer.text.lower()
        assert "Wire" in answer.text
    listed = (await chat.run("latest", manager=False)).text
    assert listed.index(reuters["title"]) < listed.index(cobalt["title"])
    assert "Latest 5 stories" in listed  # the story, cobalt, the soybeans, the two before


async def test_watch_test_shows_matches(chat: Chat) -> None:
    answer = await chat.run("watch test", {"query": '"rare earth"'}, manager=False)
    assert "would have matched 1 recent story" in answer.text
    assert "China curbs rare earth exports" in answer.text


async def test_a_search_cut_by_its_bound_says_how_far_back_it_read(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the newest article kept is read (China curbs..., 30 minutes old): the lithium
    # story, 40 minutes old, lies past the bound, and the answer says so.
    monkeypatch.setattr(service, "SCAN_MAX", 1)
    missed = await chat.run("latest", {"query": "lithium"}, manager=False)
    assert "No article matching lithium among the newest 1 article kept" in missed.text
    assert "older ones were not searched" in missed.text
    tested = await chat.run("watch test", {"query": '"rare earth"'}, manager=False)
    assert "China curbs rare earth exports" in tested.text
    assert "Searched the newest 1 article kept, published back to" in tested.text


async def test_feeds_chat_rules(chat: Chat) -> None:
    listed = await chat.run("feeds list", manager=False)
    assert "Feeds (1, 0 failing)" in listed.text and "operator's feed" in listed.text
    private = await chat.run("feeds add", {"url": "http://169.254.169.254/latest/meta-data"})
    assert "That feed can't be used: blocked" in private.text
    (feed,) = await chat.core.api.list_feeds(Caller.console())
    operator = await chat.run("feeds remove", {"feed": str(feed.id)})
    assert "only the operator's config can remove it" in operator.text
    assert len(await chat.core.api.list_feeds(Caller.console())) == 1


async def test_a_workspace_adds_and_removes_its_own_feed(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    _, feeds = world
    url = feeds.url("/desk.rss")
    added = await chat.run("feeds add", {"url": url, "name": "desk"})
    assert "added" in added.text and "this workspace's channels only" in added.text
    assert "recorded without alerting when it is first read" in added.text
    again = await chat.run("feeds add", {"url": url})
    assert "already reads" in again.text
    listed = await chat.run("feeds list", manager=False)
    assert url in listed.text and "Feeds (2, 0 failing)" in listed.text
    mine = [f for f in await chat.core.api.list_feeds(Caller.console()) if f.url == url]
    removed = await chat.run("feeds remove", {"feed": str(mine[0].id)})
    assert "removed" in removed.text
    assert url not in (await chat.run("feeds list")).text


async def test_a_feed_whose_last_poll_failed_is_retrying_not_ok(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    """One failed poll (under the failing threshold) is no "ok": `feeds list` and
    `status` say the feed is retrying, since when, and why."""
    core, feeds = world
    feeds.set_feed("/news.rss", "busy", status=500)
    await core.poll(due_only=False)
    listed = await chat.run("feeds list", manager=False)
    assert "🔁" in listed.text and "retrying, failed" in listed.text and "HTTP 500" in listed.text
    status = await chat.run("status", manager=False)
    assert "0 ok · 1 retrying · 0 failing · 0 new" in status.text


async def test_status_and_why(chat: Chat) -> None:
    await chat.run("subscribe", {"watches": "1"})
    status = await chat.run("status", manager=False)
    assert "1 ok · 0 retrying · 0 failing · 0 new" in status.text
    assert "0 dead letters" in status.text
    assert '#1 rare earth "rare earth"' in status.text
    why = await chat.run("why", {"url": "https://reuters.test/re"}, manager=False)
    assert "China curbs rare earth exports" in why.text
    assert "first poll of the feed" in why.text


class GoogleNews:
    """The feed server's stand-in for Google News search: what each search asked for, and
    Google-News-shaped answers (wrapped links, the publisher in <source>)."""

    def __init__(self, feeds: FeedServer) -> None:
        self.asked: list[str] = []
        self.items: list[dict[str, Any]] = []
        feeds.set_handler(SEARCH_PATH, self._answer)

    def publish(self, token: str, title: str, outlet: str, when: Any) -> None:
        self.items.insert(
            0,
            {
                "title": f"{title} - {outlet}",
                "link": f"https://news.google.com/rss/articles/{token}?oc=5",
                "guid": token,
                "description": f'{title}&nbsp;&nbsp;<font color="#6f6f6f">{outlet}</font>',
                "pubDate": when,
                "source": outlet,
                "source_url": f"https://{outlet.lower().replace(' ', '')}.test",
            },
        )

    async def _answer(self, request: web.Request) -> web.Response:
        self.asked.append(request.query.get("q", ""))
        body = rss(self.items, title=f"{request.query.get('q', '')} - Google News")
        return web.Response(text=body, content_type="application/rss+xml")


def _search_feeds(feeds: list[Any]) -> list[str]:
    return [f.url for f in feeds if f.url.startswith("http://127.0.0.1") and SEARCH_PATH in f.url]


async def test_a_watch_added_with_google_news_searches_it_for_this_workspace(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    """`watch add … google-news` (Slack's bare word, Discord's boolean option): the
    workspace reads the watch's Google News search as one of its own feeds; what the
    search brings goes through the normal pipeline (its first read recorded silently,
    then matched against the watch), and only this workspace's channels see it."""
    core, feeds = world
    google = GoogleNews(feeds)
    now = core.clock.now()
    google.publish("AU_yqL1", "Magnet makers hoard rare earth ahead of curbs", "Nikkei Asia",
                   now - timedelta(hours=2))  # fmt: skip
    added = await chat.run(
        "watch add", {"query": '"rare earth" magnets', "name": "magnets", "google-news": True}
    )
    assert "added: new matching stories will be posted in this channel" in added.text
    assert 'It also searches Google News for "rare earth" magnets' in added.text
    assert "recorded without alerting when it is first read" in added.text and added.public
    listed = await chat.run("watch list", manager=False)
    assert "magnets" in listed.text and "searches Google News" in listed.text
    status = await chat.run("status", manager=False)
    assert "searches Google News" in status.text

    here, elsewhere = chat.here(), Caller("slack:COTHER", "slack:TOTHER", can_manage=True)
    (search,) = _search_feeds(await core.api.list_feeds(here))
    assert _search_feeds(await core.api.list_feeds(elsewhere)) == []
    assert "Google News: magnets" in (await chat.run("feeds list", manager=False)).text

    await core.poll(due_only=False)  # the search's first read: recorded, not alerted
    assert google.asked == ['"rare earth" magnets when:7d']
    google.publish("AU_yqL2", "Japan stockpiles rare earth magnets for carmakers", "Kyodo",
                   core.clock.now() - timedelta(minutes=5))  # fmt: skip
    await core.poll(due_only=False)
    mine = await chat.run("latest", {"query": "magnets"}, manager=False)
    assert "Japan stockpiles rare earth magnets for carmakers" in mine.text
    assert "carmakers - Kyodo" not in mine.text, "read as Google News: the publisher comes off"
    theirs = await core.api.latest(elsewhere, "magnets")
    assert theirs.articles == (), "another workspace never reads this workspace's search"
    assert any(w.query == '"rare earth" magnets' for w in await core.api.list_watches(here))

    kept = await chat.run("feeds remove", {"feed": search})
    assert "is the Google News search of watch" in kept.text
    removed = await chat.run("watch remove", {"watch": "magnets"})
    assert "no longer posts in this channel" in removed.text
    assert _search_feeds(await core.api.list_feeds(here)) == [], "gone with its watch"


async def test_a_watchs_google_news_search_is_turned_off_and_on(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    core, feeds = world
    GoogleNews(feeds)
    here = chat.here()
    await chat.run("watch add", {"query": "gallium", "name": "gallium"})
    assert _search_feeds(await core.api.list_feeds(here)) == []
    on = await chat.run("watch edit", {"watch": "gallium", "google-news": True})
    assert "changed" in on.text and "It also searches Google News for gallium" in on.text
    (before,) = _search_feeds(await core.api.list_feeds(here))
    assert "searches Google News" in (await chat.run("watch list")).text

    # A new query is a new search: the old one, which nothing else searches, goes.
    await chat.run("watch edit", {"watch": "gallium", "query": "gallium OR germanium"})
    (after,) = _search_feeds(await core.api.list_feeds(here))
    assert after != before and "germanium" in after

    # Two watches searching the same: the search stays until the last of them stops.
    await chat.run("watch add", {"query": "gallium OR germanium", "google-news": True},
                   other_channel=True)  # fmt: skip
    off = await chat.run("watch edit", {"watch": "gallium", "no-google-news": True})
    assert "It does not search Google News" in off.text
    assert "searches Google News" not in (await chat.run("watch list")).text
    assert _search_feeds(await core.api.list_feeds(here)) == [after]
    (other,) = await core.api.list_watches(chat.here(other_channel=True))
    if isinstance(chat, DiscordChat):
        # Discord's boolean option also says no: google_news False.
        await chat.run("watch edit", {"watch": str(other.id), "google-news": False},
                       other_channel=True)  # fmt: skip
    else:
        await chat.run("watch edit", {"watch": str(other.id), "no-google-news": True},
                       other_channel=True)  # fmt: skip
    assert _search_feeds(await core.api.list_feeds(here)) == []
    both = await chat.run(
        "watch edit", {"watch": "gallium", "google-news": True, "no-google-news": True}
    )
    assert "not both" in both.text


async def test_a_query_google_cannot_search_gets_no_search_and_says_why(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    core, feeds = world
    GoogleNews(feeds)
    refused = await chat.run("watch add", {"query": "/tariffs? on china/", "google-news": True})
    assert "Google News can't search for /tariffs? on china/" in refused.text
    assert "Add a word or phrase" in refused.text and "without google-news" in refused.text
    assert not refused.public
    assert await queries(chat) == []
    await chat.run("watch add", {"query": "tariffs", "name": "tariffs", "google-news": True})
    edited = await chat.run("watch edit", {"watch": "tariffs", "query": "source:reuters"})
    assert "Google News can't search for source:reuters" in edited.text
    assert "with no-google-news" in edited.text
    assert await queries(chat) == ["tariffs"], "the watch keeps its query"
    assert len(_search_feeds(await core.api.list_feeds(chat.here()))) == 1


async def test_a_watchs_google_news_search_counts_towards_the_feed_quota(
    chat: Chat, world: tuple[Core, FeedServer]
) -> None:
    core, feeds = world
    GoogleNews(feeds)
    core.api.quotas = service.Quotas(feeds_per_workspace=1)
    await chat.run("watch add", {"query": "cobalt", "google-news": True})
    full = await chat.run("watch add", {"query": "nickel", "google-news": True})
    assert "this workspace has 1 feeds, the most allowed" in full.text
    assert await queries(chat) == ["cobalt"], "no watch without the search it asked for"
    desk = await chat.run("feeds add", {"url": feeds.url("/desk.rss")})
    assert "the most allowed" in desk.text


async def test_story_mute_names_a_story_of_this_channel_by_words_of_its_headline(
    chat: Chat,
) -> None:
    await chat.run("subscribe")
    assert "Posting the latest 2 stories" in (await chat.run("backfill", {"count": 10})).text
    none = await chat.run("story mute", {"story": "soybean futures"})
    assert "No story alerted here has soybean futures in its headline" in none.text
    example = "story mute story:" if isinstance(chat, DiscordChat) else "story mute "
    assert f"{example}vietnam rare earth refinery" in none.text and not none.public
    member = await chat.run("story mute", {"story": "china curbs"}, manager=False)
    assert "⛔ Only" in member.text and not member.public
    elsewhere = await chat.run("story mute", {"story": "china curbs"}, other_channel=True)
    assert "No story alerted here" in elsewhere.text, "another channel's stories are not its"
    muted = await chat.run("story mute", {"story": "China curbs rare-earth"})
    assert "Muted here: “China curbs rare earth exports”" in muted.text and muted.public
    again = await chat.run("story mute", {"story": "china curbs"})
    assert "was already muted here" in again.text and not again.public
    stories = await chat.core.api.stories_here(chat.here())
    assert {s.title: s.muted for s in stories} == {
        "China curbs rare earth exports": True,
        "Lithium prices slide again": False,
    }


async def test_a_number_no_id_can_be_is_answered_as_unknown_not_as_a_crash(chat: Chat) -> None:
    """A reference that looks like a number but is no id ("²" is a digit to Python, and
    past 64 bits a number overflows the database) names nothing: "no such", with the
    list to look in, never "Something went wrong"."""
    await chat.run("subscribe")
    for name, args, unknown in [
        ("feeds remove", {"feed": "99999999999999999999999"}, "no feed '99999999999999999999999'"),
        ("feeds remove", {"feed": "²"}, "no feed '²'"),
        ("watch remove", {"watch": "²"}, "no watch '²' here"),
        ("snooze", {"target": "²", "duration": "2h"}, "no watch '²' delivers to this channel"),
    ]:
        answer = await chat.run(name, args)
        assert unknown in answer.text, (name, answer.text)
        assert "Something went wrong" not in answer.text
    assert await queries(chat) == ['"rare earth"', "lithium"]


async def test_a_name_two_watches_here_answer_to_is_refused_not_guessed(chat: Chat) -> None:
    """The channel's own "lithium" and the default "lithium" it subscribes to both post
    here: a command on one watch says which two answer to the name instead of acting on
    either (snooze, volume and trend picked the first); a name another watch here has, or
    a number, is refused when given (only among the channel's own watches before)."""
    await chat.run("watch add", {"query": "lithium AND battery", "name": "lithium"})
    await chat.run("subscribe")
    for name, args in [
        ("snooze", {"target": "lithium", "duration": "2h"}),
        ("watch volume", {"watch": "lithium", "per-hour": 2}),
        ("watch remove", {"watch": "lithium"}),
    ]:
        answer = await chat.run(name, args)
        assert "2 watches here answer to 'lithium' (#2, #3): name one by its id" in answer.text
        assert not answer.public
    settings = (await chat.run("settings")).text
    assert "snoozed" not in settings and "/hour" not in settings
    taken = await chat.run("watch add", {"query": "cobalt", "name": "Lithium"})
    assert "watch #2 is already called 'Lithium' here" in taken.text
    number = await chat.run("watch add", {"query": "cobalt", "name": "2"})
    assert "a watch's name cannot be a number ('2' reads as watch #2)" in number.text
    await chat.run("watch add", {"query": "copper", "name": "cu"})
    renamed = await chat.run("watch edit", {"watch": "cu", "name": "LITHIUM"})
    assert "watch #2 is already called 'LITHIUM' here" in renamed.text
    assert sorted(await queries(chat)) == [
        '"rare earth"',
        "copper",
        "lithium",
        "lithium AND battery",
    ]


async def test_an_unknown_watch_of_ones_own_points_at_dm_list(chat: Chat) -> None:
    """`dm remove` of a watch one does not have points at one's own list (it pointed at
    `watch list`, the channel's watches, where no personal watch is shown)."""
    await chat.run("dm add", {"query": "gallium", "name": "gallium"}, manager=False)
    answer = await chat.run("dm remove", {"watch": "99"}, manager=False)
    assert "no watch '99' here — /dm list shows the ids" in answer.text.replace(
        "/wirewatch dm", "/dm"
    )
    assert "watch list" not in answer.text


async def test_a_watch_turned_off_here_is_named_when_added_again(chat: Chat) -> None:
    """`unsubscribe` turns the channel's own watches off without removing them, and
    `watch list` stops showing them: adding one again says where it is and how to have it
    back (it said only "already has that query here", beside an empty list)."""
    await chat.run("watch add", {"query": "cobalt", "name": "cobalt"})
    await chat.run("unsubscribe")
    assert "Watches in this channel (0)" in (await chat.run("watch list")).text
    again = await chat.run("watch add", {"query": "cobalt"})
    assert "watch #3 already has that query here" in again.text
    assert "it no longer posts here: 'subscribe 3' turns it back on" in again.text
    renamed = await chat.run("watch add", {"query": "cobalt AND nickel", "name": "cobalt"})
    assert "'subscribe 3' turns it back on" in renamed.text
    back = await chat.run("subscribe", {"watches": "3"})
    assert "Alerts on here for #3 (cobalt)" in back.text
    assert await queries(chat) == ["cobalt"]


async def test_a_long_bad_query_still_shows_where_it_breaks(chat: Chat) -> None:
    """A 1,000-character query (the most a command takes) with its fault at the end: the
    reply shows the part around the fault with the caret under it and the example after
    it (on Discord the whole query and a line of 990 spaces ran past the 2,000-character
    message: the caret, the code block's end and the example were cut off)."""
    answer = await chat.run("watch test", {"query": "tariff " * 141 + "(b OR"})
    assert "OR needs a term after it (at position 991)" in answer.text
    lines = answer.text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith("tariff (b OR"))
    shown, caret = lines[at], lines[at + 1]
    assert shown.startswith("…") and caret.strip() == "^"
    assert caret.index("^") == shown.index("OR")
    assert "Queries look like" in answer.text


async def test_editing_a_default_watch_says_it_is_the_operators(chat: Chat) -> None:
    """`watch list` shows the default watches a channel subscribed to: `watch edit 1`
    says #1 is the operator's and how to turn it off here (it said there was no watch
    #1, beside a list that showed it)."""
    await chat.run("subscribe")
    answer = await chat.run("watch edit", {"watch": "1", "name": "mine"})
    assert "watch #1 is a default watch, the operator's" in answer.text
    assert "'unsubscribe 1'" in answer.text and not answer.public
    unknown = await chat.run("watch edit", {"watch": "99", "name": "mine"})
    assert "no watch '99' of this channel" in unknown.text
