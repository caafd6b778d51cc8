"""Slack adapter: slash command, Block Kit alerts, chat.postMessage and webhook notifiers."""

from __future__ import annotations

from bot.adapters.slack.app import SlackAdapter
from bot.adapters.slack.notifier import SlackNotifier, SlackWebhookNotifier

__all__ = ["SlackAdapter", "SlackNotifier", "SlackWebhookNotifier"]
