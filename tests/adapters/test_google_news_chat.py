# ruff: noqa: F811  (the room fixture is imported, and named by every test)
"""A chat watch's Google News search, end to end on both platforms: a manager adds the
watch with ``google-news`` (a Socket Mode slash command through the real slack-bolt app;
an INTERACTION_CREATE through the real discord.py client); the feed server stands in for
Google News; the real core polls the search, matches what it brings against the watch
and posts the alert through the same adapter's notifier."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.api import Caller
from bot.store.schema import alerts, articles
from tests.adapters.test_channel_controls_chat import Room, _text, room  # noqa: F401
from tests.adapters.test_command_contract import GoogleNews
from tests.fakes.discord import CHANNEL_ID


def search_posts(room: Room) -> list[str]:
    """The channel's messages that carry an item of a Google News search."""
    raw = room.fake.messages.get("C1" if room.platform == "slack" else CHANNEL_ID, [])
    texts = [_text(m) for m in raw]
    return [t for t in texts if "news.google.com/rss/articles/" in t]


async def alerted(room: Room, destination: str) -> list[str]:
    """Headlines of the alerts made for ``destination``, sent or not."""
    async with room.core.store.engine.connect() as conn:
        rows = await conn.execute(
            select(articles.c.title)
            .join(alerts, alerts.c.article_id == articles.c.id)
            .where(alerts.c.destination == destination)
        )
        return sorted(r.title for r in rows)


async def test_what_a_watchs_search_finds_is_posted_in_its_workspace_only(room: Room) -> None:
    google = GoogleNews(room.feeds)
    google.publish("AU_yqL1", "Gallium exporters wait for licences", "Nikkei Asia",
                   room.clock.now() - timedelta(hours=1))  # fmt: skip
    added = await room.say("watch add", {"query": "gallium", "google-news": True})
    assert "It also searches Google News for gallium" in added.text and added.public
    # Another workspace watches the same word, without a search: the operator's feeds
    # reach it, this workspace's search never does.
    if room.platform == "slack":
        other = Caller("slack:COTHER", "slack:TOTHER", can_manage=True)
    else:
        other = Caller("discord:1400000000000000004", "discord:g:42", can_manage=True)
    await room.core.api.add_watch(other, "gallium")

    await room.tick(minutes=1)  # the search's first read is recorded, not posted
    assert google.asked == ["gallium when:7d"]
    assert search_posts(room) == []

    google.publish("AU_yqL2", "China extends gallium export curbs", "Reuters",
                   room.clock.now() - timedelta(minutes=2))  # fmt: skip
    room.publish("ga-1", "Gallium smelters idle in Yunnan")  # the operator's feed
    await room.tick(minutes=10)
    (alert,) = search_posts(room)
    assert "China extends gallium export curbs" in alert
    assert "https://news.google.com/rss/articles/AU_yqL2?oc=5" in alert
    assert "Reuters" in alert, "the outlet is the publisher Google names"
    assert "Gallium exporters wait for licences" not in alert
    assert await alerted(room, other.destination) == ["Gallium smelters idle in Yunnan"]

    await room.tick(minutes=10)
    assert len(search_posts(room)) == 1, "each item once"
    removed = await room.say("watch remove", {"watch": "gallium"})
    assert "no longer posts in this channel" in removed.text
    asked = len(google.asked)
    await room.tick(minutes=10)
    assert len(google.asked) == asked, "nobody searches it any more: it is not polled"
