"""Typed command text (Slack's ``/wirewatch …``, the console) into catalogue commands."""

from __future__ import annotations

import pytest

from bot.core.commands.catalogue import CATALOGUE, LATEST_MAX
from bot.core.commands.textargs import UnknownCommandError, UsageError, parse_text


def parsed(text: str) -> tuple[str, dict[str, object]]:
    result = parse_text(text)
    return result.spec.name, result.args


def test_empty_text_is_help_and_groups_default_to_list() -> None:
    assert parsed("") == ("help", {})
    assert parsed("watch")[0] == "watch list"
    assert parsed("feeds")[0] == "feeds list"
    assert parsed("Watch LS")[0] == "watch list"


def test_aliases() -> None:
    assert parsed("mute 3") == ("unsubscribe", {"watches": ("3",)})
    assert parsed("watch rm 7") == ("watch remove", {"watch": "7"})
    assert parsed("feed add https://x.test/rss")[0] == "feeds add"


def test_a_query_keeps_its_quotes_and_options_come_off() -> None:
    name, args = parsed('watch add "rare earth" AND (lithium OR cobalt) --name minerals')
    assert name == "watch add"
    assert args["query"] == '"rare earth" AND (lithium OR cobalt)'
    assert args["name"] == "minerals"
    _, quoted = parsed('watch add tariffs --name "trade war"')
    assert quoted["name"] == "trade war"


def test_slack_user_group_mentions_become_the_group_id() -> None:
    _, args = parsed("watch add tariffs --ping <!subteam^S0123ABC|@desk>")
    assert args["ping"] == "S0123ABC"


def test_latest_takes_a_query_a_count_and_share_in_any_order() -> None:
    assert parsed("latest") == ("latest", {"count": 5, "share": False})
    assert parsed("latest lithium 3 share") == (
        "latest",
        {"query": "lithium", "count": 3, "share": True},
    )
    assert parsed("latest share 2")[1] == {"count": 2, "share": True}
    assert parsed("latest 7")[1] == {"count": 7, "share": False}


def test_google_news_is_a_word_at_either_end_of_the_query_or_written_as_an_option() -> None:
    for text in (
        'watch add "rare earth" magnets google-news --name magnets',
        'watch add google-news "rare earth" magnets --name magnets',
        'watch add "rare earth" magnets --google-news --name magnets',
        'watch add "rare earth" magnets --name magnets --Google-News',
    ):
        assert parsed(text) == (
            "watch add",
            {"query": '"rare earth" magnets', "name": "magnets", "google-news": True},
        ), text
    assert parsed("watch add tariffs")[1] == {"query": "tariffs", "google-news": False}
    # Inside the query it is a word to watch for, as typed.
    assert parsed("watch add google-news outage OR gmail")[1]["query"] == "outage OR gmail"
    assert parsed("watch add outage google-news gmail")[1] == {
        "query": "outage google-news gmail",
        "google-news": False,
    }


def test_watch_edit_turns_google_news_on_or_off_and_leaves_it_alone_otherwise() -> None:
    unchanged = {"no-ping": False}
    assert parsed("watch edit 3 google-news")[1] == {"watch": "3", "google-news": True, **unchanged}
    assert parsed("watch edit magnets no-google-news")[1] == {
        "watch": "magnets",
        "no-google-news": True,
        **unchanged,
    }
    _, both = parsed("watch edit 3 tariffs OR duties no-google-news")
    assert both == {"watch": "3", "query": "tariffs OR duties", "no-google-news": True, **unchanged}
    assert parsed("watch edit 3 --name x")[1] == {"watch": "3", "name": "x", **unchanged}


def test_bad_counts_and_missing_arguments_say_how_to_use_the_command() -> None:
    with pytest.raises(UsageError) as out_of_range:
        parse_text(f"latest lithium {LATEST_MAX + 1}")
    assert str(LATEST_MAX) in out_of_range.value.problem
    with pytest.raises(UsageError) as missing:
        parse_text("watch add")
    assert missing.value.problem == "QUERY is missing"
    with pytest.raises(UsageError):
        parse_text("watch add tariffs --colour red")
    with pytest.raises(UsageError):
        parse_text("watch add tariffs --name")


def test_unknown_words_are_named() -> None:
    with pytest.raises(UnknownCommandError) as unknown:
        parse_text("frobnicate now")
    assert unknown.value.word == "frobnicate"
    with pytest.raises(UnknownCommandError) as sub:
        parse_text("watch frob")
    assert sub.value.word == "watch frob"


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_every_example_in_help_parses(spec: object) -> None:
    """The examples help shows are real commands."""
    from bot.core.commands.catalogue import CommandSpec

    assert isinstance(spec, CommandSpec)
    name, _ = parsed(f"{spec.name} {spec.example}".strip())
    assert name == spec.name
