"""``wirewatch demo``: the product in ten seconds, offline.

Serves three sample outlets' feeds on 127.0.0.1, polls them once (the first poll of a
feed records what is there without alerting), publishes the morning's news, polls
again and prints the alerts. The Kuala Lumpur trade-talks story is carried by two
outlets under two headlines and alerts once per watch.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.adapters.console import format_story, group_by_story
from bot.app import open_core
from bot.settings import (
    DEFAULT_CONFIG,
    DatabaseSettings,
    FeedConfig,
    FetchSettings,
    Settings,
    WatchConfig,
)

# The launch pack's watches (config/default.toml's), for an install without that file: a
# wheel, the Docker image. A test keeps the two the same.
PACK = (
    ("rare earth", '"rare earth"'),
    ("Bessent", "Bessent"),
    ("Greer", 'Greer -"Germaine Greer"'),
    ("He Lifeng", '"He Lifeng"'),
    ("China tariffs", "tariff AND (China OR Chinese OR Beijing)"),
    ("export controls", '"export controls"'),
    (
        "chip export bans",
        '(chip OR semiconductor OR Nvidia) AND ("export ban" OR "export controls" OR '
        '"export restrictions")',
    ),
    ("Trump–Xi summit", "Trump AND Xi AND (summit OR meeting OR talks OR call)"),
)


class DemoSettings(Settings):
    """The demo's own settings, whatever the environment says: WIREWATCH_DATABASE__URL
    set for the real bot must not bring the demo's outlets and watches into its database."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def pack_watches() -> list[WatchConfig]:
    """The launch pack's watches: the default config's when it is there, else :data:`PACK`
    (never through the environment, and never its Google News searches)."""
    try:
        data = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        pack = [(w.get("name"), w["query"]) for w in data.get("watches", [])]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        pack = list(PACK)
    return [WatchConfig(query=query, name=name) for name, query in pack]


OUTLETS = {
    "reuters": "Reuters World (sample)",
    "scmp": "South China Morning Post (sample)",
    "apnews": "AP Business (sample)",
}


def _item(outlet: str, slug: str, title: str, summary: str, age: timedelta, now: datetime) -> str:
    link = f"https://{outlet}.example/{slug}?utm_source=rss&utm_medium=feed"
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{outlet}-{slug}</guid>"
        f"<pubDate>{format_datetime(now - age)}</pubDate>"
        f"<description>{escape(summary)}</description></item>"
    )


def sample_items(now: datetime, *, morning: bool) -> dict[str, list[str]]:
    h = timedelta(hours=1)
    items: dict[str, list[str]] = {
        "reuters": [
            _item(
                "reuters",
                "fed-holds",
                "Fed holds rates steady, signals patience",
                "The Federal Reserve kept its benchmark rate unchanged.",
                20 * h,
                now,
            ),
        ],
        "scmp": [
            _item(
                "scmp",
                "hk-markets",
                "Hong Kong stocks edge higher in thin trade",
                "The Hang Seng index rose 0.4 per cent.",
                18 * h,
                now,
            ),
        ],
        "apnews": [
            _item(
                "apnews",
                "oil",
                "Oil prices slip as supply worries ease",
                "Brent crude fell below $80 a barrel.",
                16 * h,
                now,
            ),
        ],
    }
    if morning:
        items["reuters"] += [
            _item(
                "reuters",
                "kl-talks",
                "China, U.S. set for key trade talks in Malaysia this week",
                "Treasury Secretary Scott Bessent and Vice Premier He Lifeng will meet in "
                "Kuala Lumpur to ease tensions over tariffs and <b>rare earth</b> export controls.",
                2 * h,
                now,
            ),
            _item(
                "reuters",
                "greer-chips",
                "USTR Greer says chip export ban stays on the table",
                "U.S. Trade Representative Jamieson Greer said semiconductor export controls "
                "remain part of the talks.",
                1 * h,
                now,
            ),
        ]
        items["scmp"] += [
            _item(
                "scmp",
                "kl-talks-2",
                "China, U.S. set for key trade talks in Malaysia",
                "Vice Premier He Lifeng leads Beijing's team in Kuala Lumpur as both sides "
                "weigh tariff relief.",
                90 * timedelta(minutes=1),
                now,
            ),
        ]
        items["apnews"] += [
            _item(
                "apnews",
                "rare-earths",
                "China widens rare-earth export controls ahead of Trump-Xi summit",
                "New licensing rules cover more Rare Earths used in magnets and chips.",
                30 * timedelta(minutes=1),
                now,
            ),
            _item(
                "apnews",
                "germaine",
                "Germaine Greer to publish a new essay collection",
                "The Australian writer's first book in a decade.",
                45 * timedelta(minutes=1),
                now,
            ),
        ]
    return items


def rss(title: str, items: list[str]) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>https://example.test/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


async def run_demo(out: object = None) -> int:
    stream = out or sys.stdout
    now = datetime.now(UTC)
    state = {"morning": False}

    async def serve(request: web.Request) -> web.Response:
        outlet = request.match_info["outlet"]
        body = rss(OUTLETS[outlet], sample_items(now, morning=state["morning"])[outlet])
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{outlet}.rss", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def say(text: str = "") -> None:
        print(text, file=stream)  # type: ignore[arg-type]

    try:
        with tempfile.TemporaryDirectory(prefix="wirewatch-demo-") as tmp:
            settings = DemoSettings(
                database=DatabaseSettings(url=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"),
                fetch=FetchSettings(allow_private_addresses=True),
                feeds=[
                    FeedConfig(url=f"http://127.0.0.1:{port}/{o}.rss", name=name)
                    for o, name in OUTLETS.items()
                ],
                watches=pack_watches(),
            )
            async with open_core(settings) as core:
                say(
                    "Wirewatch demo — three sample outlets served on 127.0.0.1, "
                    f"{len(settings.watches)} watches from the US–China trade pack.\n"
                )
                first = await core.poll(due_only=False)
                say(
                    f"1. First poll: {first.new_articles} items recorded, "
                    f"{len(first.alert_ids)} alerts (a new feed's first poll is silent: "
                    "no flood of old news)."
                )
                state["morning"] = True
                second = await core.poll(due_only=False)
                alerts = await core.store.alerts_by_ids(second.alert_ids)
                say(
                    f"2. Next poll: {second.new_articles} new items, "
                    f"{len(alerts)} alerts (grouped per story):\n"
                )
                for group in group_by_story(alerts):
                    say(format_story(group))
                    say()
                await core.store.mark_sent(
                    [a.id for a in alerts], message_id="demo", now=core.clock.now()
                )
                third = await core.poll(due_only=False)
                say(
                    f"3. Poll again: {third.not_modified} feeds unchanged, "
                    f"{len(third.alert_ids)} alerts (nothing is ever sent twice)."
                )
                say(
                    "\nNote: the Malaysia trade-talks story came from two outlets under two "
                    "headlines but alerted once per watch; “Germaine Greer” did not trip the "
                    "Greer watch."
                )
                say("Next: `wirewatch poll --once` with config/default.toml, or see README.md.")
    finally:
        await runner.cleanup()
    return 0
