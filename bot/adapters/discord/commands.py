"""Discord slash commands, built from the core's command catalogue.

Every catalogue command becomes an app command (``watch add`` is ``/watch add``) whose
options are the command's parameters; the interaction becomes a
:class:`~bot.core.api.Caller` and the core's neutral reply becomes message content and
embeds (:mod:`bot.adapters.discord.replies`). What a command does and every word it
answers live once, in :mod:`bot.core.commands`.

Who may change a channel: members with Manage Channels there (Discord computes the
member's permissions in the channel and sends them with the interaction). Commands that
only change things are hidden from other members by default (an admin can re-grant them
per role under Server Settings -> Integrations); grouped commands such as ``/watch`` mix
reading and changing, so the core refuses the changing ones, with the reason. The
adapter itself refuses what only Discord knows: a channel where the bot cannot post, a
ping of @everyone.

Replies only the asker needs are ephemeral; a change to what a channel receives is
answered in the channel, which Discord shows as "<member> used /subscribe". Slow
commands defer first, so nothing ends in "The application did not respond".
"""

from __future__ import annotations

import inspect
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Literal, Optional  # noqa: F401  (read by string annotations)

import discord
from discord import app_commands

from bot.adapters.discord.render import BUTTON_PREFIX, CONTENT_LIMIT, STORY_MENU_ID, fit
from bot.adapters.discord.replies import markdown, option_name, render_reply
from bot.core.api import Caller, CoreAPI
from bot.core.commands.catalogue import (
    CATALOGUE,
    COMMANDS,
    CommandSpec,
    FileIn,
    Kind,
    Param,
    button_args,
)
from bot.core.commands.handlers import Commands
from bot.core.commands.reply import Paragraph, Reply, Tone, Visibility, text_reply
from bot.core.models import WatchInfo
from bot.core.storypick import stories_named

log = logging.getLogger(__name__)

MANAGE_CHANNELS = discord.Permissions(manage_channels=True)
NO_PINGS = discord.AllowedMentions.none()
CHOICES_LIMIT = 25  # Discord shows at most 25 autocomplete choices
CHOICE_NAME_LIMIT = 100
DESCRIPTION_LIMIT = 100
ATTACHMENT_DESCRIPTION_LIMIT = 1024
MANAGERS = "members with Manage Channels"
# An alert's buttons (render.alert_buttons) and the catalogue commands they run.
_BUTTONS = {"story": "story mute", "irrelevant": "not-relevant", "pause": "snooze"}
# Commands whose success means the bot will post in this channel from now on.
_POSTS_HERE = frozenset({"subscribe", "watch add"})


def _annotation(param: Param) -> str:
    """The parameter's type as discord.py reads it (a string, resolved in this module)."""
    if param.kind is Kind.INT:
        low = param.min_value if param.min_value is not None else 0
        high = param.max_value if param.max_value is not None else 2**31
        base = f"app_commands.Range[int, {low}, {high}]"
    elif param.kind is Kind.FLAG:
        base = "bool"
    elif param.kind is Kind.CHOICE:
        base = f"Literal[{', '.join(repr(c) for c in param.choices)}]"
    elif param.kind is Kind.MENTION:
        base = "discord.Role"
    elif param.kind is Kind.FILE:
        base = "discord.Attachment"
    elif param.max_length:
        base = f"app_commands.Range[str, 1, {param.max_length}]"
    else:
        base = "str"
    return base if param.required else f"Optional[{base}]"


def caller_of(interaction: discord.Interaction) -> Caller:
    perms = interaction.permissions
    return Caller(
        destination=f"discord:{interaction.channel_id}",
        tenant=f"discord:g:{interaction.guild_id}" if interaction.guild_id else None,
        user=f"discord:{interaction.user.id}",
        can_manage=interaction.guild_id is not None
        and (perms.manage_channels or perms.administrator),
        dm=f"discord-dm:{interaction.user.id}",
        managers=MANAGERS,
    )


def dm_caller(interaction: discord.Interaction) -> Caller:
    """A command typed in a DM with the bot: the person is their own "workspace"."""
    return Caller(
        destination=f"discord:{interaction.channel_id}",
        tenant=f"discord:u:{interaction.user.id}",
        user=f"discord:{interaction.user.id}",
        can_manage=False,
        dm=f"discord-dm:{interaction.user.id}",
        managers=MANAGERS,
        direct=True,
    )


def caller_for(interaction: discord.Interaction, spec: CommandSpec) -> Caller:
    """Who runs ``spec`` here: a server member in a channel; in a DM, the person, whose
    own DM alerts the commands that work there act on."""
    if interaction.guild_id:
        return caller_of(interaction)
    caller = dm_caller(interaction)
    if spec.in_dm:
        # In a DM with the bot: the person's own DM alerts, theirs to manage.
        return replace(caller, destination=caller.dm or caller.destination, can_manage=True)
    return caller


def ping_unheard(interaction: discord.Interaction, role: discord.Role) -> str | None:
    """Why an alert's ping of ``role`` would notify nobody, or None: Discord lets a bot
    mention a role only when the role is mentionable or the bot may mention everyone."""
    if role.mentionable or interaction.app_permissions.mention_everyone:
        return None
    return (
        f"⚠️ Its alerts will name @{role.name} but notify nobody: the role is not mentionable. "
        "Turn on “Allow anyone to @mention this role” (Server Settings → Roles), or give my "
        "role “Mention @everyone, @here and All Roles”."
    )


def bot_cannot_post(interaction: discord.Interaction) -> str | None:
    """Why the bot could not deliver alerts in this channel, or None."""
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
    if not missing:
        return None
    return (
        f"I can't post alerts in this channel: my role is missing {', '.join(missing)} here. "
        "Give me those permissions in the channel settings, then run the command again."
    )


def choices_for(items: Iterable[tuple[str, str]], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices (label, value) whose label contains what was typed so far."""
    needle = current.strip().lstrip("#").casefold()
    return [
        app_commands.Choice(name=fit(label, CHOICE_NAME_LIMIT), value=value)
        for label, value in items
        if not needle or needle in label.casefold()
    ][:CHOICES_LIMIT]


def _watch_label(watch: WatchInfo) -> str:
    name = f"{watch.name}: " if watch.name else ""
    return f"#{watch.id} {name}{watch.query}"


class DiscordCommands:
    """The catalogue as app commands, bound to one core."""

    def __init__(self, core: CoreAPI) -> None:
        self.core = core
        self.commands = Commands(core)

    # --- building ----------------------------------------------------------------------

    def build(self) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
        top: list[app_commands.Command[Any, ..., None] | app_commands.Group] = []
        groups: dict[str, app_commands.Group] = {}
        for spec in CATALOGUE:
            if spec.hidden:
                continue  # behind an alert's button (on_component), not a slash command
            command = self._command(spec)
            if spec.group is None:
                top.append(command)
                continue
            group = groups.get(spec.group)
            if group is None:
                group = app_commands.Group(
                    name=spec.group,
                    description=f"Wirewatch {spec.group}",
                    # Discord sets where a group works, not each of its commands: a group
                    # with a command that works in a DM (your own watches, `watch volume`
                    # on your DM alerts) is offered there, and its server-only commands
                    # answer that they work in a server channel (see invoke).
                    guild_only=_server_only(spec.group),
                )
                groups[spec.group] = group
                top.append(group)
            group.add_command(command)
        return top

    def _command(self, spec: CommandSpec) -> app_commands.Command[Any, ..., None]:
        names = {p.name: option_name(p.name) for p in spec.params}
        back = {v: k for k, v in names.items()}

        async def callback(interaction: discord.Interaction, **options: Any) -> None:
            args = {back[k]: v for k, v in options.items() if v is not None}
            await self.invoke(interaction, spec, args)

        params = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation="discord.Interaction",
            )
        ]
        ordered = sorted(spec.params, key=lambda p: not p.required)
        for p in ordered:
            params.append(
                inspect.Parameter(
                    names[p.name],
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=_annotation(p),
                    default=inspect.Parameter.empty if p.required else None,
                )
            )
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
            names[p.name]: fit(p.help, DESCRIPTION_LIMIT) for p in spec.params
        }
        completers = {
            names[p.name]: self._completer(spec, p.kind)
            for p in spec.params
            if p.kind in (Kind.WATCH, Kind.WATCHES, Kind.FEED, Kind.STORY)
        }
        if completers:
            callback.__discord_app_commands_param_autocomplete__ = completers  # type: ignore[attr-defined]
        if spec.group is None and spec.mutating:
            if not spec.in_dm:
                callback.__discord_app_commands_guild_only__ = True  # type: ignore[attr-defined]
            callback.__discord_app_commands_default_permissions__ = MANAGE_CHANNELS  # type: ignore[attr-defined]
        return app_commands.Command(
            name=spec.leaf,
            description=fit(spec.summary, DESCRIPTION_LIMIT),
            callback=callback,
        )

    def _completer(self, spec: CommandSpec, kind: Kind) -> Any:
        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            # The watches the command itself would look among: the person's own for
            # /dm remove, a DM's for /watch volume typed there.
            caller = caller_for(interaction, spec)
            if kind is Kind.STORY:
                return await self._story_choices(interaction, caller, current)
            if kind is Kind.FEED:
                feeds = await self.core.list_feeds(caller)
                return choices_for(
                    ((f"#{f.id} {f.name or f.url}", str(f.id)) for f in feeds), current
                )
            if kind is Kind.WATCHES:
                watches = await self.core.available_watches(caller)
            else:
                watches = await self.core.list_watches(caller, personal=spec.personal)
            return choices_for(
                (
                    (f"#{w.id} {w.name + ': ' if w.name else ''}{w.query}", str(w.id))
                    for w in watches
                ),
                current,
            )

        return complete

    async def _story_choices(
        self, interaction: discord.Interaction, caller: Caller, current: str
    ) -> list[app_commands.Choice[str]]:
        """The channel's recent stories not muted yet, those with the words typed so far:
        each picked as its headline's words (a choice's value holds at most 100)."""
        if interaction.guild_id is None and caller.dm:
            caller = replace(caller, destination=caller.dm)
        stories = [s for s in await self.core.stories_here(caller) if not s.muted]
        if current.strip():
            stories = list(stories_named(current, stories))
        return [
            app_commands.Choice(
                name=fit(s.title, CHOICE_NAME_LIMIT),
                value=_words_within(s.title, CHOICE_NAME_LIMIT),
            )
            for s in stories[:CHOICES_LIMIT]
            if s.title.strip()
        ]

    # --- running -------------------------------------------------------------------------

    async def invoke(
        self,
        interaction: discord.Interaction,
        spec: CommandSpec,
        args: dict[str, object],
        *,
        private: bool = False,
    ) -> None:
        caller = caller_for(interaction, spec)
        refused = self.commands.refusal(caller, spec)
        if refused is None and spec.name in _POSTS_HERE:
            reason = bot_cannot_post(interaction)
            if reason is not None:
                refused = text_reply(reason, tone=Tone.ERROR)
        ping = args.get("ping")
        if refused is None and isinstance(ping, discord.Role):
            if ping.is_default():
                refused = text_reply(
                    "Alerts never ping @everyone: pick a role instead.", tone=Tone.ERROR
                )
            args["ping"] = str(ping.id)
        if "watches" in args:
            args["watches"] = (str(args["watches"]),)
        if refused is None:
            refused = await self._read_attachments(spec, args)
        if refused is not None:
            log.info("discord command refused", extra={"command": spec.name})
            await self.answer(interaction, refused, public=False)
            return
        deferred_public = bool(args.get("share")) or spec.public
        if spec.slow:
            await interaction.response.defer(ephemeral=not deferred_public, thinking=True)
        reply = await self.commands.run(caller, spec.name, args)
        unheard = ping_unheard(interaction, ping) if isinstance(ping, discord.Role) else None
        if unheard is not None and not reply.failed:
            reply = replace(reply, blocks=(*reply.blocks, Paragraph((unheard,))))
        public = not reply.failed and (
            reply.visibility is Visibility.CHANNEL or reply.announce is not None
        )
        if spec.slow and deferred_public and not public:
            # The "thinking…" message is already public: an error or a private answer must
            # not be edited into it for everyone to read.
            await interaction.delete_original_response()
            await interaction.followup.send(
                ephemeral=True, allowed_mentions=NO_PINGS, **_message_fields(reply)
            )
            return
        if spec.slow and not deferred_public and reply.announce is not None and public:
            # Deferred privately before the outcome was known: the asker reads the answer,
            # and the channel still hears of the change.
            await self.answer(interaction, reply, public=False)
            await interaction.followup.send(
                content=fit(markdown(reply.announce), CONTENT_LIMIT), allowed_mentions=NO_PINGS
            )
            return
        if private:
            # A button: the clicker reads the answer; the channel hears of a change.
            await self.answer(interaction, reply, public=False)
            if public and reply.announce is not None:
                await interaction.followup.send(
                    content=fit(markdown(reply.announce), CONTENT_LIMIT), allowed_mentions=NO_PINGS
                )
            return
        await self.answer(interaction, reply, public=public)

    @staticmethod
    async def _read_attachments(spec: CommandSpec, args: dict[str, object]) -> Reply | None:
        """Attachment options become neutral files (read here, capped); a refusal or None."""
        for param in spec.params:
            value = args.get(param.name)
            if param.kind is not Kind.FILE or not isinstance(value, discord.Attachment):
                continue
            cap = param.max_length or 1024 * 1024
            if value.size > cap:
                return text_reply(
                    f"That file is {value.size:,} bytes; at most {cap:,} are read.",
                    tone=Tone.ERROR,
                )
            try:
                data = await value.read()
            except discord.HTTPException as e:
                log.warning("could not read an attachment", extra={"error": str(e)})
                return text_reply(
                    "Discord did not hand over that file; try again.", tone=Tone.ERROR
                )
            args[param.name] = FileIn(value.filename, data[:cap])
        return None

    async def on_component(self, interaction: discord.Interaction) -> None:
        """An alert's button, or a listing's menu: the catalogue command it stands for,
        answered privately."""
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if custom_id == STORY_MENU_ID:
            # A listing's "Mute a story…" menu: the option picked is the story's alert id.
            picked = data.get("values") or []
            custom_id = f"{BUTTON_PREFIX}:story:{picked[0] if picked else ''}"
        prefix, _, rest = custom_id.partition(":")
        action, _, value = rest.partition(":")
        if prefix != BUTTON_PREFIX or not value.isdigit():
            return  # not ours
        command = _BUTTONS.get(action)
        if command is None:
            return
        args = button_args(command, value)
        log.info(
            "discord alert button", extra={"command": command, "channel": interaction.channel_id}
        )
        await self.invoke(interaction, COMMANDS[command], args, private=True)

    async def answer(self, interaction: discord.Interaction, reply: Any, *, public: bool) -> None:
        """Reply, or fill in the deferred response when the command deferred first."""
        fields = _message_fields(reply)
        if interaction.response.is_done():
            files = fields.pop("files", [])
            await interaction.edit_original_response(
                attachments=files, allowed_mentions=NO_PINGS, **fields
            )
        else:
            await interaction.response.send_message(
                ephemeral=not public, allowed_mentions=NO_PINGS, **fields
            )


def _words_within(text: str, limit: int) -> str:
    """``text`` on one line, cut to whole words within ``limit`` characters (no ellipsis:
    the words are matched against the headline again)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = line[: limit + 1]
    return head[: head.rfind(" ")] if " " in head else line[:limit]


def _server_only(group: str) -> bool:
    members = [s for s in CATALOGUE if s.group == group and not s.hidden]
    return any(s.mutating for s in members) and not any(s.in_dm for s in members)


def _message_fields(reply: Reply) -> dict[str, Any]:
    """content, embeds and (when the reply has them) files of one Discord message."""
    content, embeds = render_reply(reply)
    fields: dict[str, Any] = {"content": content, "embeds": embeds}
    if reply.files:
        fields["files"] = [
            discord.File(
                io.BytesIO(f.data),
                filename=f.name,
                # Discord refuses an attachment's description past 1,024 characters.
                description=fit(f.alt or f.title, ATTACHMENT_DESCRIPTION_LIMIT),
            )
            for f in reply.files
        ]
    return fields


def error_text(error: BaseException) -> str | None:
    """What to tell the user about a failure before the command ran; None for a bug."""
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server channel, not in direct messages."
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need {', '.join(error.missing_permissions)} to use this command here."
    if isinstance(error, app_commands.TransformerError | app_commands.CheckFailure):
        return fit(str(error), CONTENT_LIMIT)
    return None


def install_commands(tree: app_commands.CommandTree[discord.Client], core: CoreAPI) -> None:
    """Add Wirewatch's commands to ``tree``, its error replies, and its alert buttons."""
    commands = DiscordCommands(core)
    for command in commands.build():
        tree.add_command(command)
    if hasattr(tree.client, "on_component"):
        tree.client.on_component = commands.on_component

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
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_PINGS
                )
        except discord.HTTPException:
            log.warning("could not send the error reply", extra={"command": command}, exc_info=True)
