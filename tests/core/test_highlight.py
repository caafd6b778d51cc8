"""The one highlighting function: the spans every renderer bolds, found as the matcher finds
terms, with user regexes only ever run by RE2."""

from __future__ import annotations

from bot.core.highlight import highlight_spans
from bot.core.matcher import MatchDocument, match_one
from bot.core.query import parse_query


def marked(text: str, terms: list[str]) -> str:
    """``text`` with every highlighted span in [brackets]."""
    out, pos = [], 0
    for start, end in highlight_spans(text, terms):
        out.append(f"{text[pos:start]}[{text[start:end]}]")
        pos = end
    return "".join(out) + text[pos:]


def test_words_match_in_any_case_accent_width_and_plural() -> None:
    """``tariff`` finds Tariffs and TARIFF; ``bessent`` finds Béssent; full width too."""
    text = "Tariffs rise; TARIFF talk, Béssent and ＣＨＩＮＡ, but not tariffing."
    assert marked(text, ["tariff", "bessent", "china"]) == (
        "[Tariffs] rise; [TARIFF] talk, [Béssent] and [ＣＨＩＮＡ], but not tariffing."
    )


def test_phrases_span_hyphens_punctuation_and_plurals() -> None:
    """``rare earth`` finds rare-earth, Rare  Earths and "rare, earth", never earthquake."""
    text = "rare-earth magnets; Rare  Earths rally; rare, earth; rare earthquake"
    assert marked(text, ["rare earth"]) == (
        "[rare-earth] magnets; [Rare  Earths] rally; [rare, earth]; rare earthquake"
    )


def test_acronyms_and_possessives_fold_as_in_matching() -> None:
    """``US`` finds U.S. (dot kept in the span); ``China`` finds China's."""
    assert marked("The U.S. and China's plan", ["US", "china"]) == ("The [U.S.] and [China's] plan")


def test_scripts_without_spaces_match_inside_words() -> None:
    """``稀土`` is found inside 中国稀土出口, only the term itself emphasised."""
    assert marked("中国稀土出口 and 稀土exports", ["稀土"]) == "中国[稀土]出口 and [稀土]exports"


def test_regex_terms_are_found_on_the_folded_text_and_cover_whole_words() -> None:
    """A regex sees folded text (lower case, punctuation as spaces) as the matcher does."""
    text = "New TARIFFS — on China! Tariff against Chinese goods."
    assert marked(text, ["/tariffs? (on|against) china/"]) == (
        "New [TARIFFS — on China]! Tariff against Chinese goods."
    )


def test_the_catastrophic_regex_is_linear_and_still_highlights() -> None:
    """``/china|(\\w+\\s?)+zzz/`` took Python's re 34 s on a 45-character sentence; RE2
    answers at once (this test only has to finish) with the same spans a reader expects."""
    sentence = "aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhh"
    text = f"China says {sentence} {sentence * 20}"
    spans = highlight_spans(text, ["/china|(\\w+\\s?)+zzz/"])
    assert spans == [(0, 5)]


def test_unknown_and_broken_terms_are_left_alone() -> None:
    """A regex RE2 refuses, an empty term or a term without letters bolds nothing."""
    assert highlight_spans("China (a)", ["/(a/", "", "  ", "--", "/(?P<x>a)\\1/"]) == []
    assert highlight_spans("", ["china"]) == []


def test_overlapping_terms_merge_into_one_span() -> None:
    """``rare earth`` and ``earth magnet`` on ``rare earth magnet`` is one bold run."""
    assert marked("rare earth magnets", ["rare earth", "earth magnet"]) == "[rare earth magnets]"


def test_highlighting_agrees_with_the_matcher_on_what_a_term_matches() -> None:
    """For each spelling, a term is highlighted exactly when the matcher says it matches."""
    cases = [
        ("tariff", "New tariffs"),
        ("tariff", "tariffing news"),
        ("rare earth", "Rare-Earths rally"),
        ("rare earth", "rare earthquake"),
        ("tax", "taxes rise"),
        ("city", "two cities"),
        ("news", "new"),
        ("us", "U.S. talks"),
        ("稀土", "中国稀土出口"),
        ("中国 tariffs", "的中国 tariff"),
    ]
    for term, text in cases:
        matched = match_one(parse_query(f'"{term}"'), MatchDocument(title=text)) is not None
        assert bool(highlight_spans(text, [term])) == matched, (term, text)
