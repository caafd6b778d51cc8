"""A typed reference is an id only when an id column can hold it."""

from __future__ import annotations

import pytest

from bot.core.refs import id_of


@pytest.mark.parametrize(("ref", "expected"), [("7", 7), ("#7", 7), (" #12 ", 12), ("١٠", 10)])
def test_a_whole_number_is_an_id(ref: str, expected: int) -> None:
    assert id_of(ref) == expected


@pytest.mark.parametrize("ref", ["", "#", "²", "7a", "-7", "lithium", "9" * 19])
def test_anything_else_is_no_id(ref: str) -> None:
    assert id_of(ref) is None
