"""Text folding and matching: every matching rule, and many-watches == one-by-one."""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import pytest

from bot.core.matcher import (
    _FEW_LITERALS,
    _MAX_KEY_LITERALS,
    Match,
    MatchDocument,
    Matcher,
    explain,
    match_one,
    required_literal,
)
from bot.core.query import Query, Term, compile_regex, evaluate, parse_query
from bot.core.textfold import (
    fold,
    fold_term,
    headline_tokens,
    is_spaceless_char,
    plural_stem,
    surface_fold,
    surface_variants,
)


def matches(query: str, title: str, summary: str = "", content: str = "", source: str = "") -> bool:
    return match_one(parse_query(query), MatchDocument(title, summary, content, source)) is not None


# ----------------------------------------------------------------------------- folding


def test_fold_is_case_accent_and_width_insensitive() -> None:
    """NFKC + casefold + accents stripped: full-width, accented and upper case meet."""
    assert fold("Béssent") == fold("BESSENT") == "bessent"
    assert fold("ＣＨＩＮＡ") == "china"
    assert fold("Straße İstanbul") == "strasse istanbul"


def test_fold_turns_hyphens_nbsp_and_space_runs_into_one_space() -> None:
    """Hyphens, dashes, NBSP, newlines and punctuation runs are all a single space."""
    assert fold("rare-earth") == fold("rare\u00a0earth") == fold("rare \n\t earth") == "rare earth"
    assert fold("rare—earth") == fold("rare – earth") == "rare earth"


def test_fold_removes_invisible_characters_inside_words() -> None:
    """Soft hyphens, zero-width spaces and word joiners do not split words."""
    assert fold("Ut\u00adah Ut\u200bah \u2060two") == "utah utah two"


def test_fold_joins_acronym_dots_and_drops_possessives() -> None:
    """U.S. -> us, D.C. -> dc; China's / China’s -> china; don't -> dont."""
    assert fold("U.S. and U.K.") == "us and uk"
    assert fold("Washington, D.C.") == "washington dc"
    assert fold("China's China’s") == "china china"
    assert fold("don't") == "dont"


def test_fold_keeps_domain_names_and_decimals_apart() -> None:
    """Dots between longer words or digits are separators, not acronym dots."""
    assert fold("google.com 3.5") == "google com 3 5"


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("earths", "earth"),
        ("tariffs", "tariff"),
        ("taxes", "tax"),
        ("chips", "chip"),
        ("cities", "city"),
        ("classes", "class"),
        ("churches", "church"),
        ("cases", "case"),
        ("1990s", "1990"),
    ],
)
def test_plural_stem_folds_regular_english_plurals(plural: str, singular: str) -> None:
    """Regular plurals fold to the singular, and the singular stays put (idempotent)."""
    assert plural_stem(plural) == singular
    assert plural_stem(singular) == singular


@pytest.mark.parametrize("word", ["us", "gas", "bus", "news", "class", "virus", "crisis", "goods"])
def test_plural_stem_leaves_non_plurals_alone(word: str) -> None:
    """Short words, -ss/-us/-is endings and a few listed words are not plurals."""
    assert plural_stem(word) == word


def test_cjk_is_kept_and_split_from_adjacent_latin() -> None:
    """Han text keeps its characters; a Latin word glued to it becomes its own word."""
    assert fold("中国稀土出口") == "中国稀土出口"
    assert fold("稀土exports") == "稀土 export"
    assert is_spaceless_char("稀") and not is_spaceless_char("a")


def test_indic_words_are_not_cut_at_vowel_signs() -> None:
    """Combining marks are word characters, so Devanagari words stay whole."""
    assert fold("हिन्दी समाचार") == "हिन्दी समाचार"


def test_surface_variants_fold_back_to_the_term() -> None:
    """Every spelling the automaton gets folds to the term, and covers both numbers."""
    variants = surface_variants(fold_term("rare earth"))
    assert set(variants) == {"rare earth", "rare earths", "rares earth", "rares earths"}
    assert all(fold(v) == "rare earth" for v in variants)
    assert "taxes" in surface_variants("tax")
    assert "cities" in surface_variants("city")
    assert surface_variants("new") == ("new",)  # "news" is not the plural of "new"


def test_headline_tokens_drop_stopwords() -> None:
    """Headline tokens are folded content words without function words."""
    assert headline_tokens("China, U.S. set for key trade talks in Malaysia this week") == {
        "china",
        "us",
        "set",
        "key",
        "trade",
        "talk",
        "malaysia",
        "week",
    }


# ----------------------------------------------------------------------------- matching rules


def test_plural_folding_works_both_ways() -> None:
    """A singular query matches the plural text and a plural query the singular text."""
    assert matches('"rare earth"', "Rare Earths prices soar")
    assert matches('"rare earths"', "China limits rare earth exports")
    assert matches("tariff", "New tariffs announced")
    assert matches("tariffs", "A tariff on steel")
    assert matches("tax", "Digital taxes")
    assert matches("chips", "A chip ban")


def test_phrase_never_matches_inside_a_longer_word() -> None:
    """Whole words only: "rare earth" does not match "rare earthquake"."""
    assert not matches('"rare earth"', "A rare earthquake hit the coast")
    assert not matches("earth", "Earthquake in Chile")
    assert not matches("tar", "tariffs")


def test_hyphen_and_nbsp_in_text_match_a_spaced_phrase() -> None:
    """Text with rare-earth or rare&nbsp;earth matches the phrase "rare earth"."""
    assert matches('"rare earth"', "China's rare-earth monopoly")
    assert matches('"rare earth"', "rare\u00a0earth magnets")
    assert matches("rare-earth", "rare earth magnets")


def test_phrase_matches_across_html_stripped_whitespace() -> None:
    """Newlines and space runs left by HTML stripping do not break a phrase."""
    content = "The ministry announced an export\n\n   ban on gallium."
    assert matches('"export ban"', "Gallium", content=content)


def test_accents_do_not_matter_on_either_side() -> None:
    """Bessent matches Béssent and the other way round."""
    assert matches("Bessent", "Béssent arrives in Geneva")
    assert matches("Béssent", "Bessent arrives in Geneva")


def test_full_width_latin_matches() -> None:
    """Full-width ＣＨＩＮＡ in the text matches china."""
    assert matches("china", "ＣＨＩＮＡ ＥＸＰＯＲＴＳ")


def test_a_regex_with_accents_or_full_width_letters_reads_folded_text_as_a_word_does() -> None:
    """`/béssent/` and `/ＣＨＩＮＡ/` match what `bessent` and `china` match: the text a
    regex reads is folded, so its letters are too (it matched nothing, without a word)."""
    assert matches("/béssent/", "Bessent arrives in Geneva")
    assert matches("/béssent/", "Béssent arrives in Geneva")
    assert matches("/ＣＨＩＮＡ ｅｘｐｏｒｔｓ?/", "China exports slump")
    assert matches("/straße/", "Strasse closed")
    assert not matches("/béssent/", "Bassent arrives")


def test_us_matches_with_and_without_dots() -> None:
    """U.S. and US are the same word on either side."""
    assert matches("U.S.", "US and China agree")
    assert matches("US", "U.S. and China agree")
    assert matches('"U.S. tariffs"', "US tariffs rise")


def test_cjk_term_matches_inside_unspaced_text() -> None:
    """稀土 matches inside 中国稀土出口管制, which has no spaces around the word."""
    assert matches("稀土", "中国稀土出口管制")
    assert matches("稀土 exports", "中国稀土exports 管制")
    assert not matches("稀土", "中国出口管制")


def test_news_does_not_match_new() -> None:
    """'news' is not folded to 'new'."""
    assert not matches("new", "Breaking news")
    assert not matches("news", "A new deal")


def test_greer_but_not_germaine_greer() -> None:
    """The launch config's `Greer -"Germaine Greer"`."""
    query = 'Greer -"Germaine Greer"'
    assert matches(query, "USTR Jamieson Greer heads to Geneva")
    assert not matches(query, "Germaine Greer's new book")
    assert not matches(query, "Trade talks", summary="A profile of Germaine Greer")


def test_not_keyword_and_minus_are_the_same() -> None:
    """NOT x and -x exclude the same articles."""
    for query in ("china NOT taiwan", "china -taiwan"):
        assert matches(query, "China trade")
        assert not matches(query, "China and Taiwan")


def test_parentheses_group_alternatives() -> None:
    """`(tariff OR tariffs) AND China` needs China plus either word."""
    query = "(tariff OR tariffs) AND China"
    assert matches(query, "China tariffs")
    assert not matches(query, "Canada tariffs")
    assert not matches(query, "China trade")
    chips = '(chip OR chips OR semiconductor) AND "export ban"'
    assert matches(chips, "Semiconductor export bans widen")
    assert matches(chips, "Semiconductor exports ban")  # plurals fold inside phrases
    assert not matches(chips, "Semiconductor exports face a ban")


def test_he_lifeng_phrase() -> None:
    """The phrase "He Lifeng" matches the name, not the words apart."""
    assert matches('"He Lifeng"', "Bessent, He Lifeng meet in Kuala Lumpur")
    assert not matches('"He Lifeng"', "He said Lifeng would attend")


def test_title_field_looks_only_at_the_title() -> None:
    """title:x ignores the summary and content."""
    assert matches('title:"rare earth"', "Rare earth prices")
    assert not matches('title:"rare earth"', "Prices", summary="rare earth")


def test_summary_field_looks_at_summary_and_content_not_title() -> None:
    """summary:x checks the summary and the full text, never the title."""
    assert matches("summary:gallium", "Export ban", summary="gallium and germanium")
    assert matches("summary:gallium", "Export ban", content="gallium and germanium")
    assert not matches("summary:gallium", "Gallium export ban")


def test_source_field_looks_only_at_the_publisher() -> None:
    """source:reuters checks the publisher name; unfielded terms never do."""
    assert matches("tariff source:reuters", "Tariffs rise", source="Reuters")
    assert not matches("tariff source:reuters", "Tariffs rise", source="AP News")
    assert not matches("reuters", "Tariffs rise", source="Reuters")


def test_regex_terms_run_case_insensitively_on_folded_text() -> None:
    """A /regex/ runs under RE2 against folded text (lower-case, punctuation as spaces)."""
    assert matches(r"/tariffs? (on|against) \w+/", "Tariffs on Canada")
    assert matches(r"/tariffs? (on|against) \w+/", "A TARIFF—against Mexico")
    assert not matches(r"/tariffs? (on|against) \w+/", "Tariff talks")
    assert matches(r"china /\bus\b/", "China and U.S. meet")


def test_regex_with_field_and_other_terms() -> None:
    """title:/re/ looks at the title only; a regex combines with ordinary terms."""
    assert matches(r"title:/export (ban|control)s?/ china", "China export controls")
    assert not matches(r"title:/export (ban|control)s?/", "China", summary="export controls")


def test_matched_terms_are_positive_present_terms_in_query_order_without_duplicates() -> None:
    """matched lists present positive terms as written, in query order, each once."""
    query = parse_query('China (tariffs OR tariff OR duties) -Canada China "rare earth"')
    doc = MatchDocument("Rare earths and tariffs", summary="China raises tariffs", source="X")
    assert match_one(query, doc) == ("China", "tariffs", "tariff", "rare earth")


def test_negated_terms_are_never_reported_as_matched() -> None:
    """A NOT term that is absent is not 'matched'."""
    assert match_one(parse_query("Greer -Germaine"), MatchDocument("greer")) == ("Greer",)


def test_explain_lists_present_and_missing_positive_terms() -> None:
    """explain() tells `why` which positive terms the article has and lacks."""
    query = parse_query('(chip OR chips OR semiconductor) AND "export ban" -Canada')
    doc = MatchDocument("Chip export ban", summary="")
    assert explain(query, doc) == (("chip", "chips", "export ban"), ("semiconductor",))


def test_match_one_returns_none_when_the_query_does_not_match() -> None:
    """match_one() is None for a miss."""
    assert match_one(parse_query("tariff"), MatchDocument("Football results")) is None


def test_matcher_returns_matches_sorted_by_watch_id() -> None:
    """match() lists each matching watch once, by watch id."""
    matcher = Matcher.build(
        [
            (30, parse_query("china")),
            (10, parse_query('"trade talks"')),
            (20, parse_query("canada")),
            (5, parse_query(r"/talks? in \w+/")),
        ]
    )
    assert len(matcher) == 4
    assert matcher.match(MatchDocument("China trade talks in Malaysia")) == [
        Match(5, (r"/talks? in \w+/",)),
        Match(10, ("trade talks",)),
        Match(30, ("china",)),
    ]


def test_matcher_with_no_watches_matches_nothing() -> None:
    """An empty matcher is valid and returns no matches."""
    matcher = Matcher.build([])
    assert len(matcher) == 0
    assert matcher.match(MatchDocument("China")) == []


def test_duplicate_watch_ids_are_refused() -> None:
    """Watch ids identify matches, so they must be unique."""
    with pytest.raises(ValueError, match="duplicate"):
        Matcher.build([(1, parse_query("a")), (1, parse_query("b"))])


# ----------------------------------------------------------------------------- many == one


VOCABULARY = [
    "china",
    "China's",
    "tariff",
    "tariffs",
    "taxes",
    "tax",
    "rare",
    "earth",
    "earths",
    "earthquake",
    "U.S.",
    "US",
    "Béssent",
    "bessent",
    "greer",
    "germaine",
    "export",
    "ban",
    "bans",
    "chip",
    "chips",
    "news",
    "new",
    "city",
    "cities",
    "稀土",
    "出口",
    "ＣＨＩＮＡ",
    "class",
    "classes",
    "he",
    "lifeng",
]
SEPARATORS = [" ", " ", " ", "-", "\u00a0", ", ", ". ", "\n", ""]


def random_text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        parts.append(rng.choice(VOCABULARY))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


def random_term(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        text = rng.choice(VOCABULARY)
    elif roll < 0.9:
        text = '"' + " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(2, 3))) + '"'
    else:
        text = rng.choice([r"/tariffs? on/", r"/\bchips?\b/", r"/rare \w+/", r"/news/"])
    if rng.random() < 0.15:
        text = rng.choice(["title:", "summary:", "source:"]) + text
    return text


def random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.4:
        return random_term(rng)
    if roll < 0.55:
        return f"{random_term(rng)} -{random_term(rng)}"
    operator = rng.choice([" AND ", " OR ", " "])
    children = [random_query(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    return "(" + operator.join(children) + ")"


@functools.cache
def cached_fold(text: str) -> str:
    return fold(text)


@functools.cache
def cached_surface_fold(text: str) -> str:
    return surface_fold(text)


@functools.cache
def cached_regex(pattern: str) -> Any:
    return compile_regex(pattern)


def reference_present(term: Term, doc: MatchDocument) -> bool:
    """The slow, obvious definition: search the fold() of each field for the folded term."""
    fields = {
        None: (doc.title, doc.summary, doc.content),
        "title": (doc.title,),
        "summary": (doc.summary, doc.content),
        "source": (doc.source,),
    }[term.field]
    for text in fields:
        if term.is_regex:
            if cached_regex(term.folded).search(cached_surface_fold(text)) is not None:
                return True
            continue
        left = "" if is_spaceless_char(term.folded[0]) else "(?<![^ ])"
        right = "" if is_spaceless_char(term.folded[-1]) else "(?![^ ])"
        if re.search(left + re.escape(term.folded) + right, cached_fold(text)):
            return True
    return False


def reference_match(query: Query, doc: MatchDocument) -> tuple[str, ...] | None:
    if not evaluate(query, lambda term: reference_present(term, doc)):
        return None
    matched: list[str] = []
    for term in query.positive_terms:
        if term.text not in matched and reference_present(term, doc):
            matched.append(term.text)
    return tuple(matched)


def assert_as_reference(matcher: Matcher, queries: list[Query], doc: MatchDocument) -> int:
    """The matcher's answer for ``doc`` is the reference's, watch by watch (ids are the
    queries' indexes); returns how many watches matched."""
    expected = []
    for watch_id, query in enumerate(queries):
        matched = reference_match(query, doc)
        if matched is not None:
            expected.append(Match(watch_id, matched))
    assert matcher.match(doc) == expected, doc
    return len(expected)


def test_many_watches_give_the_same_answers_as_one_by_one_reference() -> None:
    """One Matcher over ~300 random watches equals a slow per-watch reference on every doc."""
    rng = random.Random(7)
    queries: list[Query] = []
    while len(queries) < 300:
        try:
            queries.append(parse_query(random_query(rng)))
        except Exception:  # random queries of only negations are refused; skip those
            continue
    matcher = Matcher.build(enumerate(queries))
    docs = [
        MatchDocument(
            title=random_text(rng, rng.randint(2, 8)),
            summary=random_text(rng, rng.randint(0, 20)),
            content=random_text(rng, rng.randint(0, 10)) if rng.random() < 0.3 else "",
            source=rng.choice(["Reuters", "News Online", "China Daily", "US News", ""]),
        )
        for _ in range(150)
    ]
    total = 0
    for doc in docs:
        total += assert_as_reference(matcher, queries, doc)
    assert total > 500  # the random data exercises matches, not just misses


# ----------------------------------------------------------------------------- fast paths


def test_one_term_watches_share_a_prebuilt_match_and_still_sort_with_others() -> None:
    """A one-term watch's Match is built once; it still comes out in watch-id order."""
    matcher = Matcher.build(
        [
            (3, parse_query("china")),
            (1, parse_query("china OR canada")),
            (2, parse_query("china AND trade")),
            (0, parse_query("title:china")),
        ]
    )
    doc = MatchDocument("China trade talks")
    first, second = matcher.match(doc), matcher.match(doc)
    assert (
        first
        == second
        == [
            Match(0, ("china",)),
            Match(1, ("china",)),
            Match(2, ("china", "trade")),
            Match(3, ("china",)),
        ]
    )
    assert first[3] is second[3]  # the same immutable object, not rebuilt per article


def test_source_terms_are_not_used_as_anchors_when_a_text_term_exists() -> None:
    """`tariff source:reuters` is looked at only for articles holding "tariff"."""
    matcher = Matcher.build([(1, parse_query("tariff source:reuters"))])
    assert not matcher._by_source and matcher._by_term
    assert matcher.match(MatchDocument("Tariffs rise", source="Reuters")) == [
        Match(1, ("tariff", "reuters"))
    ]
    assert matcher.match(MatchDocument("Football", source="Reuters")) == []


def test_a_source_only_watch_is_still_found() -> None:
    """A watch of only a source: term has nothing else to anchor on, and still matches."""
    matcher = Matcher.build([(1, parse_query("source:reuters")), (2, parse_query("source:ap"))])
    assert matcher.match(MatchDocument("Anything", source="Reuters")) == [Match(1, ("reuters",))]


def test_fields_are_told_apart_in_the_single_pass() -> None:
    """One automaton pass covers all fields; title: and summary: still see only theirs."""
    matcher = Matcher.build(
        [
            (1, parse_query("title:gallium")),
            (2, parse_query("summary:gallium")),
            (3, parse_query('title:"export ban"')),
            (4, parse_query('summary:"ban gallium"')),
        ]
    )
    # The title's last word and the summary's first are adjacent in the joined text.
    doc = MatchDocument("China export ban", summary="Gallium prices", content="ban gallium")
    assert [m.watch_id for m in matcher.match(doc)] == [2, 3, 4]
    assert [m.watch_id for m in matcher.match(MatchDocument("", summary="gallium"))] == [2]
    assert [m.watch_id for m in matcher.match(MatchDocument("gallium"))] == [1]


def test_fields_are_told_apart_when_the_text_holds_newlines_or_nuls() -> None:
    """Fields are joined for one pass; a newline or NUL inside a field is just a separator
    of words there, never the edge of a field."""
    matcher = Matcher.build(
        [(1, parse_query("title:gallium")), (2, parse_query('summary:"export ban"'))]
    )
    doc = MatchDocument("China\nexport\x00ban", summary="more on\ngallium")
    assert matcher.match(doc) == []
    doc = MatchDocument("Gallium\n\nprices", summary="an export\x00ban\nlooms")
    assert [m.watch_id for m in matcher.match(doc)] == [1, 2]


def test_fields_are_told_apart_after_multibyte_titles() -> None:
    """The automaton's offsets count UTF-8 bytes: a title of accented or CJK letters (more
    bytes than characters) still ends where its last hit does."""
    matcher = Matcher.build(
        [(1, parse_query("title:gallium")), (2, parse_query("summary:gallium"))]
    )
    for title in ("Éléphants défendent gallium", "稀土和 gallium", "😀😀😀 gallium"):
        assert [m.watch_id for m in matcher.match(MatchDocument(title, "other"))] == [1]
        assert [m.watch_id for m in matcher.match(MatchDocument(title[:-8], "gallium"))] == [2]


def test_double_negation_is_anchored_on_the_inner_term() -> None:
    """`NOT -x AND y` holds like `x AND y` and is only looked at when x or y is present."""
    matcher = Matcher.build([(1, parse_query("NOT -tariff AND china"))])
    assert not matcher._always
    assert matcher.match(MatchDocument("China tariffs")) == [Match(1, ("tariff", "china"))]
    assert matcher.match(MatchDocument("China trade")) == []


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"tariffs? on", "tariff"),
        (r"\bchips?\b", "chip"),
        (r"Rare \w+", "rare"),
        (r"abcd\w* (on|in) \w+", "abcd"),
        (r"(?i)Export Ban", "export ban"),
        (r"foo(bar)?baz", "foo"),
        (r"xyz+abc", "xyz"),
        (r"abcd*", "abc"),
        (r"cab(?i)?", None),  # the "?" after a flag group applies to the "b"
        (r"x[[:alpha:]abc]yyy", "yyy"),
        (r"\pLabc", "abc"),
        (r"\x41bcd", "bcd"),
        (r"\QABC\Ezzz", "zzz"),
        (r"abc{,3}", "abc"),  # RE2 reads "{,3}" as plain text
        (r"a|bcdef", None),
        (r"ab{2}cd", None),
        (r"\w+", None),
        (r"(abc)", None),
    ],
)
def test_required_literal_of_a_regex(pattern: str, literal: str | None) -> None:
    """The literal every match contains, lower-cased, or None when none is certain."""
    assert required_literal(pattern) == literal


def test_required_literal_is_in_every_match_of_random_regexes() -> None:
    """Property: whenever RE2 finds a random regex in a folded text, its literal is there."""
    rng = random.Random(11)
    atoms = ["a", "b", "c", "ab", "abc", "ab c", "Bca", " ", ".", r"\w", r"\d", r"\b", "[a-c]"]
    atoms += ["[^b]", "abc abc", "cab", "(?i)", "(?-i)", "^", "$", r"\x61", r"\x{62}", r"\pL"]
    atoms += ["[[:alpha:]]", "[]a]", "{", "}", r"\Qab\E", r"\ ", r"\.", r"\141", "(?P<n>a)", "()"]
    suffixes = ["", "", "", "?", "*", "+", "{0,2}", "{2}", "{,2}", "??", "+?", "{1,}"]

    def pattern(depth: int = 0) -> str:
        parts = []
        for _ in range(rng.randint(1, 5)):
            if depth < 2 and rng.random() < 0.2:
                inner = "|".join(pattern(depth + 1) for _ in range(rng.randint(1, 2)))
                parts.append(rng.choice(["(", "(?:", "(?i:"]) + inner + ")" + rng.choice(suffixes))
            else:
                parts.append(rng.choice(atoms) + rng.choice(suffixes))
        if rng.random() < 0.1:
            parts.append("|" + rng.choice(atoms))
        return "".join(parts)

    words = ["a", "ab", "abc", "bca", "cab", "c", "1", "abcabc", "b1c"]
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 8))) for _ in range(60)]
    checked = 0
    for _ in range(1500):
        text_pattern = pattern()
        try:
            regex = compile_regex(text_pattern)
        except Exception:  # the grammar makes some invalid patterns; RE2 refuses them
            continue
        literal = required_literal(text_pattern)
        if literal is None:
            continue
        for text in texts:
            if regex.search(text) is not None:
                assert literal in text, (text_pattern, literal, text)
                checked += 1
    assert checked > 200, checked


REGEXES = [
    r"/tariffs? on/",
    r"/\bchips?\b/",
    r"/rare \w+/",
    r"/news/",
    r"/^china/",
    r"/earths?$/",
    r"/\w+ ban/",
    r"/(export|tax)e?s?/",
    r"/c.ty/",
]


def random_regex_query(rng: random.Random) -> str:
    regex = rng.choice(REGEXES)
    if rng.random() < 0.25:
        regex = rng.choice(["title:", "summary:", "source:"]) + regex
    roll = rng.random()
    if roll < 0.3:
        return regex
    if roll < 0.6:
        return f"{random_term(rng)} {regex}"
    if roll < 0.8:
        return f"({regex} OR {random_term(rng)}) -{random_term(rng)}"
    return f"{random_query(rng)} OR {regex}"


@pytest.mark.parametrize("anchored", [False, True])
def test_regex_heavy_watches_give_the_same_answers_as_the_reference(anchored: bool) -> None:
    """Regex-only, fielded and combined regex watches equal the reference, both with the
    joined-fields RE2 prefilter (no ^/$ anywhere) and without it."""
    rng = random.Random(23 + anchored)
    queries: list[Query] = []
    while len(queries) < 200:
        text = random_regex_query(rng)
        if not anchored and ("^" in text or "$" in text):
            continue
        try:
            queries.append(parse_query(text))
        except Exception:  # random queries of only negations are refused; skip those
            continue
    matcher = Matcher.build(enumerate(queries))
    assert matcher._regex_joinable is not anchored
    assert matcher._by_regex  # some watches are anchored on their regex
    sources = ["Reuters", "News Online", "China Daily", "Rare earth news", ""]
    total = 0
    for _ in range(150):
        doc = MatchDocument(
            title=random_text(rng, rng.randint(0, 8)),
            summary=random_text(rng, rng.randint(0, 20)),
            content=random_text(rng, rng.randint(0, 10)) if rng.random() < 0.3 else "",
            source=rng.choice(sources),
        )
        total += assert_as_reference(matcher, queries, doc)
    assert total > 300


def test_many_regex_questions_about_one_article_switch_to_set_passes_with_same_answers() -> None:
    """The first regexes are searched one by one, later ones through RE2::Set passes;
    both give the same answers, per field."""
    patterns = [r"tariffs? on", r"\bchips?\b", r"rare \w+", "news", "export", r"c.ty", "zzz"]
    watches = [(i, parse_query(f"/{p}/")) for i, p in enumerate(patterns)]
    watches += [(10 + i, parse_query(f"title:/{p}/")) for i, p in enumerate(patterns)]
    matcher = Matcher.build(watches)
    doc = MatchDocument("Tariffs on chips", summary="Rare earth export news from the city")
    assert [m.watch_id for m in matcher.match(doc)] == [0, 1, 2, 3, 4, 5, 10, 11]
    alone = [Matcher.build([watch]).match(doc) for watch in watches]
    assert matcher.match(doc) == [match for result in alone for match in result]


@pytest.mark.parametrize("regex_count", [3, 10, 40])
def test_regex_only_watches_answer_like_the_reference_with_few_or_many_literals(
    regex_count: int,
) -> None:
    """Regex-only watches are candidates when their regex's required literal is in the
    article: the first few literals are automaton keys, the next are looked for with
    substring tests, more than a few with one RE2::Set pass of the literals. All three,
    in any field, alone or beside plain words, give the reference's answers."""
    rng = random.Random(41 + regex_count)
    stems = ["tariff", "export", "china", "chip", "rare", "earth", "news", "city", "class"]
    stems += [f"{rng.choice(stems)}{suffix}" for suffix in ("ab", "zz", "on", "er") * 12]
    stems = list(dict.fromkeys(stems))[:regex_count]
    queries: list[Query] = []
    for stem in stems:
        field = rng.choice(["", "", "title:", "summary:", "source:"])
        regex = rng.choice([f"/{stem}\\w*/", f"/{stem}s? (on|in)/", f"/(a|the) {stem}/"])
        queries.append(parse_query(f"{field}{regex}"))
        queries.append(parse_query(f"{random_term(rng)} {regex}"))
    matcher = Matcher.build(enumerate(queries))
    keyed = min(regex_count, _MAX_KEY_LITERALS)
    assert len(matcher._compiler._literal_ids) == keyed
    assert (matcher._anchor_literal_set is not None) is (regex_count - keyed > _FEW_LITERALS)
    # As many stem words in the mix whether there are 3 stems or 40.
    stem_words = [word for stem in stems for word in (stem, stem + "s")] * (40 // regex_count)
    words = [*VOCABULARY, "on", "in", "the", "a", *stem_words]
    sources = ["Reuters", "China Daily", "Tariff news", "Chipzz on"]
    total = 0
    for _ in range(120):
        doc = MatchDocument(
            title=" ".join(rng.choices(words, k=rng.randint(0, 6))),
            summary=" ".join(rng.choices(words, k=rng.randint(0, 20))),
            content=" ".join(rng.choices(words, k=rng.randint(0, 8))) if rng.random() < 0.3 else "",
            source=rng.choice(sources),
        )
        total += assert_as_reference(matcher, queries, doc)
    assert total > len(queries)  # the random data exercises matches, not just misses
