"""Queries built to break the parser get a one-line reason from the CLI, not a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import wirewatch, write_config


async def test_deeply_nested_query_is_refused_in_words(tmp_path: Path) -> None:
    """250 levels of parentheses used to print a 2,600-line RecursionError traceback."""
    cfg = write_config(tmp_path, [])
    query = "(" * 250 + "tariff" + ")" * 250
    for command in (("watch", "add", query), ("watch", "test", query), ("latest", query)):
        code, _, err = await wirewatch(*command, config=cfg)
        assert code == 1, (command, err)
        assert "Traceback" not in err and "RecursionError" not in err
        assert err.startswith("wirewatch: bad query: nested too deeply"), err
        assert len(err.splitlines()) == 3  # the reason, the query, the caret
