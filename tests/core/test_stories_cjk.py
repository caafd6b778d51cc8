"""Chinese and Japanese headlines (no spaces between words) cluster into stories too."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.core.stories import (
    StoryIndex,
    lead_sentence,
    same_story,
    story_features,
    story_key_for_url,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "stories"


def same(a: str, b: str, lead_a: str = "", lead_b: str = "") -> bool:
    return same_story(story_features(a, lead_a), story_features(b, lead_b))


def test_a_chinese_headline_becomes_words_and_bigrams_not_one_token() -> None:
    """Known words are cut out whole and mapped; the rest are character bigrams."""
    terms = story_features("中国收紧稀土出口管制 新增五种元素").title
    assert {"china", "tighten", "earth", "export", "restrict", "新增", "元素"} <= terms
    assert "中国收紧稀土出口管制" not in terms


def test_japanese_particles_cut_a_run_before_bigrams() -> None:
    """'を' and 'の' join words, not meanings: no bigram spans them."""
    terms = story_features("中国、レアアース輸出規制を強化").title
    assert {"china", "earth", "export", "restrict", "tighten"} <= terms
    assert not any("を" in term for term in terms)


def test_full_width_figures_dates_and_durations_read_like_english_ones() -> None:
    """'２５％', '4月10日' and '90天' are the %25, @apr10 and d90day an English lead gives."""
    assert {"%25", "@apr10"} <= story_features("米国、対中関税を２５％に引き上げ 4月10日から").title
    assert "d90day" in story_features("美国对华加征25%关税，90天后生效").title
    assert "d90day" in story_features("US delays the 25% tariff by 90 days").title


def test_a_chinese_lead_sentence_ends_at_the_full_stop() -> None:
    """'。' ends a sentence without a following space."""
    assert (
        lead_sentence("商务部周四宣布实施出口管制。此举被视为回应。")
        == "商务部周四宣布实施出口管制。"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("中国收紧稀土出口管制 新增五种稀土元素", "北京宣布加强稀土出口管制"),
        ("中国、レアアース輸出規制を強化 5種類を追加", "中国がレアアース5種の輸出規制強化"),
        ("美国宣布将对华商品关税提高至25%", "特朗普宣布对华关税提高至25% 4月1日起生效"),
        ("中国对英伟达展开反垄断调查", "中国、エヌビディアを独禁法違反の疑いで調査"),
    ],
)
def test_rewritten_cjk_headlines_of_one_event_are_one_story(a: str, b: str) -> None:
    """Beijing = China, 收紧 = 加强 (tighten), 英伟达 = エヌビディア (Nvidia)."""
    assert same(a, b)
    assert same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("中国收紧稀土出口管制", "中国放宽稀土出口管制"),
        ("中国、レアアース輸出規制を強化", "中国、レアアース輸出規制を一部緩和"),
        ("美国宣布将对华商品关税提高至25%", "美国宣布将对华商品关税降低至25%"),
        ("美股三大股指全线上涨", "美股三大股指全线下跌"),
    ],
)
def test_cjk_opposites_never_merge(a: str, b: str) -> None:
    """收紧/放宽, 強化/緩和 (tighten/ease), 提高/降低 (raise/cut), 上涨/下跌 (rise/fall)."""
    assert not same(a, b)
    assert not same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("美国宣布对华商品加征25%关税", "美国宣布对华商品加征10%关税"),
        ("美国宣布对华商品加征25%关税", "中国宣布对美商品加征25%关税"),
        ("中国收紧稀土出口管制", "美国收紧对华芯片出口管制"),
        ("China tightens rare earth export controls", "US tightens chip export controls on China"),
    ],
)
def test_different_figures_targets_or_goods_do_not_merge(a: str, b: str) -> None:
    """25 % / 10 %; tariffs on China / on the US; rare earths / chips: different measures."""
    assert not same(a, b)
    assert not same(b, a)


def test_labelled_chinese_and_japanese_stories_cluster_with_high_precision_and_recall() -> None:
    """tests/data/stories/cjk.jsonl through the index in publication order."""
    items = [
        json.loads(line) for line in (DATA / "cjk.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    index = StoryIndex()
    keys = {}
    for item in sorted(items, key=lambda i: i["published"]):
        now = datetime.fromisoformat(item["published"].replace("Z", "+00:00"))
        features = story_features(item["title"], item["summary"])
        key = index.find(features, now) or story_key_for_url(item["id"])
        index.add(key, features, now)
        keys[item["id"]] = key
    tp = fp = fn = 0
    for a, b in itertools.combinations(items, 2):
        grouped, labelled = keys[a["id"]] == keys[b["id"]], a["story"] == b["story"]
        tp += grouped and labelled
        fp += grouped and not labelled
        fn += labelled and not grouped
    assert tp / (tp + fp) >= 0.98
    assert tp / (tp + fn) >= 0.85
