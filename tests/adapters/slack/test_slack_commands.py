"""Every /wirewatch subcommand end to end: a Socket Mode envelope from the fake Slack goes
through the real slack-bolt app into the real core (temp SQLite); we check the ack, the
response_url posts, the recorded Web API calls and the store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack.app import SlackAdapter
from bot.app import Core
from bot.core.api import Caller
from tests.adapters.slack.conftest import StartAdapter
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

ADMIN = "UADMIN"
MEMBER = "UMEMBER"
WATCHES = [{"query": '"rare earth"', "name": "rare earth"}, {"query": "lithium", "name": "lithium"}]


@dataclass
class World:
    core: Core
    slack: FakeSlack
    adapter: SlackAdapter
    feeds: FeedServer
    clock: FakeClock

    async def command(self, text: str, *, user: str = ADMIN, channel: str = "C1") -> dict[str, Any]:
        started = time.monotonic()
        ack = await self.slack.send_slash_command(text, user_id=user, channel_id=channel)
        assert time.monotonic() - started < 3.0, "Slack needs the ack within 3 seconds"
        return ack

    async def responded(self, count: int = 1) -> list[dict[str, Any]]:
        await self.slack.wait_for(lambda: len(self.slack.responses) >= count)
        return [r.body for r in self.slack.responses]

    async def watches_here(self, channel: str = "C1") -> list[str]:
        here = Caller(f"slack:{channel}", "slack:T0TEST")
        return [w.query for w in await self.core.api.list_watches(here)]


def text_of(message: dict[str, Any]) -> str:
    return (
        message.get("text", "")
        + "\n"
        + "\n".join(b["text"]["text"] for b in message.get("blocks") or [] if b.get("text"))
    )


def item(slug: str, title: str, clock: FakeClock, minutes: int = 30) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://reuters.test/{slug}",
        "guid": f"reuters-{slug}",
        "description": f"{title}. More to follow.",
        "pubDate": clock.now() - timedelta(minutes=minutes),
    }


@pytest.fixture
async def world(
    tmp_path: Path, fake_slack: FakeSlack, start_adapter: StartAdapter
) -> AsyncIterator[World]:
    clock = FakeClock()
    fake_slack.users[ADMIN] = {"is_admin": True}
    async with FeedServer() as feeds:
        feeds.set_feed(
            "/news.rss",
            rss(
                [
                    item("re", "China curbs rare earth exports", clock),
                    item("li", "Lithium prices slide again", clock, 40),
                ],
                title="Reuters test",
            ),
        )
        feeds.set_feed("/other.rss", rss([item("x", "Other news", clock)], title="Other feed"))
        feeds.set_feed(
            "/page.html", "<html><body>not a feed</body></html>", content_type="text/html"
        )
        settings = make_settings(tmp_path, feeds=[feeds.url("/news.rss")], watches=WATCHES)
        async with core_for(settings, clock=clock) as core:
            await core.poll(due_only=False)
            adapter = await start_adapter(core.api)
            yield World(core, fake_slack, adapter, feeds, clock)


async def test_help_lists_every_subcommand_with_examples(world: World) -> None:
    """`help` (and an empty command) answer in the ack with every subcommand."""
    ack = await world.command("help")
    body = text_of(ack)
    for word in (
        "subscribe",
        "unsubscribe",
        "watch add",
        "watch list",
        "watch remove",
        "watch test",
        "latest",
        "feeds add",
        "feeds list",
        "feeds remove",
        "status",
        "why",
    ):
        assert f"`/wirewatch {word}" in body
    assert ack["response_type"] == "ephemeral"
    assert text_of(await world.command("")) == body


async def test_admin_subscribes_channel_to_default_watches_and_it_is_announced(
    world: World,
) -> None:
    """`subscribe` by an admin subscribes the default watches, says so, and posts in channel."""
    ack = await world.command("subscribe")
    assert "Alerts on here for #1 (rare earth)" in text_of(ack)
    assert sorted(await world.watches_here()) == ['"rare earth"', "lithium"]
    await world.slack.wait_for(lambda: len(world.slack.posts("C1")) == 1)
    (post,) = world.slack.posts("C1")
    assert f"<@{ADMIN}> turned on Wirewatch alerts here" in post.params["text"]
    again = await world.command("subscribe")
    assert "Already on" in text_of(again)


async def test_member_without_rights_is_refused_and_told_who_can(world: World) -> None:
    """A plain member cannot subscribe: the refusal names the policy; nothing changes."""
    ack = await world.command("subscribe", user=MEMBER)
    body = text_of(ack)
    assert "Only workspace admins and owners, <@UALLOWED> and members of <!subteam^SOPS>" in body
    assert "Everyone can use `/wirewatch latest`" in body
    assert await world.watches_here() == []
    assert world.slack.posts() == []
    for text in (
        "unsubscribe",
        "watch add lithium",
        "watch remove 1",
        "feeds add https://x.test/",
        "feeds remove 1",
    ):
        assert "⛔ Only" in text_of(await world.command(text, user=MEMBER))


async def test_allow_list_and_user_group_members_may_change_the_channel(world: World) -> None:
    """slack.allowed_users and members of slack.allowed_usergroup pass the permission check."""
    world.slack.usergroups["SOPS"] = ["UOPS"]
    assert "Alerts on here" in text_of(await world.command("subscribe 1", user="UALLOWED"))
    assert "Alerts on here" in text_of(await world.command("subscribe 2", user="UOPS"))
    assert world.slack.calls_to("usergroups.users.list")


async def test_subscribe_where_the_bot_is_not_a_member_explains_how_to_invite_it(
    world: World,
) -> None:
    """When chat.postMessage says not_in_channel the caller learns about /invite; the
    subscription is kept, so nothing is lost."""
    world.slack.fail("chat.postMessage", "not_in_channel", channel="CPRIV")
    await world.command("subscribe", channel="CPRIV")
    (response,) = await world.responded()
    assert "/invite @wirewatch" in response["text"]
    assert response["response_type"] == "ephemeral"
    assert sorted(await world.watches_here("CPRIV")) == ['"rare earth"', "lithium"]


async def test_unsubscribe_named_and_all(world: World) -> None:
    """`unsubscribe lithium` stops one watch; bare `unsubscribe` stops the rest."""
    await world.command("subscribe")
    assert "Alerts off here for #2 (lithium)" in text_of(await world.command("unsubscribe lithium"))
    assert await world.watches_here() == ['"rare earth"']
    assert "No watch called `nope`" in text_of(await world.command("unsubscribe nope"))
    await world.command("unsubscribe")
    assert await world.watches_here() == []


async def test_watch_add_creates_a_channel_watch(world: World) -> None:
    """`watch add QUERY` stores a watch owned by this channel, created by the caller."""
    ack = await world.command('watch add cobalt AND "supply chain"')
    assert "added: new matching stories will be posted in this channel" in text_of(ack)
    here = Caller("slack:C1", "slack:T0TEST")
    (watch,) = [w for w in await world.core.api.list_watches(here) if "cobalt" in w.query]
    assert watch.owner == "slack:C1"


async def test_a_number_ending_a_query_is_read_as_the_count_and_the_refusal_says_so(
    world: World,
) -> None:
    """`latest Section 232`: Slack has one line of text, and a number at its end is the
    count; past the count's range the refusal says how to search for the number (it said
    only that COUNT must be between 1 and 10); quoted, the query is searched as typed."""
    refused = text_of(await world.command("latest Section 232"))
    assert "COUNT must be between 1 and 10" in refused
    assert 'to search for it, quote the query ("Section 232")' in refused
    await world.command('latest "Section 232"')
    (answer,) = await world.responded()
    assert "No stored articles matching" in text_of(answer) and "Section 232" in text_of(answer)


async def test_a_watch_named_in_several_words_needs_no_quotes(world: World) -> None:
    """The launch pack's watches are "rare earth", "He Lifeng", "China tariffs": typed
    after a command that takes one watch, the words are its name (they were its first
    word, then "unexpected 'earth'", or "DAYS must be a whole number" for `trend`)."""
    await world.command("subscribe")
    volume = text_of(await world.command("watch volume rare earth --per-hour 2"))
    assert "`#1` (rare earth)" in volume and "at most 2/hour" in volume
    await world.command("trend rare earth 7")
    (chart,) = await world.responded()
    assert "in the last 7 days" in text_of(chart) and "rare earth" in text_of(chart)
    removed = text_of(await world.command("watch remove rare earth"))
    assert "`#1` (rare earth)" in removed and "no longer posts in this channel" in removed
    assert await world.watches_here() == ["lithium"]


async def test_subscribe_reads_a_name_of_several_words_among_others(world: World) -> None:
    """`subscribe rare earth lithium`: the line splits at spaces, and the words that
    together name a watch are that watch (it answered "No watch called rare, earth")."""
    on = text_of(await world.command("subscribe rare earth lithium"))
    assert "Alerts on here for `#1` (rare earth)" in on and "No watch called" not in on
    assert sorted(await world.watches_here()) == ['"rare earth"', "lithium"]
    off = text_of(await world.command("unsubscribe rare earth nickel"))
    assert "Alerts off here for `#1` (rare earth)" in off and "No watch called `nickel`" in off
    assert await world.watches_here() == ["lithium"]


async def test_snooze_reads_a_watch_named_in_several_words(world: World) -> None:
    """`snooze rare earth 2h`: the line split after "rare", and "earth 2h" was refused as
    no duration; the words before a duration that reads are the watch's name."""
    await world.command("subscribe")
    snoozed = text_of(await world.command("snooze rare earth until monday"))
    assert "`#1` (rare earth)" in snoozed and "is snoozed until" in snoozed
    woke = text_of(await world.command("snooze rare earth off"))
    assert "`#1` (rare earth)" in woke and "no longer snoozed" in woke
    bad = text_of(await world.command("snooze rare earth soon"))
    assert "is not a duration" in bad


async def test_a_bad_querys_caret_is_on_its_own_line_under_the_fault(world: World) -> None:
    """The caret goes on the line below the query, under the character at fault (escaping
    dropped the line break, and it sat at the end of the query's own line)."""
    blocks = (await world.command("watch add china AND"))["blocks"]
    (pre,) = [b["text"]["text"] for b in blocks if b["text"]["text"].startswith("```")]
    assert pre == "```china AND\n      ^```"


async def test_a_watch_pings_only_a_user_group_and_anything_else_is_refused(
    world: World,
) -> None:
    """The slash command arrives unescaped (the manifest's should_escape is false), so a
    group typed as `@desk`, `@everyone` or a pasted `<!channel>` is text no alert could ping:
    it is refused with the reason, as in the config file (it was stored, `watch list` said
    "pings its group", and every alert went out without the ping)."""
    for ping in ("@everyone", "<!channel>", "@trade-desk"):
        body = text_of(await world.command(f"watch add tariffs --ping {ping}"))
        assert "never pings everyone, here or a channel" in body, ping
        assert "Slack user group (its S… id" in body
    assert await world.watches_here() == []
    await world.command("watch add tariffs --ping <!subteam^S0DESK|@desk>")
    edited = text_of(await world.command("watch edit tariffs --ping <!here>"))
    assert "never pings everyone, here or a channel" in edited
    here = Caller("slack:C1", "slack:T0TEST")
    assert [w.mention for w in await world.core.api.list_watches(here)] == ["S0DESK"]


async def test_watch_add_with_a_bad_query_points_at_the_error(world: World) -> None:
    """A malformed query gets the parser's message and a caret under the position."""
    ack = await world.command('watch add "rare earth AND')
    body = text_of(ack)
    assert "That query does not parse" in body
    assert "```" in body and "^" in body
    assert await world.watches_here() == []


async def test_watch_list_shows_ids_hits_and_names(world: World) -> None:
    """`watch list` shows this channel's watches; an empty channel is told how to start."""
    assert "No watches post here yet" in text_of(await world.command("watch list"))
    await world.command("subscribe")
    body = text_of(await world.command("watch list", user=MEMBER))
    assert '`#1` *rare earth* `"rare earth"`' in body and "`#2` *lithium* `lithium`" in body


async def test_watch_remove_and_unknown_id(world: World) -> None:
    """`watch remove ID` removes it here; an unknown id says how to find ids."""
    await world.command("watch add cobalt")
    here = Caller("slack:C1", "slack:T0TEST")
    (watch,) = [w for w in await world.core.api.list_watches(here) if w.query == "cobalt"]
    assert "no longer posts in this channel" in text_of(
        await world.command(f"watch remove {watch.id}")
    )
    assert await world.watches_here() == []
    assert "watch list" in text_of(await world.command("watch remove 99"))


async def test_watch_test_acks_first_then_answers_with_matches(world: World) -> None:
    """`watch test` is slow work: empty ack, then the matches through response_url."""
    ack = await world.command('watch test "rare earth"', user=MEMBER)
    assert ack == {}
    (response,) = await world.responded()
    body = text_of(response)
    assert "would have matched 1 recent story" in body
    assert "China curbs *rare earth* exports" in body


async def test_latest_is_private_unless_shared(world: World) -> None:
    """`latest` answers only the caller; `latest share` posts for the whole channel."""
    await world.command("latest", user=MEMBER)
    (private,) = await world.responded()
    assert private["response_type"] == "ephemeral"
    assert "China curbs rare earth exports" in text_of(private)
    await world.command("latest lithium 1 share", user=MEMBER)
    shared = (await world.responded(2))[1]
    assert shared["response_type"] == "in_channel"
    assert "Lithium prices slide again" in text_of(shared) and "rare earth" not in text_of(shared)


async def test_feeds_add_refuses_private_addresses_from_chat(world: World) -> None:
    """`feeds add URL` acks at once, then refuses a feed on a private address: the
    operator's private-address switch never covers feeds added in chat."""
    url = world.feeds.url("/other.rss")
    ack = await world.command(f"feeds add <{url}>")
    assert f"Checking {url}" in ack["text"]
    (response,) = await world.responded()
    assert "That feed can't be used: blocked" in text_of(response)
    assert url not in [f.url for f in await world.core.api.list_feeds(Caller.console())]


async def test_feeds_add_of_a_web_page_says_why_not(world: World) -> None:
    """A URL that is not a feed is refused with the reason."""
    await world.command("feeds add ftp://example.com/page.html")
    assert "only http and https" in text_of((await world.responded())[0])


async def test_feeds_list_and_remove(world: World) -> None:
    """`feeds list` shows feeds with health; `feeds remove ID` stops one."""
    body = text_of(await world.command("feeds list", user=MEMBER))
    assert world.feeds.url("/news.rss") in body and "operator's feed" in body
    (feed,) = await world.core.api.list_feeds(Caller.console())
    refused = text_of(await world.command(f"feeds remove {feed.id}"))
    assert "operator's config can remove it" in refused
    assert len(await world.core.api.list_feeds(Caller.console())) == 1
    assert "`/wirewatch feeds list`" in text_of(await world.command("feeds remove 99"))


async def test_status_shows_health_queue_and_this_channels_watches(world: World) -> None:
    """`status` renders the StatusReport: feeds, last poll, outbox, dead letters, watches."""
    await world.command("subscribe 1")
    body = text_of(await world.command("status", user=MEMBER))
    assert "*Feeds: *1 ok · 0 retrying · 0 failing · 0 new · last poll <!date^" in body
    assert "*Delivery: *0 waiting · 0 dead letters" in body
    assert '`#1` *rare earth* `"rare earth"`' in body


async def test_why_explains_an_article(world: World) -> None:
    """`why URL` answers through response_url with the core's account."""
    await world.command("why https://reuters.test/re", user=MEMBER)
    (response,) = await world.responded()
    assert "Why: https://reuters.test/re" in text_of(
        response
    ) and "China curbs rare earth exports" in text_of(response)


async def test_unknown_subcommand_and_missing_arguments_get_usage(world: World) -> None:
    """Typos and missing arguments get a helpful reply, not silence."""
    assert "I don't know `frobnicate`" in text_of(await world.command("frobnicate"))
    assert "Usage: `/wirewatch watch add QUERY" in text_of(await world.command("watch add"))
    assert "URL is missing. Usage: `/wirewatch why URL`" in text_of(await world.command("why"))


async def test_mute_button_unsubscribes_the_watch_for_permitted_users_only(world: World) -> None:
    """The alert's Mute button unsubscribes its watch here (ephemeral confirmation);
    a member without rights is refused and nothing changes."""
    await world.command("subscribe")
    assert await world.slack.send_block_action("wirewatch_mute:2", "2", user_id=MEMBER) == {}
    (refused,) = await world.responded(1)
    assert "⛔ Only" in refused["text"] and refused["response_type"] == "ephemeral"
    assert len(await world.watches_here()) == 2
    await world.slack.send_block_action("wirewatch_mute:2", "2", user_id=ADMIN)
    muted = (await world.responded(2))[1]
    assert (
        "Alerts off here for #2 (lithium)" in muted["text"] and muted["replace_original"] is False
    )
    assert await world.watches_here() == ['"rare earth"']


async def test_open_article_button_click_is_acked(world: World) -> None:
    """Clicking the URL button sends an interaction that must be acked (no warning icon)."""
    assert await world.slack.send_block_action("wirewatch_open:5", "") == {}
