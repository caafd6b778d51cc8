"""Slash commands: each one maps onto one ``CoreAPI`` call and renders the answer.

    /watch add|list|remove|test   /subscribe [watch]   /unsubscribe [watch]
    /latest [query] [count] [share]   /feeds add|list|remove   /status   /why url   /help

Who may do what is Discord's job first: the commands that change what a channel receives
(``/watch``, ``/feeds``, ``/subscribe``, ``/unsubscribe``) default to members with Manage
Channels and are server-only; an admin can re-grant them per role or channel under
Server Settings -> Integrations, which is why the code does not re-check member
permissions (that would undo the admin's choice). The code does refuse, with the reason,
what Discord cannot know: a channel where the bot itself cannot post alerts, a DM, a ping
of @everyone.

Replies that only the asker needs (lists, errors, ``/latest`` unless shared) are
ephemeral; changes to a channel's alerts are answered in the channel so its members see
them. Slow calls (fetching a feed, searching stored articles, ``why``) defer first and
edit the original response, so nothing ends in "The application did not respond".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    clean,
    fit,
    render_articles,
    utf16_len,
)
from bot.core.api import CoreAPI, SubscribeResult
from bot.core.errors import (
    FeedError,
    NotFoundError,
    PermissionDeniedError,
    QuerySyntaxError,
    WirewatchError,
)
from bot.core.models import DestinationState, FeedHealth, FeedInfo, StatusReport, WatchInfo

log = logging.getLogger(__name__)

MANAGE_CHANNELS = discord.Permissions(manage_channels=True)
NO_PINGS = discord.AllowedMentions.none()
CHOICES_LIMIT = 25  # Discord shows at most 25 autocomplete choices
CHOICE_NAME_LIMIT = 100

HELP_TEXT = """\
**Wirewatch** posts news alerts when items in the watched feeds match your queries.

**Set up this channel** (needs Manage Channels)
`/subscribe` — get the server's default watches here (or `/subscribe watch:` one of them)
`/watch add query:"rare earth" AND (export OR ban)` — a watch of this channel's own
`/watch list` · `/watch remove` · `/watch test query:…` (see what it would have matched)
`/unsubscribe` — stop alerts here (all, or one watch)
`/feeds add url:…` · `/feeds list` · `/feeds remove`

**For everyone**
`/latest [query] [count] [share]` — newest stored articles (only you see them unless shared)
`/status` — feed and delivery health, and this channel's watches
`/why url:…` — what happened to one article: fetched? matched? delivered?

Queries: words, "quoted phrases", AND / OR / NOT (or `-word`), parentheses, \
`title:` `summary:` `source:` fields and `/regex/`. Case and accents don't matter."""


class Refusal(app_commands.CheckFailure):
    """A command we decline to run, with the reason shown to the user as-is."""


def destination_of(interaction: discord.Interaction) -> str:
    """The destination string of the channel a command was run in."""
    if interaction.channel_id is None:
        raise Refusal("I cannot tell which channel this command came from.")
    return f"discord:{interaction.channel_id}"


def require_server(interaction: discord.Interaction) -> None:
    if interaction.guild_id is None:
        raise Refusal("This command works in a server channel, not in direct messages.")


def require_bot_can_post(interaction: discord.Interaction) -> None:
    """Refuse to set up alerts where the bot could not deliver them, and say what's missing."""
    perms = interaction.app_permissions
    channel = interaction.channel
    send_ok = (
        perms.send_messages_in_threads
        if isinstance(channel, discord.Thread)
        else perms.send_messages
    )
    missing = [
        label
        for label, ok in (
            ("View Channel", perms.view_channel),
            ("Send Messages", send_ok),
            ("Embed Links", perms.embed_links),
        )
        if not ok
    ]
    if missing:
        raise Refusal(
            f"I can't post alerts in this channel: my role is missing {', '.join(missing)} here. "
            "Give me those permissions in the channel settings, then run the command again."
        )


def when(value: datetime | None) -> str:
    """A Discord timestamp tag: every reader sees it in their own time zone, relative."""
    return "never" if value is None else f"<t:{int(value.timestamp())}:R>"


def code_block(text: str) -> str:
    # A backtick in user text would close the block; the look-alike keeps the caret aligned.
    return "```\n" + text.replace("`", "ˋ") + "\n```"


def query_error_text(error: QuerySyntaxError) -> str:
    return fit(
        f"That query does not parse: {error.message} (at position {error.position + 1}).\n"
        f"{code_block(error.pointer())}",
        CONTENT_LIMIT,
    )


def watch_label(watch: WatchInfo) -> str:
    """Plain label (autocomplete choices): ``#3 minerals: "rare earth"``."""
    name = f"{watch.name}: " if watch.name else ""
    return f"#{watch.id} {name}{watch.query}"


def watch_ref(watch: WatchInfo) -> str:
    """Markdown label for replies: ``#3`` in code, then the name or the query."""
    return f"`#{watch.id}` {clean(watch.name or watch.query)}"


def watch_line(watch: WatchInfo) -> str:
    name = f"**{clean(watch.name)}** " if watch.name else ""
    hits = f"{watch.hits} hit{'s' if watch.hits != 1 else ''}"
    last = f", last {when(watch.last_hit_at)}" if watch.last_hit_at else ""
    ping = f" · pings <@&{watch.mention}>" if watch.mention and watch.mention.isdigit() else ""
    return f"`#{watch.id}` {name}{clean(watch.query)} — {hits}{last}{ping}"


def feed_line(feed: FeedInfo) -> str:
    mark = {FeedHealth.OK: "✅", FeedHealth.FAILING: "⚠️", FeedHealth.NEW: "🆕"}[feed.health]
    name = clean(feed.name) + " — " if feed.name else ""
    every = f"every {max(feed.interval_seconds // 60, 1)} min"
    line = f"{mark} `#{feed.id}` {name}<{feed.url}> · {every}"
    if feed.health is FeedHealth.FAILING:
        reason = clean(feed.last_error or "unknown error")
        line += f"\n  failing since {when(feed.error_since)}: {reason}"
    return line


def listing(lines: Sequence[str], limit: int = DESCRIPTION_LIMIT) -> str:
    """Lines joined within ``limit``; what does not fit is counted, not cut mid-line."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left_after = len(lines) - i - 1
        reserve = utf16_len(f"…and {left_after} more") + 1 if left_after else 0
        size = utf16_len(line) + (1 if out else 0)
        if used + size + reserve > limit:
            out.append(f"…and {len(lines) - i} more")
            break
        out.append(line)
        used += size
    return "\n".join(out)


def choices_for(items: Iterable[tuple[str, str]], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices (label, value) whose label contains what was typed so far."""
    needle = current.strip().lstrip("#").casefold()
    return [
        app_commands.Choice(name=fit(label, CHOICE_NAME_LIMIT), value=value)
        for label, value in items
        if not needle or needle in label.casefold()
    ][:CHOICES_LIMIT]


async def answer(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embeds: Sequence[discord.Embed] = (),
    ephemeral: bool = True,
) -> None:
    """Reply, or fill in the deferred response when the command deferred first."""
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=content, embeds=list(embeds), allowed_mentions=NO_PINGS
        )
    else:
        await interaction.response.send_message(
            content=content, embeds=list(embeds), ephemeral=ephemeral, allowed_mentions=NO_PINGS
        )


async def defer(interaction: discord.Interaction, *, ephemeral: bool = True) -> None:
    interaction.extras["public"] = not ephemeral
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)


async def answer_error(interaction: discord.Interaction, text: str) -> None:
    """An error only the asker sees, even when the command had deferred publicly."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    elif interaction.extras.get("public"):
        await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.edit_original_response(content=text, embeds=[], allowed_mentions=NO_PINGS)


def error_text(error: BaseException) -> str | None:
    """What to tell the user about ``error``; None for a bug (logged, generic reply)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, QuerySyntaxError):
        return query_error_text(error)
    if isinstance(error, FeedError):
        return fit(f"That feed can't be used: {error.reason}", CONTENT_LIMIT)
    if isinstance(error, NotFoundError | PermissionDeniedError):
        return fit(str(error), CONTENT_LIMIT)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server channel, not in direct messages."
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need {', '.join(error.missing_permissions)} to use this command here."
    if isinstance(error, app_commands.CheckFailure | WirewatchError):
        return fit(str(error), CONTENT_LIMIT)
    return None


def subscribe_text(result: SubscribeResult, *, subscribing: bool) -> str:
    verb = "now gets" if subscribing else "no longer gets"
    parts: list[str] = []
    if result.changed:
        names = ", ".join(watch_ref(w) for w in result.changed)
        parts.append(f"This channel {verb} alerts for {names}.")
    if result.unchanged:
        state = "already subscribed" if subscribing else "not subscribed"
        parts.append(f"Was {state}: {', '.join(watch_ref(w) for w in result.unchanged)}.")
    if result.unknown:
        parts.append(
            f"No watch called {', '.join(clean(u) for u in result.unknown)} — see `/watch list`."
        )
    if not parts:
        parts.append(
            "There are no default watches to subscribe to: add one with `/watch add`."
            if subscribing
            else "This channel had no watches."
        )
    return fit(" ".join(parts), CONTENT_LIMIT)


def status_embed(report: StatusReport, destination: str) -> discord.Embed:
    feeds = report.feeds
    failing = report.failing_feeds
    counts = {h: sum(1 for f in feeds if f.health is h) for h in FeedHealth}
    healthy = not failing and report.dead_letters == 0
    embed = discord.Embed(
        title="Wirewatch status",
        colour=discord.Colour.green() if healthy else discord.Colour.orange(),
    )
    embed.add_field(
        name="Feeds",
        value=f"{counts[FeedHealth.OK]} ok · {counts[FeedHealth.FAILING]} failing · "
        f"{counts[FeedHealth.NEW]} new\nlast poll {when(report.last_poll_at)}",
    )
    outbox = f"{report.outbox_depth} waiting"
    if report.oldest_pending_at is not None:
        outbox += f", oldest from {when(report.oldest_pending_at)}"
    embed.add_field(name="Delivery", value=f"{outbox}\n{report.dead_letters} dead letters")
    here = next((d for d in report.destinations if d.destination == destination), None)
    if here is not None and here.state is DestinationState.FAILING:
        embed.add_field(
            name="This channel",
            value=fit(
                f"⚠️ failing since {when(here.failing_since)}: "
                f"{clean(here.last_error or 'unknown error')}\n{here.pending} alerts waiting",
                FIELD_VALUE_LIMIT,
            ),
            inline=False,
        )
    other_failing = [
        d
        for d in report.destinations
        if d.state is DestinationState.FAILING and d.destination != destination
    ]
    if other_failing:
        embed.add_field(name="Other failing destinations", value=str(len(other_failing)))
    if failing:
        embed.add_field(
            name=f"Failing feeds ({len(failing)})",
            value=listing([feed_line(f) for f in failing], FIELD_VALUE_LIMIT),
            inline=False,
        )
    subs = [watch_line(w) for w in report.subscriptions]
    embed.add_field(
        name="Watches in this channel",
        value=listing(subs, FIELD_VALUE_LIMIT) if subs else "none — `/subscribe` or `/watch add`",
        inline=False,
    )
    return embed


def build_commands(
    core: CoreAPI,
) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
    """Every Wirewatch slash command, bound to ``core``."""

    async def channel_watch_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        watches = await core.list_watches(destination_of(interaction))
        return choices_for(((watch_label(w), str(w.id)) for w in watches), current)

    async def default_watch_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # Only config watches: another channel's own watches are that channel's business.
        watches = [w for w in await core.list_watches() if w.owner is None]
        return choices_for(((watch_label(w), str(w.id)) for w in watches), current)

    async def feed_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        feeds = await core.list_feeds()
        return choices_for(((f"#{f.id} {f.name or f.url}", str(f.id)) for f in feeds), current)

    # -- /watch ----------------------------------------------------------------------------
    watch = app_commands.Group(
        name="watch",
        description="Watches: queries whose matching news is posted in this channel",
        guild_only=True,
        default_permissions=MANAGE_CHANNELS,
    )

    @watch.command(name="add", description="Post news matching a query in this channel")
    @app_commands.describe(
        query='What to watch for, e.g. "rare earth" AND (export OR ban)',
        name="A short name for the watch (optional)",
        mention="A role to ping with every alert of this watch (optional)",
    )
    async def watch_add(
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 1000],
        name: app_commands.Range[str, 1, 80] | None = None,
        mention: discord.Role | None = None,
    ) -> None:
        require_server(interaction)
        require_bot_can_post(interaction)
        note = ""
        if mention is not None:
            if mention.is_default():
                raise Refusal("Alerts never ping @everyone: pick a role instead.")
            if not mention.mentionable and not interaction.app_permissions.mention_everyone:
                note = (
                    f"\nNote: {mention.mention} is not mentionable and I lack “Mention @everyone, "
                    "@here and All Roles”, so the ping will show but not notify."
                )
        info = await core.add_watch(
            destination_of(interaction),
            query,
            name=name,
            created_by=f"discord:{interaction.user.id}",
            mention=str(mention.id) if mention is not None else None,
        )
        await answer(
            interaction,
            fit(
                f"Watching for {clean(info.query)} here as watch `#{info.id}`"
                f"{f' ({clean(info.name)})' if info.name else ''}: new matching items will be "
                "posted in this channel. Try `/watch test` to see what it would have matched."
                f"{note}",
                CONTENT_LIMIT,
            ),
            ephemeral=False,
        )

    @watch.command(name="list", description="Watches that post in this channel")
    async def watch_list(interaction: discord.Interaction) -> None:
        watches = await core.list_watches(destination_of(interaction))
        if not watches:
            await answer(
                interaction,
                "No watches post here yet: `/watch add` one, or `/subscribe` to the default ones.",
            )
            return
        embed = discord.Embed(
            title=f"Watches in this channel ({len(watches)})",
            description=listing([watch_line(w) for w in watches]),
            colour=discord.Colour.blurple(),
        )
        await answer(interaction, embeds=[embed])

    @watch.command(name="remove", description="Stop a watch posting in this channel")
    @app_commands.describe(watch="The watch (start typing its name, query or #id)")
    @app_commands.autocomplete(watch=channel_watch_choices)
    async def watch_remove(interaction: discord.Interaction, watch: str) -> None:
        require_server(interaction)
        removed = await core.remove_watch(destination_of(interaction), watch)
        await answer(
            interaction,
            fit(f"Watch {watch_ref(removed)} no longer posts in this channel.", CONTENT_LIMIT),
            ephemeral=False,
        )

    @watch.command(name="test", description="Show stored recent articles a query would match")
    @app_commands.describe(query="The query to try")
    async def watch_test(
        interaction: discord.Interaction, query: app_commands.Range[str, 1, 1000]
    ) -> None:
        await defer(interaction)
        articles = await core.test_query(query, limit=10)
        if not articles:
            await answer(
                interaction, fit(f"Nothing stored matches {clean(query)} yet.", CONTENT_LIMIT)
            )
            return
        await answer(
            interaction,
            fit(f"{len(articles)} recent article(s) match {clean(query)}:", CONTENT_LIMIT),
            embeds=render_articles(articles),
        )

    # -- /subscribe, /unsubscribe -----------------------------------------------------------
    @app_commands.command(name="subscribe", description="Get alerts in this channel")
    @app_commands.describe(watch="One default watch (leave empty for all default watches)")
    @app_commands.autocomplete(watch=default_watch_choices)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    async def subscribe(interaction: discord.Interaction, watch: str | None = None) -> None:
        require_server(interaction)
        require_bot_can_post(interaction)
        result = await core.subscribe(destination_of(interaction), [watch] if watch else ())
        await answer(
            interaction, subscribe_text(result, subscribing=True), ephemeral=not result.changed
        )

    @app_commands.command(name="unsubscribe", description="Stop alerts in this channel")
    @app_commands.describe(watch="One watch (leave empty to stop all alerts here)")
    @app_commands.autocomplete(watch=channel_watch_choices)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    async def unsubscribe(interaction: discord.Interaction, watch: str | None = None) -> None:
        require_server(interaction)
        result = await core.unsubscribe(destination_of(interaction), [watch] if watch else ())
        await answer(
            interaction, subscribe_text(result, subscribing=False), ephemeral=not result.changed
        )

    # -- /latest ------------------------------------------------------------------------------
    @app_commands.command(name="latest", description="The newest stored articles")
    @app_commands.describe(
        query="Only articles matching this query (optional)",
        count="How many (1-10, default 5)",
        share="Post the answer in the channel instead of only to you",
    )
    async def latest(
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 1000] | None = None,
        count: app_commands.Range[int, 1, 10] = 5,
        share: bool = False,
    ) -> None:
        await defer(interaction, ephemeral=not share)
        articles = await core.latest(query, limit=count)
        about = f" matching {clean(query)}" if query else ""
        if not articles:
            await answer(interaction, fit(f"No stored articles{about} yet.", CONTENT_LIMIT))
            return
        await answer(
            interaction,
            fit(f"Latest {len(articles)} article(s){about}:", CONTENT_LIMIT),
            embeds=render_articles(articles),
        )

    # -- /feeds -------------------------------------------------------------------------------
    feeds = app_commands.Group(
        name="feeds",
        description="The feeds Wirewatch reads",
        guild_only=True,
        default_permissions=MANAGE_CHANNELS,
    )

    @feeds.command(name="add", description="Add an RSS, Atom or JSON feed")
    @app_commands.describe(
        url="The feed's address (http or https)", name="A display name (optional)"
    )
    async def feeds_add(
        interaction: discord.Interaction,
        url: app_commands.Range[str, 8, 2000],
        name: app_commands.Range[str, 1, 80] | None = None,
    ) -> None:
        require_server(interaction)
        await defer(interaction)
        feed = await core.add_feed(url, name=name, added_by=f"discord:{interaction.user.id}")
        label = clean(feed.name) + " " if feed.name else ""
        await answer(
            interaction,
            fit(
                f"Added feed `#{feed.id}` {label}<{feed.url}>: checked every "
                f"{max(feed.interval_seconds // 60, 1)} min; matching items reach every "
                "subscribed channel.",
                CONTENT_LIMIT,
            ),
        )

    @feeds.command(name="list", description="The feeds Wirewatch reads, with their health")
    async def feeds_list(interaction: discord.Interaction) -> None:
        items = await core.list_feeds()
        if not items:
            await answer(interaction, "No feeds yet: add one with `/feeds add`.")
            return
        failing = sum(1 for f in items if f.health is FeedHealth.FAILING)
        embed = discord.Embed(
            title=f"Feeds ({len(items)}, {failing} failing)",
            description=listing([feed_line(f) for f in items]),
            colour=discord.Colour.orange() if failing else discord.Colour.green(),
        )
        await answer(interaction, embeds=[embed])

    @feeds.command(name="remove", description="Stop reading a feed")
    @app_commands.describe(feed="The feed (start typing its name, URL or #id)")
    @app_commands.autocomplete(feed=feed_choices)
    async def feeds_remove(interaction: discord.Interaction, feed: str) -> None:
        require_server(interaction)
        removed = await core.remove_feed(feed.lstrip("#"))
        label = clean(removed.name) + " " if removed.name else ""
        await answer(
            interaction, fit(f"Removed feed `#{removed.id}` {label}<{removed.url}>.", CONTENT_LIMIT)
        )

    # -- /status, /why, /help ---------------------------------------------------------------
    @app_commands.command(
        name="status", description="Feed and delivery health, and this channel's watches"
    )
    async def status(interaction: discord.Interaction) -> None:
        destination = destination_of(interaction)
        report = await core.status(destination)
        await answer(interaction, embeds=[status_embed(report, destination)])

    @app_commands.command(
        name="why", description="What happened to one article: fetched, matched, delivered?"
    )
    @app_commands.describe(url="The article's URL")
    async def why(interaction: discord.Interaction, url: app_commands.Range[str, 8, 2000]) -> None:
        await defer(interaction)
        report = await core.why(url)
        embed = discord.Embed(
            title=fit(f"Why: {url}", 256),
            description=listing([clean(line) for line in report.lines] or ["No record of it."]),
            colour=discord.Colour.blurple() if report.found else discord.Colour.light_grey(),
        )
        await answer(interaction, embeds=[embed])

    @app_commands.command(name="help", description="What Wirewatch does and how to set it up")
    async def help_command(interaction: discord.Interaction) -> None:
        await answer(interaction, HELP_TEXT)

    return [watch, subscribe, unsubscribe, latest, feeds, status, why, help_command]


def install_commands(tree: app_commands.CommandTree[discord.Client], core: CoreAPI) -> None:
    """Add Wirewatch's commands to ``tree`` and its error replies."""
    for command in build_commands(core):
        tree.add_command(command)

    @tree.error
    async def on_command_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        text = error_text(error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if text is None:
            log.error(
                "discord command failed",
                exc_info=error,
                extra={"command": command, "channel": interaction.channel_id},
            )
            text = "Something went wrong on Wirewatch's side; the error was logged."
        else:
            log.info("discord command refused", extra={"command": command, "reason": text})
        try:
            await answer_error(interaction, text)
        except discord.HTTPException:
            log.warning("could not send the error reply", extra={"command": command}, exc_info=True)
