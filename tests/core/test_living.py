"""The living-message decision on its own: what a message shows next of its stories, from
what it last showed, the stories now and what the channel muted (``bot.core.living``).
The chat tests (``tests/adapters/test_living_listings_chat.py``) drive it end to end."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.core.living import next_showing, shown_from_json, shown_in, shown_to_json
from bot.core.models import Alert

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def story(n: int, title: str) -> Alert:
    return Alert(
        id=n,
        destination="slack:C1",
        watch_id=1,
        watch_query="lithium",
        watch_name=None,
        title=title,
        url=f"https://news.test/{n}",
        source="NEWS",
        summary=f"{title}.",
        published=AT,
        matched=("lithium",),
        story_key=f"s{n}",
        feed_url="https://news.test/news.rss",
        created_at=AT,
    )


def grew(alert: Alert) -> Alert:
    return replace(
        alert, also_reported_by=("WIRE",), coverage=(("WIRE", f"https://wire.test/{alert.id}"),)
    )


def test_what_a_message_showed_reads_back_as_it_was_kept() -> None:
    shown = shown_in([grew(story(1, "Lithium prices slide")), story(2, "Lithium miners cut")])
    assert shown_from_json(shown_to_json(shown)) == shown


def test_a_record_this_version_cannot_read_counts_as_none() -> None:
    assert shown_from_json(None) is None
    assert shown_from_json("[1, 2]") is None
    assert shown_from_json('{"s1": {"title": "x"}}') is None


def test_a_message_without_a_record_grows_every_story_not_muted() -> None:
    """Messages posted before the record was kept: as before it, every story not muted is
    an update, its headline new when it was ever changed."""
    first = replace(grew(story(1, "Lithium prices slide again")), updated=True)
    second = story(2, "Lithium miners cut output")
    showing = next_showing([first, second, story(3, "Lithium muted")], None, {"s3"})
    assert [(g.alert.id, g.retitled, g.named) for g in showing.grown] == [
        (1, True, True),
        (2, False, True),
    ]
    assert set(showing.shown) == {"s1", "s2", "s3"}


def test_a_story_unchanged_since_it_was_shown_is_no_growth() -> None:
    first, second = story(1, "Lithium prices slide"), story(2, "Lithium miners cut")
    shown = shown_in([first, second])
    assert next_showing([first, second], shown, set()).grown == ()
    (growth,) = next_showing([first, grew(second)], shown, set()).grown
    assert growth.alert.story_key == "s2" and growth.named and not growth.retitled


def test_headline_now_only_for_a_headline_other_than_the_one_last_shown() -> None:
    posted = story(1, "Lithium prices slide")
    retitled = replace(posted, title="Lithium prices slide to a two-year low", updated=True)
    (first,) = next_showing([retitled], shown_in([posted]), set()).grown
    assert first.retitled and first.headline == "Lithium prices slide"
    (later,) = next_showing([grew(retitled)], shown_in([retitled]), set()).grown
    assert not later.retitled and not later.named
