"""Feeds from chat, on both platforms with one implementation: OPML export and import
(a URL on Slack; a URL or an attached file on Discord), feed autodiscovery, backfill and
trend charts. Driven as a user would: a Socket Mode slash command through the real
slack-bolt app, an INTERACTION_CREATE through the real discord.py client, the real core on
SQLite, feeds from the local feed server; files arrive through Slack's files upload v2 and
as Discord attachments on the interaction response."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.slack.app import SlackAdapter
from bot.app import Core
from bot.core.api import Caller
from bot.core.opml import parse_opml
from bot.core.trend import PNG_MAGIC
from tests.adapters.slack.conftest import _PROXY_VARS, slack_settings
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, AttachmentRef, FakeDiscord
from tests.fakes.slack import TEAM_ID, FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

ADMIN = "UADMIN"
WATCHES = [{"query": '"rare earth"', "name": "rare earth"}, {"query": "lithium", "name": "lithium"}]


@dataclass
class Answer:
    text: str
    public: bool
    files: list[tuple[str, bytes]] = field(default_factory=list)


class Chat:
    """One channel on one platform, seen as its user sees it."""

    platform: str
    core: Core
    feeds: FeedServer

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, files: bool = False
    ) -> Answer:
        raise NotImplementedError

    def here(self) -> Caller:
        raise NotImplementedError

    def channel_texts(self) -> list[str]:
        raise NotImplementedError

    async def told(self, words: str) -> None:
        """Wait until the channel (not only the asker) was told ``words``."""
        raise NotImplementedError


class SlackChat(Chat):
    platform = "slack"

    def __init__(self, core: Core, feeds: FeedServer, fake: FakeSlack) -> None:
        self.core, self.feeds, self.fake = core, feeds, fake

    def here(self) -> Caller:
        return Caller("slack:C1", f"slack:{TEAM_ID}")

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, files: bool = False
    ) -> Answer:
        words = [name, *(str(v) for v in (args or {}).values())]
        uploads_before = len(self.fake.uploads)
        responses_before = len(self.fake.responses)
        ack = await self.fake.send_slash_command(" ".join(words), user_id=ADMIN, channel_id="C1")
        message = ack
        if not ack.get("blocks"):  # slow: the answer follows through response_url
            await self.fake.wait_for(lambda: len(self.fake.responses) > responses_before)
            message = self.fake.responses[-1].body
        if files:
            await self.fake.wait_for(lambda: len(self.fake.uploads) > uploads_before)
        text = "\n".join(b["text"]["text"] for b in message.get("blocks") or [] if b.get("text"))
        uploaded = [(u.filename, u.data) for u in self.fake.uploads[uploads_before:]]
        assert all(u.channel == "C1" for u in self.fake.uploads[uploads_before:])
        return Answer(
            _plain(text or message.get("text", "")),
            message.get("response_type") == "in_channel",
            uploaded,
        )

    def channel_texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.fake.messages.get("C1", [])]

    async def told(self, words: str) -> None:
        await self.fake.wait_for(lambda: any(words in _plain(t) for t in self.channel_texts()))


class DiscordChat(Chat):
    platform = "discord"

    def __init__(self, core: Core, feeds: FeedServer, fake: FakeDiscord) -> None:
        self.core, self.feeds, self.fake = core, feeds, fake

    def here(self) -> Caller:
        return Caller(f"discord:{CHANNEL_ID}", f"discord:g:{GUILD_ID}")

    async def run(
        self, name: str, args: dict[str, Any] | None = None, *, files: bool = False
    ) -> Answer:
        group, _, leaf = name.partition(" ")
        call = await self.fake.slash(group, args or {}, subcommand=leaf or None)
        if call.callback_type == 5:  # deferred: an edit, or (a private answer) a followup
            await self.fake.wait_for(lambda: bool(call.edits or call.followups))
        if call.followups:
            body = call.followups[-1]
            text = str(body.get("content") or "") + "".join(
                f"\n{e.get('title', '')}\n{e.get('description', '')}"
                for e in body.get("embeds") or []
            )
            public = not int(body.get("flags") or 0) & 64
        else:
            text, public = call.text, not call.ephemeral
        return Answer(_plain(text), public, [(f.filename, f.data) for f in call.files])

    async def told(self, words: str) -> None:
        def public_followups() -> list[str]:
            return [
                str(f.get("content") or "")
                for call in self.fake.interactions.values()
                for f in call.followups
                if not int(f.get("flags") or 0) & 64
            ]

        await self.fake.wait_for(lambda: any(words in _plain(t) for t in public_followups()))

    def channel_texts(self) -> list[str]:
        out = []
        for m in self.fake.messages.get(CHANNEL_ID, []):
            embeds = " ".join(str(e.get("title", "")) for e in m.get("embeds") or [])
            out.append(f"{m.get('content') or ''} {embeds}")
        return out


def _plain(text: str) -> str:
    for mark in ("*", "`", "\\"):
        text = text.replace(mark, "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.fixture(params=["slack", "discord"])
async def chat(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Chat]:
    for var in _PROXY_VARS:  # slack_sdk ignores NO_PROXY: 127.0.0.1 must go direct
        monkeypatch.delenv(var, raising=False)
    clock = FakeClock()

    def item(slug: str, title: str, hours: float, source: str = "reuters") -> dict[str, Any]:
        return {
            "title": title,
            "link": f"https://{source}.test/{slug}",
            "guid": slug,
            "description": f"{title}. More to follow.",
            "pubDate": clock.now() - timedelta(hours=hours),
        }

    async with contextlib.AsyncExitStack() as stack:
        feeds = await stack.enter_async_context(FeedServer())
        feeds.set_feed(
            "/news.rss",
            rss(
                [
                    item("re1", "China curbs rare earth exports", 2),
                    item("li1", "Lithium prices slide again", 3),
                    item("re2", "Rare earth miners rally in Sydney", 30),
                    item("li2", "Chile weighs a lithium royalty", 50),
                    item("other", "Central bank holds rates", 4),
                ],
                title="Reuters test",
            ),
        )
        feeds.set_feed(
            "/desk.rss", rss([item("d1", "Desk: chip bans widen", 1)], title="Desk feed")
        )
        feeds.set_feed("/markets.rss", rss([item("m1", "Markets wrap", 1)], title="Ledger markets"))
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url("/news.rss")],
            watches=WATCHES,
            # The feed server is on 127.0.0.1: chat may reach it only through the allow-list.
            fetch={"chat_private_allowlist": ["127.0.0.1"]},
        )
        core = await stack.enter_async_context(core_for(settings, clock=clock))
        await core.poll(due_only=False)  # the first poll stores items without alerting
        if request.param == "slack":
            fake_slack = await stack.enter_async_context(FakeSlack())
            fake_slack.users[ADMIN] = {"is_admin": True}
            adapter: Any = SlackAdapter(
                core=core.api,
                settings=slack_settings(fake_slack),
                pace_seconds=0.0,
                http_host="127.0.0.1",
            )
            await adapter.start()
            stack.push_async_callback(adapter.stop)
            chat: Chat = SlackChat(core, feeds, fake_slack)
        else:
            fake = await stack.enter_async_context(FakeDiscord())
            adapter = DiscordAdapter(
                core=core.api, settings=fake.settings(), guild_ready_timeout=0.05
            )
            await adapter.start()
            stack.push_async_callback(adapter.stop)
            chat = DiscordChat(core, feeds, fake)
        for notifier in adapter.notifiers():
            core.add_notifier(notifier)
        yield chat


async def test_export_uploads_an_opml_file_of_the_workspaces_feeds(chat: Chat) -> None:
    await chat.core.api.add_feed(
        Caller(chat.here().destination, chat.here().tenant, can_manage=True),
        chat.feeds.url("/desk.rss"),
    )
    answer = await chat.run("feeds export", files=True)
    assert "The 2 feeds this workspace reads, as OPML" in answer.text and answer.public
    ((name, data),) = answer.files
    assert name == "wirewatch-feeds.opml"
    doc = parse_opml(data)
    assert [(f.url, f.title) for f in doc.feeds] == [
        # The operator's feed has no name in the config: it is labelled with its URL.
        (chat.feeds.url("/news.rss"), chat.feeds.url("/news.rss")),
        (chat.feeds.url("/desk.rss"), "Desk feed"),
    ]


def _opml(*urls: str) -> str:
    outlines = "".join(
        f'<outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return (
        f'<opml version="2.0"><head><title>Desk list</title></head><body>{outlines}</body></opml>'
    )


async def test_import_from_a_url_adds_checks_and_reports_each_feed(chat: Chat) -> None:
    feeds = chat.feeds
    feeds.set_feed(
        "/site/",
        f"<html><head>{_alternate('/markets.rss')}</head></html>",
        content_type="text/html",
    )
    feeds.set_feed(
        "/subs.opml",
        _opml(
            feeds.url("/desk.rss"),
            feeds.url("/news.rss"),  # the operator's: already read here
            "http://169.254.169.254/latest/meta-data",  # a metadata address: refused
            feeds.url("/gone.rss"),  # 404: refused
            feeds.url("/site/"),  # a page: its feed is found
        ),
        content_type="text/x-opml",
    )
    answer = await chat.run("feeds import", {"url": feeds.url("/subs.opml")})
    assert "Desk list lists 5 feeds: 2 added, 1 already here, 2 refused" in answer.text
    assert "these feeds carry now is recorded without alerting when they are first" in answer.text
    assert "169.254.169.254" in answer.text and "blocked" in answer.text
    assert "gone.rss — HTTP 404" in answer.text
    urls = {f.url for f in await chat.core.api.list_feeds(chat.here())}
    assert {feeds.url("/desk.rss"), feeds.url("/markets.rss")} <= urls
    assert not answer.public  # the report is the asker's; the channel hears of the change:
    await chat.told("imported 2 feeds for this workspace")
    again = await chat.run("feeds import", {"url": feeds.url("/subs.opml")})
    assert "0 added, 3 already here, 2 refused" in again.text


async def test_import_refuses_a_hostile_file_and_says_why(chat: Chat) -> None:
    chat.feeds.set_feed(
        "/bomb.opml",
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">]><opml>&a;</opml>',
        content_type="text/x-opml",
    )
    answer = await chat.run("feeds import", {"url": chat.feeds.url("/bomb.opml")})
    assert "That OPML file can't be used" in answer.text and "DOCTYPE" in answer.text
    assert not answer.public


async def test_slack_import_without_a_url_says_files_need_a_url(chat: Chat) -> None:
    if chat.platform != "slack":
        pytest.skip("Discord takes the file itself (test_discord_import_of_an_attached_file)")
    answer = await chat.run("feeds import")
    assert "Slack commands cannot carry files" in answer.text


async def test_discord_import_of_an_attached_file(chat: Chat) -> None:
    if chat.platform != "discord":
        pytest.skip("Slack slash commands carry no files")
    document = _opml(chat.feeds.url("/desk.rss")).encode()
    attached = AttachmentRef("subs.opml", document, "text/x-opml")
    answer = await chat.run("feeds import", {"file": attached})
    assert "lists 1 feed: 1 added, 0 already here, 0 refused" in answer.text
    too_big = AttachmentRef("huge.opml", b"<opml/>", "text/x-opml", size=5 << 20)
    refused = await chat.run("feeds import", {"file": too_big})
    assert "at most 1,048,576 are read" in refused.text and not refused.public


def _alternate(href: str, kind: str = "application/rss+xml") -> str:
    return f'<link rel="alternate" type="{kind}" title="Site feed" href="{href}">'


async def test_feeds_add_of_a_page_adds_the_feed_it_names(chat: Chat) -> None:
    feeds = chat.feeds
    page = (
        "<!doctype html><html><head>"
        '<link rel="alternate" type="application/json+oembed" href="/oembed">'
        + _alternate("../markets.rss")
        + "</head><body>Ledger</body></html>"
    )
    feeds.set_feed("/ledger/home", page, content_type="text/html; charset=utf-8")
    answer = await chat.run("feeds add", {"url": feeds.url("/ledger/home")})
    assert f"is a web page; the feed it names is {feeds.url('/markets.rss')}" in answer.text
    assert "added" in answer.text
    feeds.set_feed(
        "/plain", "<html><head></head><body>shop</body></html>", content_type="text/html"
    )
    none = await chat.run("feeds add", {"url": feeds.url("/plain")})
    assert "it names no feed" in none.text


async def test_trend_uploads_a_png_chart(chat: Chat) -> None:
    answer = await chat.run("trend", {"watch": "lithium", "days": 7}, files=True)
    assert "lithium: 2 matching stories in the last 7 days" in answer.text and answer.public
    assert "top sources: reuters.test (2)" in answer.text or "Reuters test (2)" in answer.text
    ((name, png),) = answer.files
    assert name == "wirewatch-trend.png" and png.startswith(PNG_MAGIC)
    height, width = matplotlib.image.imread(io.BytesIO(png), format="png").shape[:2]
    assert (height, width) == (450, 1000)
    unknown = await chat.run("trend", {"watch": "nosuchwatch"})
    assert "no watch 'nosuchwatch' here" in unknown.text and not unknown.public
    assert unknown.files == []


async def test_backfill_posts_the_latest_matching_stories_once(chat: Chat) -> None:
    none = await chat.run("backfill", {"count": 3})
    assert "No watches post here yet" in none.text
    await chat.run("subscribe")
    answer = await chat.run("backfill", {"count": 3})
    assert "Posting the latest 3 stories matching this channel's watches now" in answer.text
    await chat.core.deliverer.deliver_once()
    posted = "\n".join(chat.channel_texts())
    for title in (
        "China curbs rare earth exports",
        "Lithium prices slide again",
        "Rare earth miners rally in Sydney",
    ):
        assert title in posted
    assert "Chile weighs a lithium royalty" not in posted
    assert "Central bank holds rates" not in posted
    more = await chat.run("backfill", {"count": 50})
    assert (
        "Posting the latest 1 story" in more.text and "(3 it already had are left out)" in more.text
    )
    await chat.core.deliverer.deliver_once()
    assert "Chile weighs a lithium royalty" in "\n".join(chat.channel_texts())
    done = await chat.run("backfill", {"count": 50})
    assert "Nothing to backfill" in done.text


async def test_slack_tells_the_asker_when_the_file_cannot_be_shared(chat: Chat) -> None:
    if not isinstance(chat, SlackChat):
        pytest.skip("a Discord attachment rides on the interaction answer itself")
    chat.fake.fail("files.completeUploadExternal", "not_in_channel")
    await chat.run("feeds export")
    await chat.fake.wait_for(
        lambda: any(
            "not a member of this channel" in str(r.body.get("text")) for r in chat.fake.responses
        )
    )
    assert chat.fake.uploads == []


async def test_trend_of_a_watch_with_a_long_query_is_uploaded(chat: Chat) -> None:
    """An unnamed watch of twenty-five phrases: the chart's title and alt text name it by its
    query, which made the alt text longer than the 1,024 characters Discord takes for an
    attachment's description (it refused the answer; the fake refuses it as Discord does)."""
    query = " OR ".join(f'"lithium hydroxide battery grade{n:02d}"' for n in range(25))
    assert len(query) == 971  # within chat's 1,000 characters and 40 terms
    added = await chat.run("watch add", {"query": query})
    watch_id = added.text.split("#", 1)[1].split("`", 1)[0].split()[0]
    answer = await chat.run("trend", {"watch": watch_id, "days": 7}, files=True)
    ((name, png),) = answer.files
    assert name == "wirewatch-trend.png" and png.startswith(PNG_MAGIC)


async def test_backfill_posts_a_story_led_by_its_first_report(chat: Chat) -> None:
    """Reuters reports new licence rules; the desk feed carries them minutes later.
    `backfill` posts the story as its alert would have been: led by Reuters' report (not
    the desk's, the newest), the desk named as also reporting it."""
    rules = "Beijing adds licence rules for seven elements."

    def item(host: str, title: str, minutes: int) -> dict[str, Any]:
        return {
            "title": title,
            "link": f"https://{host}/{minutes}",
            "guid": f"{host}-{minutes}",
            "description": rules,
            "pubDate": chat.core.clock.now() - timedelta(minutes=minutes),
        }

    await chat.run("feeds add", {"url": chat.feeds.url("/desk.rss")})
    await chat.core.poll(due_only=False)  # the desk's first poll
    reuters = item("reuters.test", "China tightens rare earth export licences", 12)
    chat.feeds.set_feed("/news.rss", rss([reuters], title="Reuters test"))
    await chat.core.poll(due_only=False)
    desk = item("desk.test", "China tightens export licences for rare earths", 5)
    chat.feeds.set_feed("/desk.rss", rss([desk], title="Desk feed"))
    await chat.core.poll(due_only=False)
    await chat.run("subscribe")
    await chat.run("backfill", {"count": 1})
    await chat.core.deliverer.deliver_once()
    posted = "\n".join(chat.channel_texts())
    assert reuters["title"] in posted and desk["title"] not in posted
    story = (await chat.core.store.article_by_url("https://reuters.test/12")).story_key
    [alert] = [
        a
        for a in await chat.core.store.alerts_for_story(story)
        if a.destination == chat.here().destination
    ]
    [shown] = await chat.core.store.alerts_by_ids([alert.id])
    assert (shown.source, shown.also_reported_by) == ("Reuters test", ("Desk feed",))
