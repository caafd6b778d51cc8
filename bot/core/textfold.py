"""Text folding: the one normal form that watch terms and article text are compared in.

Folding makes matching case-, accent- and width-insensitive and blind to punctuation:

1. NFKC (full-width ``ＣＨＩＮＡ`` -> ``CHINA``, ligatures, NBSP -> space); invisible format
   characters (soft hyphen, zero-width space/joiners, word joiner, BOM) are deleted.
2. casefold, then combining accents are stripped (``Béssent`` -> ``bessent``,
   ``ß`` -> ``ss``). Japanese voicing marks and Hangul are kept (NFC recomposes them).
3. Apostrophes: a trailing ``'s`` goes (``China's`` -> ``china``), other apostrophes join
   (``don't`` -> ``dont``). Dots inside single-letter acronyms go: ``U.S.`` -> ``us``,
   ``D.C.`` -> ``dc``.
4. Every run of characters that is not a letter, digit or combining mark (spaces, NBSP,
   hyphens, dashes, punctuation, underscores) becomes ONE space, so ``rare-earth``,
   ``rare  earth`` and ``rare, earth`` all read ``rare earth``. Scripts written without
   spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) are split from adjacent Latin
   words (``稀土exports`` -> ``稀土 exports``) but never split inside.
5. :func:`fold` and :func:`fold_term` then fold English plurals per token (:func:`plural_stem`).

Steps 1-4 are :func:`surface_fold`. The matcher runs its Aho-Corasick pass over the
surface form and puts every plural spelling of a term into its automaton instead
(:func:`surface_variants`), which gives exactly the same answers as comparing
:func:`fold` outputs while costing no per-token work on the article side.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from functools import lru_cache

__all__ = [
    "MAX_TERM_VARIANTS",
    "content_words",
    "fold",
    "fold_term",
    "has_spaceless",
    "headline_tokens",
    "is_spaceless_char",
    "plural_stem",
    "surface_fold",
    "surface_fold_fields",
    "surface_variants",
]

# Scripts that do not separate words with spaces: a term in them matches anywhere.
_SPACELESS_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi
    "\u3005-\u3007"  # 々 〆 〇
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u31ff"  # Bopomofo, Hangul compatibility jamo, Katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul jamo extended
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width katakana (NFKC widens these, kept for safety)
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_SPACELESS = re.compile(f"[{_SPACELESS_RANGES}]")


def _word_char_ranges() -> str:
    """Character-class ranges of every letter, digit and combining mark below U+40000.

    Marks are word characters here: Indic vowel signs and viramas sit inside words, and
    treating them as separators would cut ``हिन्दी`` into pieces. Spelling the class out as
    plain ranges (rather than ``\\w`` plus marks) lets ``re`` test it with a bitmap.
    """
    ranges: list[str] = []
    start = prev = -2
    for cp in range(0x40000):
        char = chr(cp)
        if char.isalnum() or unicodedata.category(char)[0] == "M":
            if cp != prev + 1:
                if start >= 0:
                    ranges.append(_range(start, prev))
                start = cp
            prev = cp
    ranges.append(_range(start, prev))
    return "".join(ranges)


def _range(first: int, last: int) -> str:
    if first == last:
        return re.escape(chr(first))
    return f"{re.escape(chr(first))}-{re.escape(chr(last))}"


# Folding of the ASCII fast path: A-Z lower-cased, letters and digits kept, rest a space.
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122) else 32 for c in range(256)
)
# The same, for fields joined by _FIELD_JOINT: its NUL becomes the newline between fields
# (text holding a NUL of its own is folded field by field instead).
_FIELD_JOINT = " \x00 "
_JOINED_TABLE = b"\n" + _ASCII_TABLE[1:]
_SPACE_RUNS = re.compile(b"  +")
# The non-ASCII characters common in English news text, mapped to what the full Unicode
# path would make of them, so such text still takes the ASCII fast path.
_COMMON_NON_ASCII = (
    ("\u2019", "'"),  # right single quote, the usual apostrophe
    ("\u2018", "'"),
    ("\u201c", " "),
    ("\u201d", " "),
    ("\u2014", " "),
    ("\u2013", " "),
    ("\u00a0", " "),
    ("\u2026", " "),
    ("\u00ad", ""),  # soft hyphen
    ("\u200b", ""),
)
_NON_WORD = re.compile(f"[^{_word_char_ranges()}]+")
_POSSESSIVE = re.compile(r"['\u02bc][sS]\b")
# The same for ASCII text: starting with a plain character lets re skip to each "'".
_POSSESSIVE_ASCII = re.compile(r"'[sS]\b")
_APOSTROPHES = re.compile("['\u02bc]")
# Deleted outright: they are invisible and sit inside words (soft hyphen, ZWSP, ZWJ...).
_FORMAT_CHARS = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Accents over Latin, Greek and Cyrillic letters; other scripts' marks carry meaning.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Only text holding one of these can have an accent to strip; the rest skips NFD/NFC.
_ACCENTABLE = re.compile("[\u00c0-\u04ff\u1e00-\u1fff\u0300-\u036f]")
# A dot between single letters (u.s, u.s.a) or closing such a run (u.s.) is deleted.
_ACRONYM_DOT = re.compile(r"\.(?:(?<=(?<!\w)[^\W\d_]\.)(?=[^\W\d_](?!\w))|(?<=\.[^\W\d_]\.)(?!\w))")
_SPACELESS_EDGE = re.compile(
    f"(?<=[{_SPACELESS_RANGES}])(?=[^\\W{_SPACELESS_RANGES}])"
    f"|(?<=[^\\W{_SPACELESS_RANGES}])(?=[{_SPACELESS_RANGES}])"
)

# Words ending in "s" that are not plurals of a different word a watch might mean.
_NOT_PLURAL = frozenset(
    {
        "always",
        "arms",
        "athletics",
        "customs",
        "diabetes",
        "economics",
        "goods",
        "lens",
        "mathematics",
        "means",
        "measles",
        "news",
        "perhaps",
        "physics",
        "series",
        "species",
        "whereas",
    }
)
# Past this many spellings a phrase is refused rather than silently matched loosely.
MAX_TERM_VARIANTS = 4096


def is_spaceless_char(char: str) -> bool:
    """True for a character of a script written without spaces (Han, kana, Hangul, Thai...)."""
    return _SPACELESS.match(char) is not None


def has_spaceless(text: str) -> bool:
    """True when ``text`` holds a character of a script written without spaces."""
    return not text.isascii() and _SPACELESS.search(text) is not None


def surface_fold(text: str) -> str:
    """Fold ``text`` for matching without touching plurals (steps 1-4 of the module doc).

    The result is lower-case words separated by single spaces, no leading/trailing space.
    """
    if not text:
        return ""
    ascii_text = _as_ascii(text)
    if ascii_text is None:
        return _fold_unicode(text)
    return _fold_ascii(ascii_text, _ASCII_TABLE).strip().decode("ascii")


def surface_fold_fields(*fields: str) -> bytes:
    """The fields surface-folded and joined for one matcher pass, in UTF-8:
    ``b" title \\n summary "``. Each field is padded by a space either side, and a newline
    stands only between fields (a newline inside a field folds to a space like any other).

    Text that is ASCII (or becomes so with the common replacements) is folded in one pass
    over all fields, which costs ~30 % less than folding them one by one; the rest is
    folded field by field. Either way, splitting the result on newlines and stripping each
    part gives exactly :func:`surface_fold` of each field.
    """
    text = _as_ascii(f" {_FIELD_JOINT.join(fields)} ")
    if text is not None and text.count("\x00") == len(fields) - 1:
        return _fold_ascii(text, _JOINED_TABLE)
    folded = " \n ".join(map(surface_fold, fields))
    return f" {folded} ".encode()


def _as_ascii(text: str) -> str | None:
    """``text`` itself when ASCII; else with the common non-ASCII characters replaced, when
    that leaves ASCII; else None (the full Unicode path must fold it)."""
    if text.isascii():
        return text
    # isascii() is a flag test, so stopping as soon as the text is ASCII is free.
    for char, replacement in _COMMON_NON_ASCII:
        if char in text:
            text = text.replace(char, replacement)
            if text.isascii():
                return text
    return None


def _fold_ascii(text: str, table: bytes) -> bytes:
    # bytes.translate does case and punctuation in one C pass: ~10x faster than a regex
    # substitution over the same 600 characters. Apostrophes are removed beforehand, and
    # only when there are some: translate with characters to delete takes a slower loop.
    apostrophe = "'" in text
    if apostrophe:
        text = _POSSESSIVE_ASCII.sub("", text)
    if "." in text:
        text = _ACRONYM_DOT.sub("", text)
    if apostrophe:  # after the acronym rule, which reads "'" as a word boundary
        text = text.replace("'", "")
    folded = text.encode("ascii").translate(table)
    # Nearly every text has a double space (". " folds to two). One regex pass collapses
    # every run: a replace of "  " plus a test for longer runs scans the text twice
    # (~2.9 µs against ~2.1 µs over 600 characters, where spaces are too common for the
    # substring search to skip ahead).
    return _SPACE_RUNS.sub(b" ", folded)


def _fold_unicode(text: str) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    folded = _FORMAT_CHARS.sub("", text).casefold()
    if _ACCENTABLE.search(folded) is not None:
        folded = unicodedata.normalize(
            "NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", folded))
        )
    if "'" in folded or "\u02bc" in folded:
        folded = _APOSTROPHES.sub("", _POSSESSIVE.sub("", folded))
    if "." in folded:
        folded = _ACRONYM_DOT.sub("", folded)
    if _SPACELESS.search(folded) is not None:
        folded = _SPACELESS_EDGE.sub(" ", folded)
    return _NON_WORD.sub(" ", folded).strip()


def fold_pattern_letters(pattern: str) -> str:
    """A ``/regex/`` pattern's non-ASCII letters and digits folded as the text it reads is
    (accents off, width and case folded), so ``/béssent/`` finds what ``bessent`` does
    and ``/ＣＨＩＮＡ/`` what ``china`` does. Other characters stay: folding a full-width
    ``（`` would make it a group."""
    if pattern.isascii():
        return pattern
    pattern = unicodedata.normalize("NFC", pattern)
    return "".join(
        (_fold_unicode(char) or char) if char.isalnum() and not char.isascii() else char
        for char in pattern
    )


def plural_stem(token: str) -> str:
    """Fold one surface token's English plural to its singular; idempotent.

    Rules, in order (tokens are already lower-case):
    ``news``, ``goods``, ``customs``... (a short list) stay; ``-ies`` -> ``-y`` when at least
    two letters precede (``cities`` -> ``city``, but ``ties`` stays); ``-ches``, ``-shes``,
    ``-sses``, ``-xes`` lose ``es`` (``taxes`` -> ``tax``, ``classes`` -> ``class``); any
    other token of four or more characters loses a final ``s`` unless it ends in ``ss``,
    ``us`` or ``is`` (``earths`` -> ``earth``, ``chips`` -> ``chip``, but ``class``,
    ``virus``, ``crisis`` stay, and ``us``/``gas``/``bus`` are too short to touch).
    Known misses, accepted for speed and predictability: irregular plurals (men, mice),
    ``movies`` (-> ``movy``, so it does not meet ``movie``), ``headaches`` (-> ``headach``).
    """
    if len(token) < 4 or token[-1] != "s" or token in _NOT_PLURAL:
        return token
    if len(token) > 4:
        if token.endswith("ies"):
            return token[:-3] + "y"
        if token.endswith(("ches", "shes", "sses", "xes")):
            return token[:-2]
    if token[-2] in "siu":
        return token
    return token[:-1]


@lru_cache(maxsize=65536)
def _stem_token(token: str) -> str:
    return token if _SPACELESS.search(token) else plural_stem(token)


def fold(text: str) -> str:
    """Normalised text for matching: :func:`surface_fold` plus plural folding per token."""
    surface = surface_fold(text)
    if not surface:
        return ""
    return " ".join(map(_stem_token, surface.split(" ")))


@lru_cache(maxsize=65536)
def fold_term(term: str) -> str:
    """The fold of a query word or phrase; identical to :func:`fold` so both sides meet."""
    return fold(term)


@lru_cache(maxsize=65536)
def _token_spellings(stem: str) -> tuple[str, ...]:
    """Every surface token whose plural stem is ``stem`` (the stem itself when it is one)."""
    if _SPACELESS.search(stem):
        return (stem,)
    candidates = [stem, stem + "s", stem + "es"]
    if stem.endswith("y"):
        candidates.append(stem[:-1] + "ies")
    return tuple(c for c in candidates if plural_stem(c) == stem)


@lru_cache(maxsize=65536)
def variant_count(folded: str) -> int:
    """How many surface spellings :func:`surface_variants` would produce for ``folded``."""
    count = 1
    for token in folded.split(" "):
        count *= len(_token_spellings(token))
        if count > sys.maxsize // 8:
            break
    return count


def surface_variants(folded: str) -> tuple[str, ...]:
    """Every surface-folded spelling whose :func:`fold` is ``folded`` (a folded term).

    ``rare earth`` -> ``rare earth``, ``rares earth``, ``rare earths``, ``rares earths``.
    A surface string S folds to ``folded`` exactly when S is in this tuple, so searching
    the surface text for these equals searching the folded text for ``folded``.
    """
    per_token = [_token_spellings(token) for token in folded.split(" ")]
    return tuple(" ".join(combo) for combo in itertools.product(*per_token))


# Headline words that say nothing about which story it is (folded forms).
_STOPWORDS = frozenset(
    fold(
        "a an the and or but nor of in on at to for from by with as into onto over under "
        "after before about amid among against between during without within via vs per "
        "this that these those it its he she they them their his her him we our you your i "
        "is are was were be been being has have had do does did will would can could may "
        "might must should shall not no yes so if than then there here what how why who whom "
        "when where which while just also still more most less very up down out off all any "
        "some each other such only own same too now new says said say told tells report "
        "reports reported according amp again"
    ).split(" ")
)


def headline_tokens(title: str) -> frozenset[str]:
    """Folded content words of a headline, stopwords removed (input to story clustering)."""
    folded = fold(title)
    if not folded:
        return frozenset()
    return frozenset(token for token in folded.split(" ") if token not in _STOPWORDS)


def content_words(text: str) -> list[str]:
    """Folded words of ``text`` in order, stopwords removed (input to story features)."""
    folded = fold(text)
    if not folded:
        return []
    return [token for token in folded.split(" ") if token not in _STOPWORDS]
