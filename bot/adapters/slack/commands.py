"""The ``/wirewatch`` slash command: its text becomes a catalogue command for the core.

This module only translates: Slack's text and user into a command and a
:class:`~bot.core.api.Caller`, and the core's neutral reply into Block Kit
(:mod:`bot.adapters.slack.replies`). What each command does, and every word it answers,
lives once in :mod:`bot.core.commands`. ``app`` owns the transport (ack, ``respond``,
``chat.postMessage``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import unescape

from bot.adapters.slack.permissions import SlackPermissions
from bot.adapters.slack.render import SlackMessage, escape_text
from bot.adapters.slack.replies import render_line, render_reply
from bot.core.api import Caller, CoreAPI
from bot.core.commands.catalogue import COMMANDS, CommandSpec
from bot.core.commands.handlers import Commands
from bot.core.commands.reply import Reply as CoreReply
from bot.core.commands.reply import Visibility
from bot.core.commands.textargs import (
    CommandTextError,
    ParsedText,
    UnknownCommandError,
    UsageError,
    parse_text,
)

log = logging.getLogger(__name__)

_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class Invocation:
    user_id: str
    channel_id: str
    text: str
    team_id: str = ""

    @property
    def destination(self) -> str:
        return f"slack:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to the caller, plus an optional message for everyone in the channel.

    ``public`` makes the answer itself visible in the channel (``latest share``).
    ``announce`` is posted with chat.postMessage, which also proves the bot can post
    there; when it cannot, the caller is told how to invite it.
    """

    message: SlackMessage
    public: bool = False
    announce: SlackMessage | None = None
    core: CoreReply | None = None


def normalise_text(text: str) -> str:
    """Undo Slack's formatting of slash-command text: ``<url|label>`` -> url, entities."""
    return unescape(_LINK.sub(lambda m: m.group(1), text)).strip()


def parse(text: str) -> ParsedText | CommandTextError:
    try:
        return parse_text(normalise_text(text))
    except CommandTextError as e:
        return e


class CommandRouter:
    """Runs one ``/wirewatch`` invocation against the core and renders the reply."""

    def __init__(
        self,
        core: CoreAPI,
        permissions: SlackPermissions,
        *,
        command: str = "/wirewatch",
    ) -> None:
        self._commands = Commands(core)
        self._permissions = permissions
        self._command = command

    def _render(self, reply: CoreReply) -> Reply:
        return Reply(
            message=render_reply(reply, self._command),
            public=reply.visibility is Visibility.CHANNEL,
            announce=render_line(reply.announce, self._command) if reply.announce else None,
            core=reply,
        )

    @staticmethod
    def is_slow(text: str) -> bool:
        parsed = parse(text)
        return isinstance(parsed, ParsedText) and parsed.spec.slow

    @staticmethod
    def working_text(text: str) -> str | None:
        """What the ack of a slow command says while the work runs (None: a silent ack)."""
        parsed = parse(text)
        if isinstance(parsed, ParsedText) and parsed.spec.name == "feeds add":
            return f"Checking {escape_text(str(parsed.args['url']))} — fetching it once…"
        if isinstance(parsed, ParsedText) and parsed.spec.name == "feeds import":
            return "Reading the OPML file and checking each of its feeds…"
        return None

    async def _caller(self, invocation: Invocation, spec: CommandSpec) -> Caller:
        dm = f"slack-dm:{invocation.user_id}" if invocation.user_id else None
        direct = invocation.channel_id.startswith("D")
        if dm is not None and direct and spec.in_dm:
            # Typed in a direct message: it acts on the person's own DM alerts.
            return Caller(
                destination=dm,
                tenant=f"slack:{invocation.team_id}" if invocation.team_id else "slack:",
                user=f"slack:{invocation.user_id}",
                can_manage=True,
                dm=dm,
                managers="you",
                direct=True,
            )
        can_manage = False
        if spec.mutating:
            decision = await self._permissions.can_manage(invocation.user_id)
            can_manage = decision.allowed
        return Caller(
            destination=invocation.destination,
            tenant=f"slack:{invocation.team_id}" if invocation.team_id else "slack:",
            user=f"slack:{invocation.user_id}",
            can_manage=can_manage,
            dm=dm,
            managers=self._permissions.who_can(),
            direct=direct,
        )

    async def precheck(self, invocation: Invocation) -> Reply | None:
        """The quick answers that need no core work: unknown command, usage, refusal.

        Slow commands run this before acking, so a refusal is the ack itself rather
        than a "working on it" followed by a refusal.
        """
        parsed = parse(invocation.text)
        if isinstance(parsed, UnknownCommandError):
            return self._render(Commands.unknown(parsed))
        if isinstance(parsed, UsageError):
            return self._render(Commands.usage(parsed))
        assert isinstance(parsed, ParsedText)
        refused = self._commands.refusal(await self._caller(invocation, parsed.spec), parsed.spec)
        return None if refused is None else self._render(refused)

    async def run(self, invocation: Invocation) -> Reply:
        """Parse, call the core, render. Never raises."""
        early = await self.precheck(invocation)
        if early is not None:
            return early
        parsed = parse(invocation.text)
        assert isinstance(parsed, ParsedText)
        caller = await self._caller(invocation, parsed.spec)
        return self._render(await self._commands.run(caller, parsed.spec.name, parsed.args))

    async def run_command(
        self, invocation: Invocation, name: str, args: dict[str, object]
    ) -> Reply:
        """A catalogue command from a button rather than typed text."""
        spec = COMMANDS[name]
        caller = await self._caller(invocation, spec)
        return self._render(await self._commands.run(caller, name, args))


def invite_hint(bot_name: str) -> str:
    """What to tell a user when the bot cannot post in their channel."""
    return (
        f":warning: Saved — but I'm not a member of this channel, so alerts cannot arrive yet. "
        f"Type `/invite @{bot_name}` here (in a private channel: click the channel name → "
        "Integrations → Add apps). Alerts wait in the queue until then (up to the dead-letter "
        "limit, 6 hours by default; `status` shows any that gave up)."
    )
