"""A fake Discord on 127.0.0.1: REST API and gateway websocket, for the real discord.py.

Usage::

    async with FakeDiscord() as fake:
        adapter = DiscordAdapter(core=core, settings=fake.settings())
        await adapter.start()                       # GET /users/@me, command sync, gateway
        call = await fake.slash("watch", {"query": "rare earth"}, subcommand="add")
        assert call.callback["type"] == 4           # the interaction's answer
        fake.fail_channel(CHANNEL, Failure.missing_access())

The gateway speaks HELLO -> (heartbeat/ACK) -> IDENTIFY -> READY -> GUILD_CREATE and then
whatever the test dispatches (INTERACTION_CREATE). With ``compress=True`` frames go out as
zlib-stream (one compressor per connection, each message Z_SYNC_FLUSHed) when the client
asks for it; otherwise text frames, which discord.py also accepts.

Every REST call is recorded (method, path, query, JSON body, auth header). Channel
messages honour ``nonce`` + ``enforce_nonce`` the way Discord does: a repeated nonce in the
same channel returns the first message instead of posting again. Failures are injected per
channel or webhook (``Failure``): 429 (with ``Via`` and a JSON ``retry_after``, as Discord's
own limiter sends it, with the X-RateLimit headers; ``global_`` for the bot-wide limit), 5xx
(``applied``: after the message was created), 403 Missing Access / Missing Permissions,
404 Unknown Channel.

Files: multipart ``files[n]`` parts of any answer are kept on the interaction
(``InteractionCall.files``); an ``AttachmentRef`` option is a file the user attached
(option type 11, resolved in the payload, downloadable from the fake).

See ../shared/notes/chat-protocols.md for the protocol facts this relies on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from bot.settings import DiscordSettings

TOKEN = "fake-discord-token"
APPLICATION_ID = 1100000000000000001
BOT_USER_ID = APPLICATION_ID
GUILD_ID = 1200000000000000001
CHANNEL_ID = 1300000000000000001
OTHER_CHANNEL_ID = 1300000000000000002
USER_ID = 1400000000000000001
ROLE_ID = 1500000000000000001
WEBHOOK_ID = 1600000000000000001
WEBHOOK_TOKEN = "w" * 68
WEBHOOK_URL = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

# Every permission bit Discord knows today: what an administrator's member payload carries.
ALL_PERMISSIONS = (1 << 53) - 1
# View Channel, Send Messages, Embed Links: what the bot needs to post alerts.
BOT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14)

_OP_DISPATCH, _OP_HEARTBEAT, _OP_IDENTIFY, _OP_RESUME = 0, 1, 2, 6
_OP_INVALID_SESSION, _OP_HELLO, _OP_HEARTBEAT_ACK = 9, 10, 11


@dataclass
class Failure:
    """An error answer for matching requests; ``times=None`` keeps failing until cleared."""

    status: int
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    via: bool = True  # Discord's own 429s carry Via; Cloudflare bans do not
    times: int | None = 1
    # The bot's global limit (every route at once) rather than one route's bucket.
    global_: bool = False
    # The request took effect before the error answer (a 5xx after the message was
    # created): a repeat with the same nonce then returns that message, as Discord does.
    applied: bool = False

    @classmethod
    def missing_access(cls) -> Failure:
        return cls(403, 50001, "Missing Access", times=None)

    @classmethod
    def missing_permissions(cls) -> Failure:
        return cls(403, 50013, "Missing Permissions", times=None)

    @classmethod
    def unknown_channel(cls) -> Failure:
        return cls(404, 10003, "Unknown Channel", times=None)

    @classmethod
    def unknown_webhook(cls) -> Failure:
        return cls(404, 10015, "Unknown Webhook", times=None)

    @classmethod
    def server_error(
        cls, status: int = 503, *, times: int | None = 1, applied: bool = False
    ) -> Failure:
        return cls(status, 0, "Service Unavailable", times=times, applied=applied)

    @classmethod
    def rate_limited(
        cls,
        retry_after: float = 0.05,
        *,
        times: int | None = 1,
        via: bool = True,
        global_: bool = False,
    ) -> Failure:
        return cls(
            429,
            0,
            "You are being rate limited.",
            retry_after=retry_after,
            via=via,
            times=times,
            global_=global_,
        )

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        headers = {}
        if self.status == 429:
            # As Discord answers: retry_after in the body (float seconds), Retry-After
            # (whole seconds, rounded up) and the X-RateLimit headers naming the scope.
            wait = self.retry_after or 0.0
            body["retry_after"] = wait
            body["global"] = self.global_
            headers["Retry-After"] = str(max(1, int(-(-wait // 1))))
            if self.via:  # from Discord's API, not a Cloudflare ban in front of it
                headers["Via"] = "1.1 google"
                headers["X-RateLimit-Scope"] = "global" if self.global_ else "user"
                if self.global_:
                    headers["X-RateLimit-Global"] = "true"
                else:
                    headers["X-RateLimit-Limit"] = "5"
                    headers["X-RateLimit-Remaining"] = "0"
                    headers["X-RateLimit-Reset-After"] = f"{wait:.3f}"
                    headers["X-RateLimit-Bucket"] = "fakebucket"
        return _json(body, status=self.status, headers=headers)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    authorization: str | None
    status: int = 0  # what the fake answered
    files: list[UploadedFile] = field(default_factory=list)  # multipart files[n] parts


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot attached to a message (a multipart ``files[n]`` part)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class InteractionCall:
    """One injected interaction and everything the bot answered to it."""

    id: int
    token: str
    payload: dict[str, Any]
    callback: dict[str, Any] | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # PATCH .../@original
    followups: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False  # the original response was deleted (DELETE .../@original)
    files: list[UploadedFile] = field(default_factory=list)  # attached by any answer
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def callback_type(self) -> int | None:
        return None if self.callback is None else int(self.callback["type"])

    @property
    def data(self) -> dict[str, Any]:
        """The callback's data (message fields, or autocomplete choices)."""
        assert self.callback is not None, "the bot never answered this interaction"
        return dict(self.callback.get("data") or {})

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags", 0)) & 64)

    @property
    def final(self) -> dict[str, Any]:
        """The message a user finally sees: the last edit, else the callback's data."""
        return self.edits[-1] if self.edits else self.data

    @property
    def text(self) -> str:
        """Content plus embed texts of the final message, for assertions on wording."""
        message = self.final
        parts = [str(message.get("content") or "")]
        for embed in message.get("embeds") or []:
            parts.append(str(embed.get("title") or ""))
            parts.append(str(embed.get("description") or ""))
            for f in embed.get("fields") or []:
                parts.append(f"{f.get('name')}\n{f.get('value')}")
            parts.append(str((embed.get("footer") or {}).get("text") or ""))
        return "\n".join(p for p in parts if p)

    async def wait_final(self, within: float = 5.0) -> dict[str, Any]:
        """Wait until a deferred interaction's original response was edited."""
        async with asyncio.timeout(within):
            while not self.edits:
                self._changed.clear()
                await self._changed.wait()
        return self.final

    def _notify(self) -> None:
        self._changed.set()


@dataclass
class FakeGuild:
    id: int = GUILD_ID
    name: str = "Newsroom"
    channels: tuple[tuple[int, str], ...] = ((CHANNEL_ID, "alerts"), (OTHER_CHANNEL_ID, "general"))
    roles: tuple[tuple[int, str, bool], ...] = ((ROLE_ID, "desk", True),)  # id, name, mentionable

    def payload(self) -> dict[str, Any]:
        roles = [_role(self.id, "@everyone", False, position=0)]
        roles += [
            _role(rid, name, m, position=i + 1) for i, (rid, name, m) in enumerate(self.roles)
        ]
        return {
            "id": str(self.id),
            "name": self.name,
            "unavailable": False,
            "owner_id": str(USER_ID),
            "member_count": 2,
            "roles": roles,
            "channels": [
                {
                    "id": str(cid),
                    "type": 0,
                    "name": name,
                    "position": i,
                    "guild_id": str(self.id),
                    "permission_overwrites": [],
                }
                for i, (cid, name) in enumerate(self.channels)
            ],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }


def _role(role_id: int, name: str, mentionable: bool, *, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": "0",
        "managed": False,
        "mentionable": mentionable,
        "flags": 0,
    }


# What Discord accepts as a URL in an embed: an absolute http(s) or attachment URL made of
# RFC 3986 characters only. Anything else (a space, a quote, non-ASCII) is refused with
# 400 Invalid Form Body, code 50035, "Not a well formed URL.", as Discord does.
_WELL_FORMED_URL = re.compile(r"(?:https?|attachment)://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_EMBED_URL_FIELDS = (
    ("url",),
    ("thumbnail", "url"),
    ("image", "url"),
    ("author", "url"),
    ("author", "icon_url"),
    ("footer", "icon_url"),
)


def _form_errors(body: Mapping[str, Any]) -> web.Response | None:
    """Discord's 400 for embeds whose URLs are not well formed, or None when all are."""
    errors: dict[str, Any] = {}
    for index, embed in enumerate(body.get("embeds") or []):
        for path in _EMBED_URL_FIELDS:
            value: Any = embed
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None and not _WELL_FORMED_URL.fullmatch(str(value)):
                leaf: dict[str, Any] = {
                    "_errors": [
                        {"code": "URL_TYPE_INVALID_URL", "message": "Not a well formed URL."}
                    ]
                }
                for key in reversed(path):
                    leaf = {key: leaf}
                errors.setdefault("embeds", {}).setdefault(str(index), {}).update(leaf)
    embeds = [e for e in body.get("embeds") or [] if isinstance(e, dict)]
    if sum(_embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        errors.setdefault("embeds", {})["_errors"] = [
            {
                "code": "BASE_TYPE_MAX_LENGTH",
                "message": f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            }
        ]
    for row_index, row in enumerate(body.get("components") or []):
        for index, component in enumerate(row.get("components") or []):
            if component.get("type") != 3:
                continue
            options = component.get("options") or []
            bad = not 1 <= len(options) <= SELECT_OPTIONS_MAX or any(
                not 1 <= len(str(o.get("label") or "")) <= SELECT_LABEL_MAX
                or not 1 <= len(str(o.get("value") or "")) <= SELECT_LABEL_MAX
                for o in options
            )
            if bad:
                errors.setdefault("components", {}).setdefault(str(row_index), {})[str(index)] = {
                    "options": {
                        "_errors": [
                            {"code": "BASE_TYPE_BAD_LENGTH", "message": "Invalid select options."}
                        ]
                    }
                }
    for index, attachment in enumerate(body.get("attachments") or []):
        if len(str(attachment.get("description") or "")) > ATTACHMENT_DESCRIPTION_MAX:
            errors.setdefault("attachments", {})[str(index)] = {
                "description": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_BAD_LENGTH",
                            "message": "Must be between 0 and 1024 in length.",
                        }
                    ]
                }
            }
    if not errors:
        return None
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


# Discord's limits on one message: every embed's text together, an attachment's alt text.
EMBED_TOTAL_MAX = 6000
ATTACHMENT_DESCRIPTION_MAX = 1024
# A select menu: at most 25 options, each label and value 1-100 characters.
SELECT_OPTIONS_MAX = 25
SELECT_LABEL_MAX = 100


def _embed_size(embed: Mapping[str, Any]) -> int:
    """The characters Discord counts towards a message's 6000 (UTF-16 units)."""

    def units(value: Any) -> int:
        return len(str(value or "").encode("utf-16-le")) // 2

    total = units(embed.get("title")) + units(embed.get("description"))
    for part in embed.get("fields") or []:
        total += units(part.get("name")) + units(part.get("value"))
    total += units((embed.get("footer") or {}).get("text"))
    return total + units((embed.get("author") or {}).get("name"))


def _json(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": with "; charset=utf-8" discord.py treats the body as text.
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(payload).encode(), status=status, headers=hdrs)


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscord:
    """REST + gateway fake. One per process at a time (discord.py's base URLs are global)."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        guilds: Sequence[FakeGuild] = (FakeGuild(),),
        compress: bool = True,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.guilds = list(guilds)
        self.compress = compress
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.requests: list[RecordedRequest] = []
        self.messages: dict[int, list[dict[str, Any]]] = {}  # channel id -> created messages
        self.dm_channels: dict[int, int] = {}  # user id -> their DM channel with the bot
        self.edited: list[tuple[int, str]] = []  # (channel id, message id) of each PATCH
        self.webhook_messages: dict[int, list[dict[str, Any]]] = {}  # webhook id -> messages
        self.synced_commands: dict[
            int | None, list[dict[str, Any]]
        ] = {}  # guild id (None = global)
        self.interactions: dict[int, InteractionCall] = {}
        self.attachments: dict[int, AttachmentRef] = {}  # what users attached, by id
        self.identify_payloads: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.gateway_connections = 0
        self.compressed_connections = 0
        self._failures: dict[str, list[Failure]] = {}
        self._nonces: dict[tuple[int, str], dict[str, Any]] = {}
        self._ids = itertools.count(1700000000000000001)
        self._sockets: list[_GatewayConnection] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{id}/{filename}", self._attachment)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for conn in list(self._sockets):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def settings(self, **overrides: Any) -> DiscordSettings:
        """DiscordSettings pointing at this fake, with the fake's token."""
        values: dict[str, Any] = {
            "token": self.token,
            "api_url": self.api_url,
            "gateway_url": self.gateway_url,
        }
        values.update(overrides)
        return DiscordSettings(**values)

    # -- failure injection ---------------------------------------------------------------

    def fail_channel(self, channel_id: int, *failures: Failure) -> None:
        """Answer message creates in ``channel_id`` with these failures, in order."""
        self._failures.setdefault(f"channel:{channel_id}", []).extend(failures)

    def fail_webhook(self, webhook_id: int, *failures: Failure) -> None:
        self._failures.setdefault(f"webhook:{webhook_id}", []).extend(failures)

    def clear_failures(
        self, channel_id: int | None = None, *, webhook_id: int | None = None
    ) -> None:
        """Stop failing (the bot regained access); no arguments clears everything."""
        if channel_id is None and webhook_id is None:
            self._failures.clear()
        if channel_id is not None:
            self._failures.pop(f"channel:{channel_id}", None)
        if webhook_id is not None:
            self._failures.pop(f"webhook:{webhook_id}", None)

    def _take_failure(self, key: str) -> Failure | None:
        queue = self._failures.get(key)
        if not queue:
            return None
        failure = queue[0]
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
        return failure

    # -- queries for tests ---------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def message_posts(self, channel_id: int) -> list[RecordedRequest]:
        """Every attempt to create a message in ``channel_id`` (failed ones included)."""
        return self.calls("POST", f"/channels/{channel_id}/messages")

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; re-checked after every request and heartbeat."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def _record(self, rec: RecordedRequest) -> None:
        self.requests.append(rec)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- REST ----------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body: Any = None
        files: list[UploadedFile] = []
        if request.can_read_body and request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            body = json.loads(str(raw)) if raw is not None else None
            for key, value in form.items():
                if key.startswith("files[") and isinstance(value, web.FileField):
                    files.append(
                        UploadedFile(value.filename, value.content_type, value.file.read())
                    )
        elif request.can_read_body and request.content_type == "application/json":
            body = await request.json()
        rec = RecordedRequest(
            request.method,
            path,
            dict(request.query),
            body,
            request.headers.get("Authorization"),
            files=files,
        )
        response = self._route(request.method, path, rec)
        rec.status = response.status
        await self._record(rec)
        return response

    def _authorized(self, rec: RecordedRequest) -> bool:
        return rec.authorization == f"Bot {self.token}"

    def _route(self, method: str, path: str, rec: RecordedRequest) -> web.Response:
        parts = path.strip("/").split("/")
        unauthorized = _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if (method, path) == ("GET", "/users/@me"):
            return (
                _json(_user(BOT_USER_ID, "Wirewatch", bot=True))
                if self._authorized(rec)
                else unauthorized
            )
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            if not self._authorized(rec):
                return unauthorized
            return _json(
                {
                    "id": str(APPLICATION_ID),
                    "name": "Wirewatch",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "00" * 32,
                    "owner": _user(USER_ID, "owner"),
                    "flags": 0,
                }
            )
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            if not self._authorized(rec):
                return unauthorized
            guild_id = int(parts[3]) if len(parts) == 5 and parts[2] == "guilds" else None
            answered = [
                {
                    **cmd,
                    "id": str(next(self._ids)),
                    "application_id": str(APPLICATION_ID),
                    "version": "1",
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                }
                for cmd in rec.body or []
            ]
            self.synced_commands[guild_id] = answered
            return _json(answered)
        if method == "POST" and parts == ["users", "@me", "channels"]:
            # Create DM: one DM channel per person, the same one every time.
            if not self._authorized(rec):
                return unauthorized
            recipient = int((rec.body or {})["recipient_id"])
            channel_id = self.dm_channels.setdefault(recipient, next(self._ids))
            return _json(
                {
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "recipients": [_user(recipient, "reader")],
                }
            )
        if (
            method == "POST"
            and len(parts) == 3
            and parts[0] == "channels"
            and parts[2] == "messages"
        ):
            if not self._authorized(rec):
                return unauthorized
            return self._create_channel_message(int(parts[1]), rec.body or {})
        if (
            method == "PATCH"
            and len(parts) == 4
            and parts[0] == "channels"
            and parts[2] == "messages"
        ):
            if not self._authorized(rec):
                return unauthorized
            return self._edit_channel_message(int(parts[1]), parts[3], rec.body or {})
        if method == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            return self._interaction_callback(int(parts[1]), rec.body or {}, rec.files)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(method, parts, rec)
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _message(
        self, channel_id: int, body: Mapping[str, Any], author: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            **(
                {"message_reference": body["message_reference"]}
                if body.get("message_reference")
                else {}
            ),
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
            **extra,
        }

    def _edit_channel_message(
        self, channel_id: int, message_id: str, body: dict[str, Any]
    ) -> web.Response:
        """PATCH a bot message as Discord does: same id, new fields, ``edited_timestamp``."""
        failure = self._take_failure(f"channel:{channel_id}")
        if failure is not None:
            return failure.response()
        refused = _form_errors(body)
        if refused is not None:
            return refused
        for message in self.messages.get(channel_id, []):
            if message["id"] == message_id:
                for key in ("content", "embeds"):
                    if key in body:
                        message[key] = body[key] or ([] if key == "embeds" else "")
                message["edited_timestamp"] = _now_iso()
                self.edited.append((channel_id, message_id))
                return _json(message)
        return _json({"message": "Unknown Message", "code": 10008}, status=404)

    def delete_message(self, channel_id: int, message_id: str) -> None:
        """Someone with Manage Messages deleted one of the bot's messages."""
        kept = [m for m in self.messages.get(channel_id, []) if m["id"] != message_id]
        self.messages[channel_id] = kept

    def _create_channel_message(self, channel_id: int, body: dict[str, Any]) -> web.Response:
        failure = self._take_failure(f"channel:{channel_id}")
        if failure is not None and not failure.applied:
            return failure.response()
        refused = _form_errors(body)
        if refused is not None:
            return refused
        reference = body.get("message_reference") or {}
        if reference and reference.get("fail_if_not_exists", True):
            wanted = str(reference.get("message_id"))
            if not any(m["id"] == wanted for m in self.messages.get(channel_id, [])):
                # A reply to a deleted message, as Discord refuses it.
                errors = {
                    "message_reference": {
                        "_errors": [
                            {"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}
                        ]
                    }
                }
                return _json(
                    {"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400
                )
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None:
                return _json(earlier)  # Discord returns the first message, posts nothing
        message = self._message(
            channel_id,
            body,
            _user(BOT_USER_ID, "Wirewatch", bot=True),
            nonce=nonce,
            guild_id=str(self.guilds[0].id),
        )
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = message
        self.messages.setdefault(channel_id, []).append(message)
        if failure is not None:
            return failure.response()  # created, but the answer is an error
        return _json(message)

    def _interaction_callback(
        self, interaction_id: int, body: dict[str, Any], files: Sequence[UploadedFile] = ()
    ) -> web.Response:
        call = self.interactions.get(interaction_id)
        if call is None:
            return _json({"message": "Unknown interaction", "code": 10062}, status=404)
        if call.callback is not None:
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, status=400
            )
        data = body.get("data") or {}
        refused = _form_errors(data)
        if refused is not None:
            return refused
        call.callback = body
        call.files.extend(files)
        call._notify()
        kind = int(body.get("type", 0))
        flags = int(data.get("flags") or 0)
        channel_id = int(call.payload.get("channel_id") or 0)
        message = self._message(channel_id, data, _user(BOT_USER_ID, "Wirewatch", bot=True))
        resource: dict[str, Any] | None = (
            {"type": kind, "message": message} if kind in (4, 5) else None
        )
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction_id),
                "type": call.payload["type"],
                "response_message_id": message["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & 64),
            },
        }
        if resource is not None:
            answer["resource"] = resource
        return _json(answer)

    def _webhook(self, method: str, parts: list[str], rec: RecordedRequest) -> web.Response:
        hook_id, token = int(parts[1]), parts[2]
        body = rec.body or {}
        refused = _form_errors(body) if method in ("POST", "PATCH") else None
        if hook_id == APPLICATION_ID:
            call = next((c for c in self.interactions.values() if c.token == token), None)
            if call is None:
                return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
            channel_id = int(call.payload.get("channel_id") or 0)
            author = _user(BOT_USER_ID, "Wirewatch", bot=True)
            if refused is not None:
                return refused
            call.files.extend(rec.files)
            if method == "PATCH" and parts[3:] == ["messages", "@original"]:
                call.edits.append(body)
                call._notify()
                return _json(self._message(channel_id, body, author))
            if method == "POST" and len(parts) == 3:
                call.followups.append(body)
                call._notify()
                return _json(self._message(channel_id, body, author))
            if method == "DELETE" and parts[3:] == ["messages", "@original"]:
                call.deleted = True
                call._notify()
                return web.Response(status=204)
            if method == "GET" and parts[3:] == ["messages", "@original"]:
                return _json(self._message(channel_id, call.final, author))
            return _json({"message": "404: Not Found", "code": 0}, status=404)
        if method == "POST" and len(parts) == 3:
            failure = self._take_failure(f"webhook:{hook_id}")
            if failure is not None:
                return failure.response()
            if token != WEBHOOK_TOKEN:
                return _json({"message": "Invalid Webhook Token", "code": 50027}, status=401)
            if refused is not None:
                return refused
            author = {
                **_user(hook_id, body.get("username") or "Captain Hook", bot=True),
                "avatar": body.get("avatar_url"),
            }
            message = self._message(CHANNEL_ID, body, author, webhook_id=str(hook_id))
            self.webhook_messages.setdefault(hook_id, []).append(message)
            if rec.query.get("wait") in ("1", "true", "True"):
                return _json(message)
            return web.Response(status=204)
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    async def _attachment(self, request: web.Request) -> web.Response:
        found = self.attachments.get(int(request.match_info["id"]))
        if found is None or found.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        return web.Response(body=found.data, content_type=found.content_type)

    # -- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.gateway_connections += 1
        zlib_stream = self.compress and request.query.get("compress") == "zlib-stream"
        if zlib_stream:
            self.compressed_connections += 1
        conn = _GatewayConnection(ws, zlib.compressobj() if zlib_stream else None)
        await conn.send(
            {
                "op": _OP_HELLO,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                "s": None,
                "t": None,
            }
        )
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_gateway_message(conn, json.loads(msg.data))
        finally:
            if conn in self._sockets:
                self._sockets.remove(conn)
        return ws

    async def _on_gateway_message(self, conn: _GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == _OP_HEARTBEAT:
            self.heartbeats += 1
            await self._notify()
            await conn.send({"op": _OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == _OP_IDENTIFY:
            d = payload["d"]
            self.identify_payloads.append(d)
            if d.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            shard = d.get("shard")
            ready: dict[str, Any] = {
                "v": 10,
                "user": _user(BOT_USER_ID, "Wirewatch", bot=True),
                "session_id": f"session-{self.gateway_connections}",
                "resume_gateway_url": self.gateway_url,
                "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds],
                "application": {"id": str(APPLICATION_ID), "flags": 0},
            }
            if shard is not None:
                ready["shard"] = shard
            await conn.dispatch("READY", ready)
            self._sockets.append(conn)
            for guild in self.guilds:
                await conn.dispatch("GUILD_CREATE", guild.payload())
        elif op == _OP_RESUME:
            # Sessions are not kept: make the client identify afresh.
            await conn.send({"op": _OP_INVALID_SESSION, "d": False, "s": None, "t": None})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the connected (identified) bot."""
        if not self._sockets:
            raise RuntimeError("no bot is connected to the fake gateway")
        await self._sockets[-1].dispatch(event, data)

    async def drop_gateway(self) -> None:
        """Close the gateway connection as Discord does before a reconnect (code 4000)."""
        for conn in list(self._sockets):
            await conn.ws.close(code=4000, message=b"Unknown error")

    # -- interactions --------------------------------------------------------------------

    def _interaction_payload(
        self,
        kind: int,
        name: str,
        options: Mapping[str, Any],
        *,
        subcommand: str | None,
        focused: str | None,
        channel_id: int | None,
        guild_id: int | None,
        user_id: int,
        member_permissions: int,
        app_permissions: int,
    ) -> dict[str, Any]:
        interaction_id = next(self._ids)
        resolved: dict[str, Any] = {}
        opts: list[dict[str, Any]] = []
        for key, value in options.items():
            opt: dict[str, Any] = {
                "name": key,
                "type": _option_type(value),
                "value": _option_value(value),
            }
            if isinstance(value, RoleRef):
                resolved.setdefault("roles", {})[str(value.id)] = _role(
                    value.id, value.name, value.mentionable, position=1
                )
            if isinstance(value, AttachmentRef):
                self.attachments[value.id] = value
                resolved.setdefault("attachments", {})[str(value.id)] = value.payload(self.port)
            if key == focused:
                opt["focused"] = True
            opts.append(opt)
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: dict[str, Any] = {
            "id": str(next(self._ids)),
            "name": name,
            "type": 1,
            "options": opts,
        }
        if resolved:
            data["resolved"] = resolved
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "token": f"itoken-{interaction_id}",
            "version": 1,
            "attachment_size_limit": 8 << 20,
            "data": data,
            "locale": "en-US",
            "app_permissions": str(app_permissions),
            "entitlements": [],
        }
        user = _user(user_id, "editor")
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["context"] = 0
            payload["member"] = {
                "user": user,
                "roles": [],
                "flags": 0,
                "joined_at": _now_iso(),
                "deaf": False,
                "mute": False,
                "permissions": str(member_permissions),
            }
        else:
            payload["user"] = user
            payload["context"] = 1
        if channel_id is not None:
            payload["channel_id"] = str(channel_id)
            if guild_id is not None:
                payload["channel"] = {
                    "id": str(channel_id),
                    "type": 0,
                    "name": "alerts",
                    "position": 0,
                    "guild_id": str(guild_id),
                    "permission_overwrites": [],
                }
            else:
                payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user]}
        return payload

    async def _inject(self, payload: dict[str, Any], within: float) -> InteractionCall:
        call = InteractionCall(int(payload["id"]), str(payload["token"]), payload)
        self.interactions[call.id] = call
        await self.dispatch("INTERACTION_CREATE", payload)
        async with asyncio.timeout(within):
            while call.callback is None:
                call._changed.clear()
                await call._changed.wait()
        return call

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        channel_id: int | None = CHANNEL_ID,
        guild_id: int | None = GUILD_ID,
        user_id: int = USER_ID,
        member_permissions: int = ALL_PERMISSIONS,
        app_permissions: int = BOT_PERMISSIONS,
        within: float = 5.0,
        stale_client: bool = False,
    ) -> InteractionCall:
        """Run a slash command as a user would; return once the bot answered the callback.

        ``guild_id=None`` sends it as from a DM. Deferred commands: ``await call.wait_final()``.
        A command synced with ``dm_permission: false`` is not offered in a DM, as in
        Discord's client: sending it from one is an error of the test, unless
        ``stale_client`` (a client still showing an older command list).
        """
        if guild_id is None and not stale_client:
            synced = {c["name"]: c for c in self.synced_commands.get(None, [])}
            assert synced.get(name, {}).get("dm_permission") is not False, (
                f"/{name} is not offered in direct messages"
            )
        self._check_options(name, subcommand, options or {}, guild_id)
        payload = self._interaction_payload(
            2,
            name,
            options or {},
            subcommand=subcommand,
            focused=None,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            member_permissions=member_permissions,
            app_permissions=app_permissions,
        )
        return await self._inject(payload, within)

    def _check_options(
        self, name: str, subcommand: str | None, options: Mapping[str, Any], guild_id: int | None
    ) -> None:
        """A Discord client sends only the options a synced command has: an option the
        command does not have is an error of the test (discord.py would drop it in
        silence, and the command run as if it had not been given)."""
        synced = [*self.synced_commands.get(guild_id, []), *self.synced_commands.get(None, [])]
        command = next((c for c in synced if c["name"] == name), None)
        if command is None:
            return
        if subcommand is not None:
            command = next(
                (o for o in command.get("options", []) if o["name"] == subcommand), command
            )
        known = {o["name"] for o in command.get("options", []) if o.get("type") not in (1, 2)}
        unknown = set(options) - known
        assert not unknown, f"/{name} {subcommand or ''} has no option {sorted(unknown)}"

    async def click(
        self,
        custom_id: str,
        *,
        channel_id: int = CHANNEL_ID,
        guild_id: int | None = GUILD_ID,
        user_id: int = USER_ID,
        member_permissions: int = ALL_PERMISSIONS,
        within: float = 5.0,
    ) -> InteractionCall:
        """Press a button (a MESSAGE_COMPONENT interaction) on one of the bot's messages."""
        payload = self._interaction_payload(
            3,
            "",
            {},
            subcommand=None,
            focused=None,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            member_permissions=member_permissions,
            app_permissions=BOT_PERMISSIONS,
        )
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        return await self._inject(payload, within)

    async def select(
        self,
        message: dict[str, Any],
        custom_id: str,
        values: Sequence[str],
        *,
        channel_id: int = CHANNEL_ID,
        guild_id: int | None = GUILD_ID,
        user_id: int = USER_ID,
        member_permissions: int = ALL_PERMISSIONS,
        within: float = 5.0,
    ) -> InteractionCall:
        """Pick options of a select menu (component type 3) on one of the bot's messages,
        as Discord's client does: only options the menu offers, and the interaction carries
        the message."""
        (menu,) = [
            c
            for row in message.get("components") or []
            for c in row.get("components") or []
            if c.get("type") == 3 and c.get("custom_id") == custom_id
        ]
        offered = {o["value"] for o in menu.get("options") or []}
        assert set(values) <= offered, f"{values} are not options of {custom_id}"
        payload = self._interaction_payload(
            3,
            "",
            {},
            subcommand=None,
            focused=None,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            member_permissions=member_permissions,
            app_permissions=BOT_PERMISSIONS,
        )
        payload["message"] = message
        payload["data"] = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        return await self._inject(payload, within)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        subcommand: str | None = None,
        channel_id: int = CHANNEL_ID,
        guild_id: int | None = GUILD_ID,
        within: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Type into an option with autocomplete; return the choices the bot offered."""
        payload = self._interaction_payload(
            4,
            name,
            options,
            subcommand=subcommand,
            focused=focused,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=USER_ID,
            member_permissions=ALL_PERMISSIONS,
            app_permissions=BOT_PERMISSIONS,
        )
        call = await self._inject(payload, within)
        assert call.callback_type == 8, call.callback
        return list(call.data.get("choices", []))


@dataclass(frozen=True)
class RoleRef:
    """A role given as a slash-command option (type 8, resolved in the payload)."""

    id: int = ROLE_ID
    name: str = "desk"
    mentionable: bool = True


@dataclass(frozen=True)
class AttachmentRef:
    """A file a user attaches to a slash-command option (type 11, resolved in the payload;
    discord.py downloads it from the fake's /attachments/ URL)."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    id: int = 1800000000000000001
    size: int | None = None  # what Discord reports, when it should differ from len(data)

    def payload(self, port: int) -> dict[str, Any]:
        url = f"http://127.0.0.1:{port}/attachments/{self.id}/{self.filename}"
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data) if self.size is None else self.size,
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
            "ephemeral": True,
        }


def _option_type(value: Any) -> int:
    if isinstance(value, RoleRef):
        return 8
    if isinstance(value, AttachmentRef):
        return 11
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


def _option_value(value: Any) -> Any:
    return str(value.id) if isinstance(value, RoleRef | AttachmentRef) else value


class _GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, compressor: Any) -> None:
        self.ws = ws
        self.compressor = compressor
        self.sequence = 0

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload)
        if self.compressor is None:
            await self.ws.send_str(data)
        else:
            chunk = self.compressor.compress(data.encode()) + self.compressor.flush(
                zlib.Z_SYNC_FLUSH
            )
            await self.ws.send_bytes(chunk)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.sequence += 1
        await self.send({"op": _OP_DISPATCH, "t": event, "s": self.sequence, "d": data})
