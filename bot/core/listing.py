"""``latest`` and ``watch test`` list stories, as alerts do: an event five outlets carry
is one line that names the other four, not five lines that crowd out the rest. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from bot.core.alerts import other_outlets
from bot.core.models import ArticleView


def story_leads(views: Iterable[ArticleView], limit: int) -> list[ArticleView]:
    """The first ``limit`` stories of ``views`` (newest first), each shown by its first
    article there: its newest."""
    leads: dict[str, ArticleView] = {}
    for view in views:
        if view.story_key not in leads:
            leads[view.story_key] = view
            if len(leads) == limit:
                break
    return list(leads.values())


def with_outlets(
    leads: Sequence[ArticleView], outlets: Mapping[str, Sequence[tuple[str, str]]]
) -> tuple[ArticleView, ...]:
    """Each lead with its story's other outlets, from the (outlet, url) of the story's
    articles in first-seen order."""
    shown = []
    for lead in leads:
        also, coverage = other_outlets(lead.source, lead.url, outlets.get(lead.story_key, ()))
        shown.append(replace(lead, also_reported_by=also, coverage=coverage))
    return tuple(shown)
