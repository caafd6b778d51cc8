"""A fake Slack on 127.0.0.1 for tests: Web API, Socket Mode, response_url and webhooks.

Real ``slack_sdk`` / ``slack_bolt`` clients talk to it through ``base_url`` (see
../shared/notes/chat-protocols.md), nothing is patched. It records every call (with a
timestamp from an injectable clock) and can be scripted to fail:

* ``fail(method, error, channel=...)`` answers ``{"ok": false, "error": ...}``;
* ``rate_limit(method, retry_after)`` answers 429 with ``Retry-After``;
* ``server_error(method, status)`` answers a 5xx (``applied=True``: after the call took
  effect, as when Slack's edge times out on a post its backend stored);
* ``webhook_fail(status, body)`` does the same for incoming webhooks;
* ``clear_faults()`` ends them all.

Files upload v2 (``files_upload_v2``): ``files.getUploadURLExternal`` hands out an upload
URL here, the bytes are POSTed to it, ``files.completeUploadExternal`` shares them in a
channel (or thread); each finished upload is in ``uploads``.

Socket Mode: ``apps.connections.open`` hands out ``ws://…/socket``; the fake says hello and
``send_slash_command`` / ``send_block_action`` push envelopes and wait for the client's
ack. ``response_url`` values point back here (``/response/N``) and are recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT"
BOT_NAME = "wirewatch"

# Methods the Socket Mode app token may call; everything else needs the bot token.
_APP_TOKEN_METHODS = {"apps.connections.open"}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float


@dataclass
class _Fault:
    kind: str  # "error" | "ratelimit" | "status"
    value: Any
    channel: str | None
    times: int | None  # None = forever
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Upload:
    """A file shared through files upload v2."""

    file_id: str
    filename: str
    data: bytes
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass
class Posted:
    """A response_url or incoming-webhook post."""

    path: str
    body: dict[str, Any]
    at: float


class FakeSlack:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        history_metadata_opt_in: bool = True,
    ) -> None:
        self.clock = clock
        # Real Slack: conversations.history returns message metadata only when asked with
        # include_all_metadata=true (False: always include it, the lenient old behaviour).
        self.history_metadata_opt_in = history_metadata_opt_in
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[ApiCall] = []
        self.responses: list[Posted] = []
        self.webhook_posts: list[Posted] = []
        self.acks: list[dict[str, Any]] = []
        self.uploads: list[Upload] = []  # completed (shared) files
        self._pending_uploads: dict[str, Upload] = {}  # file id -> announced, maybe sent
        # users.info answers; unknown users are plain members.
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        # Messages posted per channel (newest last), as conversations.history returns them.
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._webhook_faults: list[_Fault] = []
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._response_seq = itertools.count(1)
        self._posted = asyncio.Condition()
        self.socket_connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/response/{n}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/services/{path:.*}", self._webhook)
        # A short shutdown: a client caught mid-reconnect must not hold a test for a minute.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_url(self, name: str = "T0/B0/secret") -> str:
        return f"http://127.0.0.1:{self.port}/services/{name}"

    # --- scripting --------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        channel: str | None = None,
        times: int | None = None,
        applied: bool = False,
    ) -> None:
        """Answer ``{"ok": false, "error": error}`` (for one channel, or all). ``applied``:
        the call took effect first, as Slack warns ``fatal_error`` and ``internal_error``
        may mean ("some aspect of the operation succeeded before the error was raised")."""
        extra = {"applied": True} if applied else {}
        self._faults[method].append(_Fault("error", error, channel, times, extra))

    def rate_limit(
        self, method: str, retry_after: int, *, times: int = 1, channel: str | None = None
    ) -> None:
        self._faults[method].append(_Fault("ratelimit", retry_after, channel, times))

    def server_error(
        self,
        method: str,
        status: int = 500,
        *,
        times: int | None = 1,
        channel: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer a 5xx; ``applied``: the call took effect first (a post is in the channel)."""
        extra = {"applied": True} if applied else {}
        self._faults[method].append(_Fault("status", status, channel, times, extra))

    def webhook_fail(
        self, status: int, body: str, *, times: int | None = 1, retry_after: int | None = None
    ) -> None:
        extra = {"retry_after": retry_after} if retry_after is not None else {}
        self._webhook_faults.append(_Fault("status", (status, body), None, times, extra))

    def clear_faults(self, method: str | None = None) -> None:
        """Stop failing (one method, or everything): Slack answers normally again."""
        if method is None:
            self._faults.clear()
            self._webhook_faults.clear()
        else:
            self._faults.pop(method, None)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[ApiCall]:
        """Successful and failed chat.postMessage calls (optionally for one channel)."""
        return [
            c
            for c in self.calls_to("chat.postMessage")
            if channel is None or c.params.get("channel") == channel
        ]

    # --- Web API ----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        self.calls.append(ApiCall(method, params, token, self.clock()))
        expected = self.app_token if method in _APP_TOKEN_METHODS else self.bot_token
        if token != expected:
            return _json({"ok": False, "error": "invalid_auth"})
        fault = self._take_fault(self._faults[method], params.get("channel"))
        if fault is not None:
            if fault.kind == "ratelimit":
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(fault.value)},
                )
            if fault.extra.get("applied"):
                handler = getattr(self, "_m_" + method.replace(".", "_"), None)
                if handler is not None:
                    await handler(params)
            if fault.kind == "status":
                return web.Response(
                    status=fault.value, text="upstream trouble", content_type="text/plain"
                )
            return _json({"ok": False, "error": fault.value})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return _json({"ok": True})
        return _json(await handler(params))

    def _take_fault(self, faults: list[_Fault], channel: str | None) -> _Fault | None:
        for fault in faults:
            if fault.channel is not None and fault.channel != channel:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
            return fault
        return None

    async def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "BBOT",
        }

    async def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    async def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params["channel"]
        refused = invalid_blocks(params.get("blocks"))
        if refused is not None:
            return {"ok": False, "error": "invalid_blocks", "errors": [refused]}
        ts = f"{1700000000 + next(self._ts)}.000100"
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": params.get("text", ""),
            "bot_id": "BBOT",
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        for key in ("blocks", "metadata"):
            value = params.get(key)
            if isinstance(value, str):
                value = json.loads(value)
            if value is not None:
                message[key] = value
        self.messages[channel].append(message)
        async with self._posted:
            self._posted.notify_all()
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    async def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a message the bot posted, as Slack does: same ts, ``edited`` stamped."""
        channel, ts = params["channel"], params["ts"]
        refused = invalid_blocks(params.get("blocks"))
        if refused is not None:
            return {"ok": False, "error": "invalid_blocks", "errors": [refused]}
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                message["text"] = params.get("text", "")
                blocks = params.get("blocks")
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                message["blocks"] = blocks or []
                message["edited"] = {"user": BOT_USER_ID, "ts": f"{1700000000 + next(self._ts)}"}
                return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    async def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """Open (or find) the app's direct-message channel with one person."""
        users = str(params.get("users", ""))
        if not users or "," in users:
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_allowed"}
        if users not in self.users and not users.startswith("U"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": f"D{users}", "is_im": True}}

    async def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = int(params.get("limit", 100))
        newest_first = list(reversed(self.messages.get(params["channel"], [])))
        asked = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        if self.history_metadata_opt_in and not asked:
            newest_first = [{k: v for k, v in m.items() if k != "metadata"} for m in newest_first]
        return {"ok": True, "messages": newest_first[:limit], "has_more": len(newest_first) > limit}

    async def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent, then its replies, oldest first (metadata only when asked,
        as conversations.history)."""
        ts = str(params.get("ts", ""))
        thread = [
            m
            for m in self.messages.get(params["channel"], [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        asked = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        if self.history_metadata_opt_in and not asked:
            thread = [{k: v for k, v in m.items() if k != "metadata"} for m in thread]
        limit = int(params.get("limit", 1000))
        return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}

    async def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self._pending_uploads[file_id] = Upload(file_id, str(filename), b"")
        # The real answer points at files.slack.com; ours at this fake.
        url = f"http://127.0.0.1:{self.port}/upload/{file_id}?expected={length}"
        return {"ok": True, "upload_url": url, "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        pending = self._pending_uploads.get(request.match_info["file_id"])
        data = await request.read()
        if pending is None or str(len(data)) != request.query.get("expected"):
            return web.Response(status=400, text="bad upload", content_type="text/plain")
        pending.data = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        entries = json.loads(files) if isinstance(files, str) else files or []
        done: list[dict[str, Any]] = []
        for entry in entries:
            pending = self._pending_uploads.pop(entry.get("id", ""), None)
            if pending is None or not pending.data:
                return {"ok": False, "error": "file_not_found"}
            pending.title = entry.get("title")
            pending.channel = params.get("channel_id")
            pending.initial_comment = params.get("initial_comment")
            pending.thread_ts = params.get("thread_ts")
            self.uploads.append(pending)
            done.append({"id": pending.file_id, "name": pending.filename, "title": pending.title})
        async with self._posted:
            self._posted.notify_all()
        return {"ok": True, "files": done}

    async def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params["user"]
        user = {
            "id": user_id,
            "name": user_id.lower(),
            "is_admin": False,
            "is_owner": False,
            **self.users.get(user_id, {}),
        }
        return {"ok": True, "user": user}

    async def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params["usergroup"]
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.usergroups[group]}

    # --- response_url and incoming webhooks -------------------------------------------

    async def _response_url(self, request: web.Request) -> web.Response:
        self.responses.append(Posted(request.path, await request.json(), self.clock()))
        async with self._posted:
            self._posted.notify_all()
        return web.Response(text="ok", content_type="text/plain")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.webhook_posts.append(Posted(request.path, body, self.clock()))
        fault = self._take_fault(self._webhook_faults, None)
        if fault is not None:
            status, text = fault.value
            headers = {}
            if "retry_after" in fault.extra:
                headers["Retry-After"] = str(fault.extra["retry_after"])
            return web.Response(
                status=status, text=text, content_type="text/plain", headers=headers
            )
        return web.Response(text="ok", content_type="text/plain")

    async def wait_for(self, predicate: Callable[[], bool], within: float = 3.0) -> None:
        """Wait until ``predicate()`` holds (checked whenever something is posted)."""
        async with asyncio.timeout(within), self._posted:
            await self._posted.wait_for(predicate)

    def new_response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/response/{next(self._response_seq)}"

    # --- Socket Mode ------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        )
        self.socket_connected.set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                self.acks.append(data)
                future = self._pending_acks.pop(data.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(data.get("payload") or {})
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self.socket_connected.clear()
        return ws

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, within: float = 3.0
    ) -> dict[str, Any]:
        """Push one Socket Mode envelope; return the ack's payload ({} for a bare ack)."""
        await asyncio.wait_for(self.socket_connected.wait(), within)
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(future, within)

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection from the server side (Slack does this on deploys)."""
        for ws in list(self._sockets):
            await ws.close()

    def slash_command_payload(
        self, text: str, *, user_id: str = "U1", channel_id: str = "C1", command: str = "/wirewatch"
    ) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "test",
            "channel_id": channel_id,
            "channel_name": channel_id.lower(),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0TEST",
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(),
            "trigger_id": "1.2.3",
        }

    async def send_slash_command(
        self,
        text: str,
        *,
        user_id: str = "U1",
        channel_id: str = "C1",
        command: str = "/wirewatch",
        within: float = 3.0,
    ) -> dict[str, Any]:
        payload = self.slash_command_payload(
            text, user_id=user_id, channel_id=channel_id, command=command
        )
        return await self.send_envelope("slash_commands", payload, within=within)

    async def send_block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U1",
        channel_id: str = "C1",
        message_ts: str = "1.1",
    ) -> dict[str, Any]:
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEST",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": "1.2.3",
            "team": {"id": TEAM_ID, "domain": "test"},
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "message": {"type": "message", "ts": message_ts, "text": "alert"},
            "response_url": self.new_response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b1",
                    "text": {"type": "plain_text", "text": "button"},
                    "value": value,
                    "type": "button",
                    "action_ts": "1700000000.1",
                }
            ],
        }
        return await self.send_envelope("interactive", payload)

    async def send_select_action(
        self,
        message: dict[str, Any],
        action_id: str,
        value: str,
        *,
        user_id: str = "U1",
        channel_id: str = "C1",
    ) -> dict[str, Any]:
        """Pick an option of a ``static_select`` in one of the bot's messages (Socket Mode)."""
        payload = self.select_action_payload(
            message, action_id, value, user_id=user_id, channel_id=channel_id
        )
        return await self.send_envelope("interactive", payload)

    def select_action_payload(
        self,
        message: dict[str, Any],
        action_id: str,
        value: str,
        *,
        user_id: str = "U1",
        channel_id: str = "C1",
    ) -> dict[str, Any]:
        """The block_actions payload of picking an option of a ``static_select``, as Slack's
        client sends it: only an option the message offers can be picked, and the payload
        carries the message and the option chosen."""
        (menu,) = [
            e
            for block in message.get("blocks") or []
            if block.get("type") == "actions"
            for e in block.get("elements") or []
            if e.get("type") == "static_select" and e.get("action_id") == action_id
        ]
        (option,) = [o for o in menu["options"] if o["value"] == value]
        return {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEST",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": "1.2.4",
            "team": {"id": TEAM_ID, "domain": "test"},
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "message": message,
            "response_url": self.new_response_url(),
            "actions": [
                {
                    "type": "static_select",
                    "action_id": action_id,
                    "block_id": "b1",
                    "selected_option": option,
                    "placeholder": menu.get("placeholder"),
                    "action_ts": "1700000000.2",
                }
            ],
        }

    def responses_for(self, response_url: str) -> list[dict[str, Any]]:
        path = response_url.split(str(self.port), 1)[1]
        return [r.body for r in self.responses if r.path == path]


# Block Kit limits Slack refuses a message for (invalid_blocks): actions elements, and a
# static_select's options and their text and value.
ACTIONS_ELEMENTS_MAX = 25
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150


def invalid_blocks(blocks: Any) -> str | None:
    """Why Slack would refuse ``blocks`` (those limits only), or None."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for index, block in enumerate(blocks or []):
        if block.get("type") != "actions":
            continue
        elements = block.get("elements") or []
        if len(elements) > ACTIONS_ELEMENTS_MAX:
            return f"must provide no more than 25 items [json-pointer:/blocks/{index}/elements]"
        for element in elements:
            if element.get("type") != "static_select":
                continue
            options = element.get("options") or []
            if not options or len(options) > SELECT_OPTIONS_MAX:
                return f"must provide 1 to 100 options [json-pointer:/blocks/{index}]"
            for option in options:
                if len(option["text"]["text"]) > OPTION_TEXT_MAX:
                    return f"must be less than 76 characters [json-pointer:/blocks/{index}]"
                if len(option["value"]) > OPTION_VALUE_MAX:
                    return f"must be less than 151 characters [json-pointer:/blocks/{index}]"
    return None


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/json")


def signed_form(
    secret: str, fields: dict[str, Any], *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """An HTTP-mode request body and the headers Slack would sign it with."""
    body = urlencode(fields).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body, headers
