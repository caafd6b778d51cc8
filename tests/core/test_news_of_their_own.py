"""Which of a story's other articles a message names by headline (bot.core.alerts.
news_of_their_own): the alerted outlet's own other articles, and any headline that reads
as news of its own; outlets' rewrites stay a name under "also reported by"."""

from __future__ import annotations

from bot.core.alerts import FURTHER_SHOWN, StoryArticle, news_of_their_own

ALERTED = StoryArticle(
    "Reuters",
    "MP Materials opens rare earth magnet plant in Fort Worth",
    "MP Materials began commercial production of magnets at its Fort Worth plant.",
    "https://reuters.test/mp-plant",
)


def test_a_close_rewrite_by_another_outlet_is_only_a_name() -> None:
    rewrite = StoryArticle(
        "AP",
        "MP Materials opens rare earth magnet plant in Fort Worth, Texas",
        "",
        "https://ap.test/mp-plant",
    )
    assert news_of_their_own(ALERTED, [ALERTED, rewrite]) == ()


def test_another_event_joined_by_a_few_words_is_shown_by_its_headline() -> None:
    funding = StoryArticle(
        "Bloomberg",
        "Rare earth magnet maker Niron raises $100 million",
        "",
        "https://bloomberg.test/niron",
    )
    assert news_of_their_own(ALERTED, [ALERTED, funding]) == (
        ("Bloomberg", funding.title, funding.url),
    )


def test_the_same_outlets_other_articles_are_shown_but_not_a_repeated_headline() -> None:
    follow_up = StoryArticle(
        "Reuters",
        "MP Materials plant to supply General Motors from next year",
        "",
        "https://reuters.test/mp-gm",
    )
    repeat = StoryArticle("Reuters", ALERTED.title.upper(), "", "https://reuters.test/amp/mp")
    assert news_of_their_own(ALERTED, [ALERTED, follow_up, repeat]) == (
        ("Reuters", follow_up.title, follow_up.url),
    )


def test_at_most_a_few_are_named() -> None:
    others = [
        StoryArticle("Reuters", f"MP Materials update number {n}", "", f"https://r.test/{n}")
        for n in range(10)
    ]
    assert len(news_of_their_own(ALERTED, [ALERTED, *others])) == FURTHER_SHOWN
