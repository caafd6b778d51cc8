"""Per-channel alert templates: a small, safe subset of Jinja2.

A channel manager may shape the first line of every alert, and each story's line where a
digest or a burst lists several (``template set``). The
template language is Jinja2's, run in its immutable sandbox and further cut down to what a
headline needs: ``{{ field }}`` with a few filters, and ``{% if %}``. No loops, no macros,
no calls, no attribute access beyond the documented fields: a template can neither reach
Python objects nor spin (nested ``range`` loops would). Every template is compiled and
rendered against a sample alert when it is set, so its errors are shown then, never at
send time.

Field values come from feeds: each adapter passes its own escape function, applied to
every value before rendering, so feed text cannot inject markup or mentions; the template's
own text is the manager's and keeps its formatting (mentions are still neutralised by the
adapters).

Jinja2 is imported on the first template compiled, not with this module: most
installations never set one, and it costs ~10 MB of memory to load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from bot.core.display import web_url
from bot.core.errors import WirewatchError
from bot.core.models import Alert

TEMPLATE_MAX = 500  # characters of template source
OUTPUT_MAX = 1000  # characters of rendered output (the rest is cut with an ellipsis)

FIELDS: dict[str, str] = {
    "title": "the story's headline",
    "url": "the article's address",
    "source": "the outlet (e.g. Reuters)",
    "summary": "the first lines of the article",
    "published": "when it was published, YYYY-MM-DD HH:MM UTC (empty if unknown)",
    "watch": "the watch's name, or its query when it has none",
    "watch_id": "the watch's number",
    "matched": "the terms that matched, as a list (use |join(', '))",
    "outlets": "how many outlets carry the story",
    "also_reported_by": "the other outlets, as a list",
    "updated": "true when the headline changed after it was first posted",
}
FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "truncate", "default", "join",
     "replace", "length", "first", "last", "string"}
)  # fmt: skip
_ALLOWED_NODES = (
    "Template", "Output", "TemplateData", "Name", "Const", "Filter", "If", "Compare",
    "Operand", "And", "Or", "Not", "CondExpr", "Concat", "List", "Tuple", "Keyword",
)  # fmt: skip


class TemplateError(WirewatchError):
    """A template that cannot be used, with the reason."""


@lru_cache(maxsize=1)
def _sandbox() -> tuple[Any, tuple[type, ...]]:
    """The sandboxed environment and the node classes a template may hold."""
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
    return env, tuple(getattr(nodes, name) for name in _ALLOWED_NODES)


def _check(source: str) -> None:
    if len(source) > TEMPLATE_MAX:
        raise TemplateError(f"a template is at most {TEMPLATE_MAX} characters")
    from jinja2 import TemplateSyntaxError, nodes

    env, allowed = _sandbox()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as e:
        raise TemplateError(f"line {e.lineno}: {e.message}") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, allowed):
            raise TemplateError(
                f"{type(node).__name__.lower()} is not allowed: use {{{{ field }}}}, "
                "filters and {% if %} only"
            )
        if isinstance(node, nodes.Name) and node.name not in FIELDS:
            raise TemplateError(f"unknown field {node.name!r}; the fields are: {', '.join(FIELDS)}")
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateError(
                f"filter {node.name!r} is not allowed; these are: {', '.join(sorted(FILTERS))}"
            )


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    _check(source)
    return _sandbox()[0].from_string(source)


# Inside a link, RFC 3986 leaves these as they are, and Discord reads them: a feed's URL
# must not close a masked link [text](url) early and go on in text of its own.
_LINK_MARKUP = str.maketrans({"(": "%28", ")": "%29"})
URL_MAX = 2000


def fields_of(
    alert: Alert,
    escape: Callable[[str], str],
    *,
    escape_url: Callable[[str], str] = lambda url: url,
) -> dict[str, object]:
    """The documented fields of one alert, each string escaped for the platform; the URL
    well-formed and percent-encoded (no space, ``<``, ``>``, ``|``, brackets or
    parentheses from the feed survive, so it can neither end a link nor start one),
    then ``escape_url`` (Slack's ``&``); empty when it cannot be linked."""
    published = (
        alert.published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if alert.published else ""
    )
    return {
        "title": escape(alert.title),
        "url": escape_url((web_url(alert.url, max_length=URL_MAX) or "").translate(_LINK_MARKUP)),
        "source": escape(alert.source),
        "summary": escape(alert.summary),
        "published": published,
        "watch": escape(alert.watch_name or alert.watch_query),
        "watch_id": alert.watch_id,
        "matched": [escape(t) for t in alert.matched],
        "outlets": 1 + len(alert.also_reported_by),
        "also_reported_by": [escape(o) for o in alert.also_reported_by],
        "updated": alert.updated,
    }


def render(source: str, fields: Mapping[str, object], *, one_line: bool = False) -> str:
    """The template's output for these fields, one paragraph, capped; with ``one_line``,
    its line breaks and runs of spaces made single spaces (a story's line in a list)."""
    try:
        out = str(_compiled(source).render(**fields)).strip()
        if one_line:
            out = " ".join(out.split())
    except TemplateError:
        raise
    except OverflowError:
        raise TemplateError("a number in it is too large") from None
    except TypeError:
        # Python's own words ("'>=' not supported between instances of 'str' and 'int'")
        # name nothing the writer of a template wrote.
        raise TemplateError(
            "a filter was given a value of the wrong kind (a number where it takes one, "
            'text in quotes: truncate(80), replace("a", "b"))'
        ) from None
    except Exception as e:  # the sandbox refusing something, a filter given a bad value
        raise TemplateError(f"{type(e).__name__}: {e}") from None
    return out if len(out) <= OUTPUT_MAX else out[: OUTPUT_MAX - 1] + "…"


SAMPLE = Alert(
    id=0,
    destination="sample",
    watch_id=3,
    watch_query='"rare earth" AND export',
    watch_name="rare earths",
    title="China expands rare earth export controls to five more elements",
    url="https://news.example/rare-earths",
    source="Example Wire",
    summary="Beijing added holmium and four other elements to its export list.",
    published=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    matched=("rare earth", "export"),
    story_key="sample",
    feed_url="https://news.example/rss",
    created_at=datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
    also_reported_by=("Reuters", "SCMP"),
)


def validate(source: str) -> str:
    """The sample alert rendered with ``source``; raises ``TemplateError`` (shown to the
    person setting it) for anything that would fail at send time."""
    out = render(source, fields_of(SAMPLE, lambda s: s))
    if not out:
        raise TemplateError("the template renders nothing for a sample alert")
    return out
