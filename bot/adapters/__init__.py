"""Adapters: console, Slack, Discord. Each owns its platform's rendering and limits."""
