"""Hostile queries and feed text through the real bot: /latest with a regex that backtracks
catastrophically in Python's re, and headlines carrying masked links and bidi overrides."""

from __future__ import annotations

from bot.adapters.discord.client import DiscordAdapter
from bot.app import Core
from tests.adapters.discord.conftest import news_item
from tests.fakes.discord import FakeDiscord
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

CATASTROPHIC = "/china|(\\w+\\s?)+zzz/"
# 45 characters of words and spaces: Python's re needed 34 s here to give up on "zzz".
SENTENCE = "aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh"


async def test_latest_with_a_catastrophic_regex_answers_with_the_term_bolded(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer, clock: FakeClock
) -> None:
    """The query matches in RE2 and the answer is rendered with RE2 too: the bot answers
    (this test only has to finish) and bolds what matched."""
    feeds.set_feed(
        "/news.rss",
        rss(
            [news_item("zz", f"China {SENTENCE}", clock, description=f"China {SENTENCE}")],
            title="Reuters test",
        ),
    )
    await core.poll(due_only=False)
    call = await fake.slash("latest", {"query": CATASTROPHIC})
    final = await call.wait_final()
    (embed,) = final["embeds"]
    assert embed["description"] == f"**China** {SENTENCE}"


async def test_hostile_headlines_reach_discord_inert(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer, clock: FakeClock
) -> None:
    """Masked links after the first, a right-to-left override and control characters in a
    feed item arrive escaped and stripped; the link with spaces is percent-encoded."""
    title = "Tariffs [one](https://a.test) [two](https://evil.test) \u202egpj.exe\x07"
    item = news_item("hostile", title, clock, description=title)
    item["link"] = "https://reuters.test/a story"
    feeds.set_feed("/news.rss", rss([item], title="Reuters test"))
    await core.poll(due_only=False)
    call = await fake.slash("latest", {"query": "tariff"})
    (embed,) = (await call.wait_final())["embeds"]
    assert (
        embed["title"] == "Tariffs \\[one\\](https://a.test) \\[two\\](https://evil.test) gpj.exe"
    )
    assert embed["url"] == "https://reuters.test/a%20story"
    assert "\u202e" not in embed["description"] and "\x07" not in embed["description"]
