"""A watch's Google News search feed: its query written in Google's search syntax.

Pure functions only, no I/O.

The search only gathers candidates: every item the feed brings is matched against the
watch's own query before anything alerts. So the search must find at least what the
watch matches, and may find more. What Google cannot express is widened rather than
guessed at: a regular expression or a ``source:`` term matches anything there (Google
names sources its own way), an exclusion of a group is left out, and a query left with
nothing Google can search for has no search feed.

Google binds ``OR`` tighter than the space between terms, the reverse of our grammar
(``a OR b c`` is ``a OR (b AND c)`` here, ``(a OR b) AND c`` there), so every group
nested in another is written in parentheses.
"""

from __future__ import annotations

from urllib.parse import quote_plus

from bot.core.query import And, Node, Not, Or, Query, Term

__all__ = [
    "GOOGLE_NEWS_SEARCH",
    "google_news_query",
    "google_news_url",
    "previous_google_news_url",
    "search_feed_name",
]

GOOGLE_NEWS_SEARCH = "https://news.google.com/rss/search?q={q}&hl=en-US&gl=US&ceid=US:en"
# Google News keeps its search feeds to recent news with this; older items would never
# alert anyway ([poll] max_age_hours).
RECENT = "when:7d"


def google_news_url(query: Query, search: str = GOOGLE_NEWS_SEARCH) -> str | None:
    """The Google News RSS search feed for a watch, or None when nothing in its query can
    be searched for there (a regular expression alone). ``search`` is the search address
    with ``{q}`` where the search goes (``[fetch] google_news_url``)."""
    searched = google_news_query(query)
    if searched is None:
        return None
    return search.format(q=quote_plus(f"{searched} {RECENT}"))


def search_feed_name(watch_name: str | None, query: str) -> str:
    """What a watch's search feed is called in feed lists."""
    return f"Google News: {watch_name or query}"


def google_news_query(query: Query) -> str | None:
    """The query in Google's search syntax, finding at least what it matches; None when
    it would have to find everything."""
    return _written(query.root)


def _written(node: Node) -> str | None:
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Not):
        return _excluded(node.child)
    if isinstance(node, And):
        parts = [_grouped(child) for child in node.children]
        searched = [part for part in parts if part is not None]
        # Exclusions alone would ask Google for everything else.
        return " ".join(searched) if any(map(_positive, searched)) else None
    alternatives = [_grouped(child) for child in node.children]
    if not all(part is not None and _positive(part) for part in alternatives):
        return None  # one alternative matches (nearly) anything: so does the whole
    return " OR ".join(part for part in alternatives if part is not None)


def _positive(written: str) -> bool:
    return not written.startswith("-")


def _grouped(node: Node) -> str | None:
    written = _written(node)
    if written is not None and isinstance(node, And | Or) and len(node.children) > 1:
        return f"({written})"
    return written


def _term(term: Term) -> str | None:
    if term.is_regex or term.field == "source":
        return None
    text = f'"{term.text}"' if " " in term.text else term.text
    return f"intitle:{text}" if term.field == "title" else text


def _excluded(node: Node) -> str | None:
    if isinstance(node, Not):
        return _grouped(node.child)
    if isinstance(node, Term):
        written = _term(node)
        return None if written is None else f"-{written}"
    return None  # Google cannot exclude a group: leave it out, finding more


def previous_google_news_url(text: str, search: str = GOOGLE_NEWS_SEARCH) -> str:
    """The search feed versions before 2026-12 built for a query written ``text`` (its
    words with AND and parentheses dropped), so that an upgraded install moves that feed,
    with what it has seen, to the address :func:`google_news_url` gives now."""
    words = text.replace("(", " ").replace(")", " ").split()
    searched = " ".join(word for word in words if word != "AND")
    return search.format(q=quote_plus(f"{searched} {RECENT}"))
