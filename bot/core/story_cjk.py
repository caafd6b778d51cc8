"""Story features for Chinese and Japanese headlines, which have no spaces between words.

A run of Han characters and kana is one "word" to :func:`textfold.content_words`, so two
headlines about one event share nothing unless they are identical. Here a run becomes its
overlapping character bigrams ("中国收紧稀土出口管制" -> 中国 国收 收紧 紧稀 稀土 ...), the
usual dependency-free stand-in for word segmentation: a two-character word is its own
bigram, and a longer one is the bigrams it is made of, so rewrites share most of them.
Words of the tables below are cut out whole first (a small dictionary segmentation), so
"英伟达" and "中国政府" are one term each.
Runs are first cut at grammatical particles and function characters (の, を, 的, 对 ...), whose
bigrams would otherwise join unrelated words; a piece of one character is kept whole.

Before that, :func:`prepare_cjk` rewrites what an English lead would state in figures,
so the quantity rules of :mod:`bot.core.stories` see them: full-width digits and ％ become
ASCII (NFKC), "4月10日" becomes "Apr 10", "90天" / "90日間" become "90 days", and figures get
spaces around them. Common two-character words are mapped onto the English comparison
terms (北京 / 中国 -> ``china``, 收紧 / 強化 -> ``tighten``, 放宽 / 緩和 -> ``ease``...) by
the tables below, so the rules on opposites, market moves and tariff targets apply to them
as they do to English. The tables were written by hand from newsroom usage in Chinese
(Xinhua, People's Daily, Caixin) and Japanese (NHK, Nikkei, Kyodo) trade coverage, and
checked against ``tests/data/stories/cjk.jsonl``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CJK_MARKET_WORDS",
    "CJK_SYNONYMS",
    "cjk_targets",
    "cjk_terms",
    "has_cjk",
    "prepare_cjk",
]

# Han (with extension A and compatibility ideographs) and both kana blocks. Hangul is
# written with spaces, so ordinary word splitting serves Korean.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")
# Particles (Japanese) and function characters (Chinese) that cut a run into pieces.
_SEPARATORS = re.compile(
    "から|まで|より|について|による|など|[のがをにはでともへや的了在与及将对就向被把是从于]+"
)
# One character left alone between separators that names a country ("对华", "対米").
_UNIGRAMS = {"华": "china", "中": "china", "美": "us", "米": "us", "日": "japan"}
# Two countries in two characters ("中美 talks", "米中協議"): both countries.
_COUNTRY_PAIRS = {
    "中美": ("china", "us"), "美中": ("us", "china"), "米中": ("us", "china"),
    "中米": ("china", "us"), "日中": ("japan", "china"), "中日": ("china", "japan"),
    "日米": ("japan", "us"), "美日": ("us", "japan"),
}  # fmt: skip
# Whom a tariff or a curb hits: "对华" / "対中" (towards China), "中国製品" (Chinese goods),
# "原产于美国" (made in the US): the same ``>country`` terms English headlines get.
_TARGETS = (
    (re.compile("对华|对中国|対中|中国製品|中国产品|中国商品|原产于中国"), ">china"),
    (re.compile("对美|对美国|対米|米国製品|米国産|美国商品|美国产品|原产于美国"), ">us"),
)

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# A run of digits is tried once, from its first digit (a search from every digit of a
# 10,000-digit run was quadratic: 1.3 s).
_DURATION = re.compile(r"(?<!\d)(\d++)\s*+(?:天|日間|个月|か月|ヶ月|カ月|周|週間|年間)")
_DURATION_UNITS = {
    "天": "days", "日間": "days", "个月": "months", "か月": "months", "ヶ月": "months",
    "カ月": "months", "周": "weeks", "週間": "weeks", "年間": "years",
}  # fmt: skip

# English comparison term -> Chinese and Japanese words for it (two characters where
# possible: a longer word would be compared as its bigrams, not as itself).
CJK_SYNONYMS = (
    ("china", "中国 北京 中方 中国政府 中国商務省 商务部 商務省"),
    ("us", "美国 美方 华盛顿 米国 米政府 アメリカ"),
    ("japan", "日本 东京 東京"),
    ("xi", "习近平 習近平"),
    ("trump", "特朗普 川普 トランプ"),
    ("tariff", "关税 関税"),
    ("restrict", "管制 规制 規制 限制"),
    ("export", "出口 輸出"),
    ("earth", "稀土 レアアース"),
    ("chip", "芯片 半导体 半導体"),
    ("talk", "会谈 磋商 谈判 協議 交渉 会談 经贸会谈 閣僚協議"),
    ("talk", "举行 会见 会晤"),
    ("deal", "协议 达成 合意 共识 联合声明"),
    ("lifeng", "何立峰"),
    ("bessent", "贝森特 ベッセント"),
    ("switzerland", "瑞士 日内瓦 ジュネーブ スイス"),
    ("antitrust", "反垄断 独禁法 独占禁止法"),
    ("regulator", "市场监管总局 监管总局 监管机构 規制当局"),
    ("retaliate", "反制 报复 報復 対抗措置"),
    ("tighten", "收紧 强化 強化 加强"),
    ("ease", "放宽 放松 缓和 緩和 松绑"),
    ("raise", "提高 上调 引き上げ 上げ"),
    ("cut", "降低 下调 削减 引き下げ 下げ"),
    ("impose", "加征 征收 実施 实施 発動 課す"),
    ("lift", "取消 撤销 解除 撤廃"),
    ("suspend", "暂停 停止 延期"),
    ("resume", "恢复 再開 重启"),
    ("rise", "上涨 上升 大涨 收涨 上昇 急騰 高騰 反発"),
    ("fall", "下跌 下降 大跌 收跌 下落 急落 続落"),
    ("ban", "禁止 禁令"),
    ("allow", "允许 批准 許可 承認"),
    ("nvidia", "英伟达 エヌビディア"),
    ("probe", "调查 調査"),
    ("begin", "开始 启动 開始 开幕 開幕"),
)
# A headline about a market: the markets desk's story (see stories._MARKET_WORDS_RAW).
CJK_MARKET_WORDS = (
    "股市 股价 美股 港股 A股 股指 恒指 道指 期货 人民币 株価 株式 関連株 米国株 香港株 日経平均 "
    "先物 人民元 円相場"
)


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds any Han character or kana."""
    return _CJK.search(text) is not None


def _date(match: re.Match[str]) -> str:
    month, day = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return match.group(0)
    return f" {_MONTH_NAMES[month - 1]} {day} "


def _duration(match: re.Match[str]) -> str:
    unit = match.group(0)[len(match.group(1)) :].strip()
    return f" {match.group(1)} {_DURATION_UNITS[unit]} "


def prepare_cjk(text: str) -> str:
    """``text`` with figures, dates and durations written as the English rules read them."""
    text = unicodedata.normalize("NFKC", text)
    text = _DATE.sub(_date, text)
    text = _DURATION.sub(_duration, text)
    # A figure glued to a character ("加征25%关税") is a word of its own.
    return _CJK_RUN.sub(lambda m: f" {m.group(0)} ", text)


def cjk_targets(text: str) -> list[str]:
    """Whom a tariff or curb in a Chinese or Japanese headline hits (``>china``, ``>us``)."""
    return [target for pattern, target in _TARGETS if pattern.search(text)]


def _dictionary() -> re.Pattern[str]:
    words = {word for _, variants in CJK_SYNONYMS for word in variants.split()}
    words |= set(CJK_MARKET_WORDS.split()) | set(_COUNTRY_PAIRS)
    # Longest first: 中国政府 is one word, not 中国 plus 政府.
    return re.compile("|".join(sorted(words, key=len, reverse=True)))


_DICTIONARY = _dictionary()


def _bigrams(piece: str, terms: list[str]) -> None:
    if len(piece) == 1:
        terms.append(_UNIGRAMS.get(piece, piece))
    else:
        terms.extend(piece[i : i + 2] for i in range(len(piece) - 1))


def cjk_terms(token: str) -> list[str]:
    """The terms of a folded Chinese or Japanese token: known words whole, the rest as
    character bigrams, cut at particles first."""
    terms: list[str] = []
    for piece in _SEPARATORS.split(token):
        start = 0
        for match in _DICTIONARY.finditer(piece):
            if match.start() > start:
                _bigrams(piece[start : match.start()], terms)
            word = match.group(0)
            pair = _COUNTRY_PAIRS.get(word)
            if pair is None:
                terms.append(word)
            else:
                terms.extend(pair)
            start = match.end()
        if start < len(piece):
            _bigrams(piece[start:], terms)
    return terms
