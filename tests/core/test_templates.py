"""Alert templates: the safe Jinja2 subset, checked when set, escaped per platform."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from bot.core.templates import (
    OUTPUT_MAX,
    SAMPLE,
    TEMPLATE_MAX,
    TemplateError,
    fields_of,
    render,
    validate,
)


def test_fields_filters_and_conditions_render() -> None:
    out = validate(
        "{{ source|upper }} · {{ title|truncate(30) }} · {{ matched|join(', ') }}"
        "{% if outlets > 2 %} · {{ outlets }} outlets{% endif %}"
    )
    assert out == "EXAMPLE WIRE · China expands rare earth... · rare earth, export · 3 outlets"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% for x in matched %}{{ x }}{% endfor %}", "for is not allowed"),
        ("{{ title.__class__ }}", "getattr is not allowed"),
        ("{{ range(10) }}", "call is not allowed"),
        ("{{ cycler }}", "unknown field 'cycler'"),
        ("{{ title|attr('upper') }}", "filter 'attr' is not allowed"),
        ("{% macro m() %}{% endmacro %}", "macro is not allowed"),
        ("{{ title", "line 1"),
        ("x" * (TEMPLATE_MAX + 1), "at most"),
        ("{% if updated %}changed{% endif %}", "renders nothing"),
        # Said in a template's words, not Python's ("Python int too large to convert...").
        ('{{ title|replace("a", "b", 99999999999999999999) }}', "^a number in it is too large$"),
        ('{{ title|truncate("x") }}', "^a filter was given a value of the wrong kind"),
    ],
)
def test_what_could_fail_or_escape_is_refused_when_set(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        validate(source)


def test_feed_values_are_escaped_by_the_platform_and_output_is_capped() -> None:
    alert = replace(SAMPLE, title="<b>*bold*</b>", summary="y" * 5000)
    escaped = render("{{ title }}", fields_of(alert, lambda s: s.replace("<", "&lt;")))
    assert escaped == "&lt;b>*bold*&lt;/b>"
    long = render("{{ summary }}", fields_of(alert, lambda s: s))
    assert len(long) == OUTPUT_MAX and long.endswith("…")


def test_jinja2_loads_with_the_first_template_not_at_start_up() -> None:
    # Most installations never set a template; Jinja2 costs ~10 MB resident (issue 11, P4).
    probe = (
        "import sys; import bot.cli, bot.app, bot.core.commands.handlers; "
        "before = 'jinja2' in sys.modules; "
        "from bot.core.templates import validate; validate('{{ title }}'); "
        "print(before, 'jinja2' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True"]


def test_a_story_line_in_a_list_is_one_line() -> None:
    """In a digest or listing each story is one line: the template's line breaks and runs
    of spaces become single spaces there (its own message keeps them)."""
    source = "{{ source }}:\n  {{ title }}{% if outlets > 1 %}\n({{ outlets }} outlets){% endif %}"
    fields = fields_of(SAMPLE, str)
    assert render(source, fields) == (
        "Example Wire:\n  China expands rare earth export controls to five more elements\n"
        "(3 outlets)"
    )
    assert render(source, fields, one_line=True) == (
        "Example Wire: China expands rare earth export controls to five more elements (3 outlets)"
    )
