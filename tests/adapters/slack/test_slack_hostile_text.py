"""Hostile queries and feed text through the real Slack app: `latest` with a regex that
backtracks catastrophically in Python's re, and headlines with bidi overrides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Core
from tests.adapters.slack.conftest import StartAdapter
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

# 45 characters of words and spaces: Python's re needed 34 s here to give up on "zzz".
SENTENCE = "aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh"


def item(slug: str, title: str, clock: FakeClock) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://reuters.test/{slug} page",
        "guid": f"reuters-{slug}",
        "description": title,
        "pubDate": clock.now() - timedelta(minutes=30),
    }


@pytest.fixture
async def core(tmp_path: Path, start_adapter: StartAdapter) -> AsyncIterator[Core]:
    clock = FakeClock()
    async with FeedServer() as feeds:
        items = [
            item("zz", f"China {SENTENCE}", clock),
            item("rtl", "Tariffs \u202egpj.exe\u202c\x1b[0m rise", clock),
        ]
        feeds.set_feed("/news.rss", rss(items, title="Reuters test"))
        settings = make_settings(tmp_path, feeds=[feeds.url("/news.rss")], watches=[])
        async with core_for(settings, clock=clock) as opened:
            await opened.poll(due_only=False)
            await start_adapter(opened.api)
            yield opened


def text_of(message: dict[str, Any]) -> str:
    blocks = message.get("blocks") or []
    return (
        message.get("text", "") + "\n" + "\n".join(b["text"]["text"] for b in blocks if "text" in b)
    )


async def test_latest_with_a_catastrophic_regex_answers_with_the_term_bolded(
    core: Core, fake_slack: FakeSlack
) -> None:
    """The query matches in RE2 and is highlighted by RE2: the answer comes (the test only
    has to finish) with the matched word in bold."""
    await fake_slack.send_slash_command("latest /china|(\\w+\\s?)+zzz/", user_id="U1")
    await fake_slack.wait_for(lambda: len(fake_slack.responses) >= 1)
    body = text_of(fake_slack.responses[0].body)
    assert f"*China* {SENTENCE}" in body


async def test_hostile_headlines_reach_slack_inert(core: Core, fake_slack: FakeSlack) -> None:
    """A right-to-left override and control characters are stripped; the link with a
    space is percent-encoded."""
    await fake_slack.send_slash_command("latest tariff", user_id="U1")
    await fake_slack.wait_for(lambda: len(fake_slack.responses) >= 1)
    body = text_of(fake_slack.responses[0].body)
    assert "<https://reuters.test/rtl%20page|Tariffs gpj.exe" in body
    assert "\u202e" not in body and "\x1b" not in body
