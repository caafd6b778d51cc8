"""Wirewatch on Discord: slash commands (``commands``), embeds (``render``), delivery
(``notifier``) and the bot's lifecycle (``client``)."""

from __future__ import annotations

from bot.adapters.discord.client import DiscordAdapter, configure_endpoints, invite_url
from bot.adapters.discord.notifier import ChannelPacer, DiscordNotifier, DiscordWebhookNotifier

__all__ = [
    "ChannelPacer",
    "DiscordAdapter",
    "DiscordNotifier",
    "DiscordWebhookNotifier",
    "configure_endpoints",
    "invite_url",
]
