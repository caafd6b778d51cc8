"""A restart between an unsure send and its retry: the platform stored a thread reply or
an operational notice and answered 5xx, the core was closed and opened again on the same
database, and the retry (by fresh notifiers, which remember nothing) must find what is
already in the channel instead of posting it a second time. The real slack-sdk and
discord.py clients run against the fakes; nothing is patched."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Core
from bot.core.api import Caller
from bot.settings import Settings
from tests.delivery.conftest import DISCORD, SLACK, FakeTime, chat_notifiers, story_site
from tests.fakes.discord import CHANNEL_ID, Failure, FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for

HEADLINE = "China expands rare earth export controls to five more elements"
OUTLETS = ("reuters", "scmp", "ap")
RETITLED = "China expands rare earth export controls to seven elements"


@dataclass
class Site:
    """One channel (Slack or Discord) and a core that can be closed and opened again on
    the same SQLite file, as a restarted process would."""

    destination: str
    settings: Settings
    clock: FakeClock
    time: FakeTime
    slack: FakeSlack
    discord: FakeDiscord
    feeds: FeedServer

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Core]:
        """A core with fresh notifiers (nothing remembered in memory from a run before)."""
        async with (
            core_for(self.settings, clock=self.clock) as core,
            chat_notifiers(core, self.slack, self.discord, self.time),
        ):
            yield core

    async def publish(
        self, core: Core, *outlets: str, titles: dict[str, str] | None = None
    ) -> None:
        """The outlets' articles on the story (by their headline in ``titles``, or the
        first one), polled in."""
        self.clock.advance(minutes=10)
        for outlet in outlets:
            self.serve(outlet, (titles or {}).get(outlet, HEADLINE))
        await core.poll(due_only=False)

    def serve(self, outlet: str, title: str) -> None:
        item = {
            "title": title,
            "link": f"https://{outlet}.test/rare-earth-controls",
            "guid": f"{outlet}-1",
            "description": "Beijing added holmium and four other elements to its export list.",
            "pubDate": self.clock.now() - timedelta(minutes=5),
        }
        self.feeds.set_feed(f"/{outlet}.rss", rss([item], title=outlet.upper()))

    def store_then_fail_next_post(self) -> None:
        """The platform stores the next message and answers 503 (its edge timed out)."""
        if self.destination == SLACK:
            self.slack.server_error("chat.postMessage", 503, channel="C1", applied=True)
        else:
            self.discord.fail_channel(CHANNEL_ID, Failure.server_error(503, applied=True))

    def messages(self) -> list[dict[str, Any]]:
        if self.destination == SLACK:
            return list(self.slack.messages.get("C1", []))
        return list(self.discord.messages.get(CHANNEL_ID, []))

    def texts(self) -> list[str]:
        return [
            str(m.get("text" if self.destination == SLACK else "content", ""))
            for m in self.messages()
        ]


@pytest.fixture(params=[SLACK, DISCORD])
async def site(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Site]:
    async with story_site(
        tmp_path, monkeypatch, request.param, OUTLETS, poll={"failing_after": 2}
    ) as (time, clock, slack, fake_discord, feeds, settings):
        yield Site(request.param, settings, clock, time, slack, fake_discord, feeds)


@pytest.mark.parametrize("site", [SLACK], indirect=True)
async def test_a_thread_reply_stored_behind_a_5xx_is_not_posted_again_after_a_restart(
    site: Site,
) -> None:
    """A channel takes a story's growth as thread replies. The platform stores the reply
    and answers 503; the process restarts before the retry. The retry looks in the thread
    first (by the reply's metadata) and finds it: the thread holds it once.

    (Discord: the same reply goes again with the same nonce, which Discord answers with
    the reply it made; its window is Discord's to keep, a few minutes.)"""
    async with site.running() as core:
        here = Caller(destination=site.destination, tenant=None, can_manage=True)
        await core.api.set_updates(here, "thread")
        await core.poll(due_only=False)  # the empty feeds are seeded
        await site.publish(core, "reuters")
        assert (await core.deliverer.deliver_once()).sent == 1
        site.store_then_fail_next_post()
        await site.publish(core, "reuters", "scmp")
        await core.deliverer.deliver_once()
        assert len(site.messages()) == 2  # the reply is in the thread, unconfirmed
    async with site.running() as core:
        for _ in range(5):
            site.clock.advance(minutes=1)
            await core.deliverer.deliver_once()
    story, reply = site.messages()
    assert "SCMP" in json.dumps(reply) and "SCMP" not in json.dumps(story)


async def test_a_thread_reply_resent_after_a_restart_tells_nothing_twice(
    site: Site,
) -> None:
    """A second outlet joins and the headline changes: the reply saying so is stored
    behind a 503, a third outlet joins before it is retried, and the process restarts.
    The retry is of the reply that may be in the thread, word for word (Slack finds its
    metadata key in the thread, Discord answers its nonce with the reply it made); the
    third outlet comes in a reply of its own. The headline change is told once."""
    async with site.running() as core:
        here = Caller(destination=site.destination, tenant=None, can_manage=True)
        await core.api.set_updates(here, "thread")
        await core.poll(due_only=False)
        await site.publish(core, "reuters")
        assert (await core.deliverer.deliver_once()).sent == 1
        site.store_then_fail_next_post()
        await site.publish(core, "reuters", "scmp", titles={"reuters": RETITLED})
        await core.deliverer.deliver_once()
        assert len(site.messages()) == 2
        await site.publish(core, "reuters", "scmp", "ap", titles={"reuters": RETITLED})
    async with site.running() as core:
        for _ in range(5):
            site.clock.advance(minutes=1)
            await core.deliverer.deliver_once()
    _story, *replies = site.texts()
    assert len(replies) == 2, replies
    assert "Headline now" in replies[0] and "2 outlets" in replies[0]
    assert "Headline now" not in replies[1] and "3 outlets" in replies[1]


async def test_a_notice_stored_behind_a_5xx_is_not_posted_again_after_a_restart(
    site: Site,
) -> None:
    """A feed fails long enough for the channel to be told. The platform stores the notice
    and answers 503; the process restarts before the retry. The retry finds the notice
    (Slack: in the channel's history by its metadata; Discord: by its nonce) and the
    channel is told once."""
    async with site.running() as core:
        await core.poll(due_only=False)  # the empty feeds are seeded
        site.feeds.set_feed(
            "/reuters.rss", "upstream trouble", status=500, content_type="text/plain"
        )
        for _ in range(2):
            site.clock.advance(minutes=10)
            await core.poll(due_only=False)
        site.store_then_fail_next_post()
        await core.deliverer.deliver_notices()
        assert len(site.messages()) == 1  # the notice is in the channel, unconfirmed
    async with site.running() as core:
        for _ in range(5):
            site.clock.advance(minutes=1)
            await core.deliverer.deliver_notices()
    (notice,) = site.texts()
    assert "is failing" in notice
