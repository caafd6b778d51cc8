"""Who may change a channel's subscriptions and watches.

Policy: workspace admins and owners (``users.info``), the user ids in
``slack.allowed_users``, and members of ``slack.allowed_usergroup``
(``usergroups.users.list``). Reading commands are open to everyone; that split lives in
``commands``. Answers are cached briefly so a burst of commands costs one lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str  # why (allowed: which rule; refused: what was checked)


class SlackPermissions:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        allowed_users: Sequence[str] = (),
        allowed_usergroup: str | None = None,
        cache_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._allowed_users = frozenset(allowed_users)
        self._usergroup = allowed_usergroup
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Decision]] = {}

    def who_can(self) -> str:
        """The policy in words, for refusals (mrkdwn; ids render as names in Slack)."""
        parts = ["workspace admins and owners"]
        if self._allowed_users:
            parts.append(", ".join(f"<@{u}>" for u in sorted(self._allowed_users)))
        if self._usergroup:
            parts.append(f"members of <!subteam^{self._usergroup}>")
        return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]

    async def can_manage(self, user_id: str) -> Decision:
        """May ``user_id`` change subscriptions, watches and feeds?"""
        if user_id in self._allowed_users:
            return Decision(True, "listed in slack.allowed_users")
        cached = self._cache.get(user_id)
        now = self._monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        decision = await self._look_up(user_id)
        self._cache[user_id] = (now, decision)
        return decision

    async def _look_up(self, user_id: str) -> Decision:
        try:
            info = await self._client.users_info(user=user_id)
        except SlackApiError as e:
            error = (
                e.response.get("error", "unknown error")
                if isinstance(e.response.data, dict)
                else "unknown error"
            )
            log.warning("users.info failed", extra={"user": user_id, "error": error})
            return Decision(False, f"I could not look up your role in this workspace ({error})")
        user = info.get("user") or {}
        if user.get("is_owner") or user.get("is_primary_owner"):
            return Decision(True, "workspace owner")
        if user.get("is_admin"):
            return Decision(True, "workspace admin")
        if self._usergroup:
            try:
                members = await self._client.usergroups_users_list(usergroup=self._usergroup)
            except SlackApiError as e:
                error = (
                    e.response.get("error", "unknown error")
                    if isinstance(e.response.data, dict)
                    else "unknown error"
                )
                log.warning(
                    "usergroups.users.list failed",
                    extra={"usergroup": self._usergroup, "error": error},
                )
                return Decision(False, f"I could not check the allowed user group ({error})")
            if user_id in (members.get("users") or []):
                return Decision(True, "member of the allowed user group")
        return Decision(False, "you are not a workspace admin or owner, nor on the allow-list")
