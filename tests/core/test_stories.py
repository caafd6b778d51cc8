"""One story across outlets: rewritten headlines about one event share a story key."""

from __future__ import annotations

import html
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.stories import (
    StoryFeatures,
    StoryIndex,
    lead_sentence,
    same_story,
    story_features,
    story_key_for_url,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "stories"
NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)


def same(a: str, b: str, lead_a: str = "", lead_b: str = "") -> bool:
    return same_story(story_features(a, lead_a), story_features(b, lead_b))


def test_story_key_for_url_is_short_stable_and_distinct() -> None:
    """s- plus 16 hex characters of sha1: the same URL always gives the same key."""
    key = story_key_for_url("https://example.com/a")
    assert re.fullmatch(r"s-[0-9a-f]{16}", key)
    assert key == story_key_for_url("https://example.com/a")
    assert key != story_key_for_url("https://example.com/b")


# ---- features ---------------------------------------------------------------------------


def test_features_make_synonyms_and_verb_forms_one() -> None:
    """Beijing = China, curbs = controls, tightens = tightened; rare-earth = rare earths."""
    a = story_features("Beijing tightens curbs on rare-earth exports")
    b = story_features("China tightened controls on rare earths exports")
    assert a.title == b.title


def test_quantities_keep_their_kind() -> None:
    """Percentages, amounts, counts, durations, dates and years are kind-tagged terms."""
    terms = story_features(
        "China to buy 12 million tons, $5.5 billion hit, 34% tariff, 90-day pause, "
        "from Nov. 1, five elements, since 2017"
    ).title
    assert {"m12m", "$5.5b", "%34", "d90day", "@nov1", "#5", "y2017"} <= terms
    assert not {"million", "billion", "day", "nov", "five"} & terms


def test_index_names_and_old_values_are_not_figures_of_the_story() -> None:
    """'S&P 500 falls 2.7%' states 2.7 %; 'to 125% from 84%' states 125 %, not 84 %."""
    assert story_features("S&P 500 falls 2.7% on tariff fears").title & {"#500", "%2.7"} == {"%2.7"}
    lead = story_features("x", "China raised its tariffs to 125% from 84% on Friday.").lead
    assert "%125" in lead
    assert "%84" not in lead


def test_lead_sentence_is_the_first_sentence_without_dateline_or_abbreviation_stops() -> None:
    """A dateline goes; 'U.S.' and 'Nov.' do not end the sentence."""
    summary = (
        "WASHINGTON (Reuters) - The U.S. will cut tariffs from Nov. 10, officials said. "
        "Markets rose."
    )
    assert lead_sentence(summary) == ("The U.S. will cut tariffs from Nov. 10, officials said.")


def test_features_round_trip_through_json() -> None:
    """to_json()/from_json() store features in a column and give them back equal."""
    features = story_features(
        "Trump says Nvidia can sell H200 chips to China", "The US will take a 25% cut."
    )
    stored = json.loads(json.dumps(features.to_json()))
    assert StoryFeatures.from_json(stored) == features
    assert StoryFeatures.from_json(stored).terms == features.terms


# ---- similarity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "China, U.S. set for key trade talks in Malaysia this week",
            "China, U.S. set for key trade talks in Malaysia",
        ),
        (
            "Bessent, He Lifeng meet in Kuala Lumpur for trade talks",
            "Bessent and He Lifeng hold trade talks in Malaysia",
        ),
        (
            "Beijing tightens grip on rare earths with new export rules",
            "China expands rare-earth export controls",
        ),
        (
            "Nvidia to restart H20 chip sales in China",
            "Nvidia to resume sales of H20 AI chips to China",
        ),
    ],
)
def test_rewritten_headlines_of_one_event_are_one_story(a: str, b: str) -> None:
    """Synonyms, places for their countries, dropped phrases: the same story."""
    assert same(a, b)
    assert same(b, a)


def test_a_figure_stated_in_the_other_articles_lead_agrees() -> None:
    """Headlines pick different figures of one announcement (47 % overall, 10 % fentanyl)."""
    a = ("Trump cuts fentanyl tariffs on China to 10% after meeting Xi", "")
    b = (
        "Trump says he will cut tariffs on China to 47% after meeting Xi",
        "Trump said he would lower tariffs on Chinese goods to 47% from 57%, cutting the "
        "fentanyl-related levy to 10% from 20%.",
    )
    assert same(a[0], b[0], a[1], b[1])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("China tightens rare earth export controls", "China eases rare earth export controls"),
        (
            "Trump says tariffs on China will rise sharply",
            "Trump says tariffs on China will fall sharply",
        ),
        ("US lifts tariffs on Chinese solar panels", "US imposes tariffs on Chinese solar panels"),
        (
            "Soybean futures rise on China purchase pledge",
            "Soybean futures fall on China purchase pledge",
        ),
        ("US, China begin trade talks in Geneva", "US, China reach trade deal in Geneva"),
    ],
)
def test_opposite_actions_never_merge(a: str, b: str) -> None:
    """Tightens/eases, rise/fall, lifts/imposes, talks begin/deal: different news."""
    assert not same(a, b)
    assert not same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Trump raises tariff on Chinese goods to 25%",
            "Trump raises tariff on Chinese goods to 10%",
        ),
        ("China raises tariffs on US goods to 84%", "China raises tariffs on US goods to 125%"),
        (
            "Nvidia expects $5.5 billion hit from China chip curbs",
            "Nvidia expects $800 million hit from China chip curbs",
        ),
        (
            "China adds 5 rare earths to export control list",
            "China adds 7 rare earths to export control list",
        ),
    ],
)
def test_different_figures_do_not_merge(a: str, b: str) -> None:
    """'25% tariff' and '10% tariff' are two events, however alike the words."""
    assert not same(a, b)
    assert not same(b, a)


def test_tariffs_on_different_countries_do_not_merge() -> None:
    """China raising tariffs on US goods is not Trump raising them on Chinese goods."""
    assert not same(
        "China raises tariffs on US goods to 125% in trade fight",
        "Trump raises tariffs on Chinese goods to 125% in trade fight",
    )


def test_a_market_move_is_its_own_story() -> None:
    """'Stocks surge as US, China agree to cut tariffs' is the markets desk's story."""
    assert not same(
        "Stocks surge as US and China agree to cut tariffs for 90 days",
        "US and China agree to cut tariffs for 90 days",
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Item 3", "Item 4"),
        ("China trade talks", "China trade talks collapse"),
        ("Rare earth kovax dralim quesst borin", "Rare earth zental mirox plavo stinder"),
        ("Zephyr alpha bravo charlie delta", "Zephyr echo foxtrot golf hotel"),
    ],
)
def test_generic_or_thinly_related_headlines_never_merge(a: str, b: str) -> None:
    """A headline of three words or fewer, or two sharing only a topic name: no story."""
    assert not same(a, b)


def test_a_lead_alone_never_makes_a_story() -> None:
    """Identical leads under unrelated headlines do not merge (syndicated boilerplate)."""
    lead = "China's commerce ministry said on Thursday it would tighten export controls."
    assert not same(
        "Nexperia chip shortage hits carmakers", "Yuan hits strongest level in year", lead, lead
    )


# ---- the index --------------------------------------------------------------------------


def test_index_finds_the_story_of_a_rewritten_headline() -> None:
    """find() returns the key a similar recent article was added under."""
    index = StoryIndex()
    index.add(
        "s-rare",
        story_features(
            "China expands rare earth export controls, adds five elements",
            "China's commerce ministry on Thursday added holmium, erbium, thulium, europium "
            "and ytterbium to its export control list.",
        ),
        NOW,
    )
    index.add("s-fire", story_features("Babylon Fire grows past 70,000 acres near Blanding"), NOW)
    rewrite = story_features(
        "Beijing adds 5 more rare earths to export control list",
        "Holmium, erbium, thulium, europium and ytterbium join the elements restricted in April.",
    )
    assert index.find(rewrite, NOW) == "s-rare"
    assert index.find(story_features("Trump says tariffs on Canada will rise"), NOW) is None


def test_index_ignores_articles_older_than_the_window() -> None:
    """An article seen more than `window` ago no longer attracts new articles."""
    index = StoryIndex(window=timedelta(hours=48))
    features = story_features("Bessent and He Lifeng hold trade talks in Kuala Lumpur")
    index.add("s-1", features, NOW - timedelta(hours=49))
    assert index.find(features, NOW) is None
    assert index.find(features, NOW - timedelta(hours=2)) == "s-1"


def test_prune_forgets_old_articles_and_keeps_recent_ones() -> None:
    """prune() drops articles outside the window; len() counts what is held."""
    index = StoryIndex(window=timedelta(hours=48))
    old = story_features("Court rules that challenge to Utah national monuments can continue")
    new = story_features("Babylon Fire grows to 38,000 acres near Blanding")
    index.add("s-old", old, NOW - timedelta(hours=50))
    index.add("s-new", new, NOW - timedelta(hours=1))
    assert len(index) == 2
    index.prune(NOW)
    assert len(index) == 1
    assert index.find(old, NOW - timedelta(hours=49)) is None
    assert index.find(new, NOW) == "s-new"


def test_adding_the_same_article_again_refreshes_it_instead_of_growing() -> None:
    """Twelve syndicated copies of one article are held once, kept alive by the newest."""
    index = StoryIndex(window=timedelta(hours=48))
    features = story_features("Trump reduces size of 2 national monuments in Utah")
    index.add("s-ap", features, NOW - timedelta(hours=47))
    index.add("s-ap", features, NOW)
    assert len(index) == 1
    index.prune(NOW + timedelta(hours=2))
    assert index.find(features, NOW + timedelta(hours=2)) == "s-ap"


def test_generic_headlines_are_neither_held_nor_matched() -> None:
    """Headlines with fewer than four terms never join a story."""
    index = StoryIndex()
    index.add("s-1", story_features(""), NOW)
    index.add("s-2", story_features("Markets wrap"), NOW)
    assert len(index) == 0
    assert index.find(story_features("Markets wrap"), NOW) is None


def test_an_article_contradicting_any_member_does_not_join_the_story() -> None:
    """'House panel rejects...' never joins a story one of whose articles says 'passes'."""
    index = StoryIndex()
    index.add(
        "s-senate", story_features("Senate passes bill to expand China investment curbs"), NOW
    )
    index.add("s-senate", story_features("Senate votes to expand curbs on China investment"), NOW)
    rejects = story_features("House panel rejects Senate plan to expand China investment curbs")
    assert index.find(rejects, NOW) is None


def test_common_words_do_not_make_find_scan_every_story() -> None:
    """Thousands of stories sharing 'trump' and 'china' still resolve the right one."""
    index = StoryIndex()
    for i in range(3000):
        index.add(
            f"s-{i}", StoryFeatures(frozenset({"trump", "china", f"topic{i}", f"place{i}"})), NOW
        )
    index.add("s-target", story_features("Trump shrinks Bears Ears national monument"), NOW)
    found = index.find(story_features("Trump again shrinks Bears Ears national monument"), NOW)
    assert found == "s-target"


def test_index_keeps_at_most_max_headlines_dropping_the_oldest() -> None:
    """A memory bound: past max_headlines the oldest articles are forgotten first."""
    index = StoryIndex(max_headlines=3)
    heads = [StoryFeatures(frozenset({f"w{i}", f"x{i}", f"y{i}", f"z{i}"})) for i in range(5)]
    for i, features in enumerate(heads):
        index.add(f"s{i}", features, NOW + timedelta(minutes=i))
    later = NOW + timedelta(minutes=10)
    assert len(index) == 3
    assert index.find(heads[0], later) is None and index.find(heads[1], later) is None
    assert index.find(heads[4], later) == "s4"


# ---- quality on labelled data -----------------------------------------------------------


def cluster(items: list[dict[str, str]]) -> dict[str, str]:
    """Story keys of labelled items fed through the index in publication order."""
    index = StoryIndex()
    keys = {}
    for item in sorted(items, key=lambda i: i["published"]):
        now = datetime.fromisoformat(item["published"].replace("Z", "+00:00"))
        features = story_features(item["title"], item.get("summary", ""))
        key = index.find(features, now) or story_key_for_url(item["id"])
        index.add(key, features, now)
        keys[item["id"]] = key
    return keys


def pairwise(items: list[dict[str, str]], keys: dict[str, str]) -> tuple[float, float]:
    """(precision, recall) of grouping over all pairs of items."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(items, 2):
        grouped, labelled = keys[a["id"]] == keys[b["id"]], a["story"] == b["story"]
        tp += grouped and labelled
        fp += grouped and not labelled
        fn += labelled and not grouped
    return tp / (tp + fp), tp / (tp + fn)


def labelled(name: str) -> list[dict[str, str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("name", "least_recall"),
    [
        ("gold.jsonl", 0.9),
        ("dev2.jsonl", 0.9),
        ("dev3.jsonl", 0.9),
        ("dev4.jsonl", 0.9),
        ("dev5.jsonl", 0.9),
        ("dev7.jsonl", 0.9),
        ("dev8.jsonl", 0.9),
        ("dev9.jsonl", 0.9),
        ("dev10.jsonl", 0.9),
        ("dev11.jsonl", 0.85),
        ("dev12.jsonl", 0.9),
        ("holdout.jsonl", 0.7),
    ],
)
def test_hand_labelled_trade_stories_cluster_with_precision_of_at_least_98_percent(
    name: str, least_recall: float
) -> None:
    """A quality floor: wrongly merged pairs stay under 2 %, and most pairs are found.

    The recall floors sit a little under what bench/p6_stories.py measured (development
    0.942, 0.964, 0.987 and 0.968 in round four; 0.951, 0.988, 1.000, 1.000 and dev5's
    0.922 in round five; dev7's 0.938 in round seven; dev8's 0.952 in round ten; dev9's
    1.000 in round ten; dev10's 1.000 in round eleven; dev11's 0.909 in round twelve;
    dev12's 0.963 in round thirteen; held out 0.800 in round two): they
    catch a regression, they were not tuned to.

    The labelled sets are hard on purpose (same topic, different event; opposite actions;
    different figures; rewrites by other outlets): bench/p6_stories.py prints the figures.
    """
    items = labelled(name)
    precision, recall = pairwise(items, cluster(items))
    assert precision >= 0.98
    assert recall >= least_recall


def test_google_news_topic_grouping_as_silver_labels_is_never_contradicted() -> None:
    """Headlines Google lists under different items are never grouped together."""
    text = (DATA / "google-news-topic.rss").read_text(encoding="utf-8")
    items = []
    for n, item in enumerate(re.findall(r"<item>(.*?)</item>", text, re.S)):
        when = re.search(r"<pubDate>(.*?)</pubDate>", item)
        description = html.unescape(re.search(r"<description>(.*?)</description>", item).group(1))  # type: ignore[union-attr]
        published = datetime.strptime(when.group(1), "%a, %d %b %Y %H:%M:%S %Z")  # type: ignore[union-attr]
        for k, title in enumerate(re.findall(r"<a [^>]*>(.*?)</a>", description)):
            items.append(
                {
                    "id": f"{n}-{k}",
                    "title": html.unescape(title),
                    "published": published.replace(tzinfo=UTC).isoformat(),
                    "story": str(n),
                }
            )
    assert len(items) > 30
    precision, recall = pairwise(items, cluster(items))
    assert precision == 1.0
    assert recall > 0


def google_news_headlines(path: Path) -> list[str]:
    """Titles of a Google News RSS file with the ' - Publisher' suffix removed."""
    text = path.read_text(encoding="utf-8")
    titles = []
    for item in re.findall(r"<item>(.*?)</item>", text, re.S):
        title = html.unescape(re.search(r"<title>(.*?)</title>", item, re.S).group(1))  # type: ignore[union-attr]
        source = html.unescape(re.search(r"<source[^>]*>(.*?)</source>", item, re.S).group(1))  # type: ignore[union-attr]
        titles.append(title.removesuffix(f" - {source}"))
    return titles


def test_google_news_bears_ears_feed_collapses_into_far_fewer_stories(shared_feeds: Path) -> None:
    """92 items from many outlets collapse into a couple of dozen stories, topics kept apart.

    Read by hand, the feed holds dozens of rewrites of "Trump shrinks Bears Ears and Grand
    Staircase-Escalante" (plus explainers and timelines of it), 13 copies of AP's "Trump
    reduces size of 2 national monuments in Utah...", and separate court-case and Babylon
    Fire stories.
    """
    titles = google_news_headlines(shared_feeds / "google-news-us-bears-ears.rss")
    assert len(titles) == 92
    index = StoryIndex()
    story_of: dict[str, set[str]] = {}
    for i, title in enumerate(titles):
        features = story_features(title)
        key = index.find(features, NOW) or story_key_for_url(f"https://example.com/{i}")
        index.add(key, features, NOW)
        story_of.setdefault(title, set()).add(key)

    keys = set().union(*story_of.values())
    assert 10 <= len(keys) <= 45
    ap = "Trump reduces size of 2 national monuments in Utah as Republicans reshape land management"
    assert story_of[ap] == story_of["President " + ap]
    shrink = "Trump shrinks Bears Ears, Grand Staircase-Escalante national monuments again"
    slash = "Trump slashes Bears Ears, Grand Staircase-Escalante monuments in Utah"
    assert story_of[shrink] == story_of[slash]
    court = "Court rules that challenge to Utah national monuments can continue"
    appeal = "Appeals court revives Utah challenge to Bears Ears, Grand Staircase boundaries"
    fire = "Babylon Fire explodes in size, prompts forest closure in San Juan County"
    assert len({*story_of[court], *story_of[fire], *story_of[shrink]}) == 3
    assert story_of[appeal] != story_of[shrink]
