"""Typed command text -> (command, arguments), driven by the catalogue.

Used by surfaces where a command is one line of text (Slack's ``/wirewatch …``). Rules:
the command is the longest catalogue name (or alias) the text starts with; ``--name VALUE``
options may appear anywhere, and so may a FLAG written ``--share``; positional parameters
follow the catalogue's order; a TEXT parameter takes the rest as typed (a query keeps its
quotes), except the INT and FLAG parameters declared after it, which are taken from its
ends (``latest lithium 10 share``, ``watch add google-news tariffs``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from bot.core.commands.catalogue import CATALOGUE, CommandSpec, Kind, Param, lookup
from bot.core.errors import WirewatchError


class CommandTextError(WirewatchError):
    """Text that names no command, or a command with arguments that do not fit."""


class UnknownCommandError(CommandTextError):
    def __init__(self, word: str) -> None:
        self.word = word
        super().__init__(f"unknown command {word!r}")


class UsageError(CommandTextError):
    def __init__(self, spec: CommandSpec, problem: str) -> None:
        self.spec = spec
        self.problem = problem
        super().__init__(problem)


@dataclass(frozen=True, slots=True)
class ParsedText:
    spec: CommandSpec
    args: dict[str, object]


_OPTION = re.compile(r"(?:^|\s)--([a-z][a-z-]*)(?:\s*=\s*|\s+)(\"[^\"]*\"|“[^”]*”|'[^']*'|\S+)")
_BARE_OPTION = re.compile(r"(?:^|\s)--([a-z][a-z-]*)(?=\s|$)")
_SUBTEAM = re.compile(r"^<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>$")
_MAX_WORDS_IN_NAME = 2


def _names() -> list[tuple[str, CommandSpec]]:
    pairs = [(spec.name, spec) for spec in CATALOGUE]
    pairs += [(alias, spec) for spec in CATALOGUE for alias in spec.aliases]
    return sorted(pairs, key=lambda p: -len(p[0].split()))


def parse_text(text: str) -> ParsedText:
    """Parse one command line. Raises ``UnknownCommandError`` or ``UsageError``."""
    text = text.strip()
    if not text:
        spec = lookup("help")
        assert spec is not None
        return ParsedText(spec, {})
    words = text.split(None, _MAX_WORDS_IN_NAME)
    lowered = [w.lower() for w in words]
    for name, spec in _names():
        size = len(name.split())
        if size <= len(lowered) and " ".join(lowered[:size]) == name:
            if size == 1 and len(lowered) > 1 and any(s.group == name for s in CATALOGUE):
                # "watch frob": a group's name alone lists it, but this asked for more.
                raise UnknownCommandError(f"{lowered[0]} {lowered[1]}")
            rest = text.split(None, size)[size] if len(words) > size else ""
            return ParsedText(spec, parse_args(spec, rest))
    if len(lowered) >= 2 and any(s.group == lowered[0] for s in CATALOGUE):
        raise UnknownCommandError(f"{lowered[0]} {lowered[1]}")
    raise UnknownCommandError(lowered[0])


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] + value[-1] in ('""', "''", "“”"):
        return value[1:-1]
    return value


def parse_args(spec: CommandSpec, rest: str) -> dict[str, object]:
    """The arguments of ``spec`` from the text after its name."""
    args: dict[str, object] = {}
    options = {p.name: p for p in spec.params if p.option}

    def take_option(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in options:
            known = ", ".join(f"--{n}" for n in options) or "none"
            raise UsageError(spec, f"unknown option --{name} (options here: {known})")
        args[name] = _convert(spec, options[name], _unquote(match.group(2)))
        return " "

    for flag in (p for p in spec.params if p.kind is Kind.FLAG and not p.option):
        # Typed like the options around it (``--name x --google-news``): otherwise it
        # would be taken for an option without its value.
        dashed = re.compile(rf"(?:^|\s)--{re.escape(flag.name)}(?=\s|$)", re.IGNORECASE)
        rest, found = dashed.subn(" ", rest)
        if found:
            args[flag.name] = True
    rest = _OPTION.sub(take_option, rest)
    bare = _BARE_OPTION.search(rest)
    if bare:
        raise UsageError(spec, f"--{bare.group(1)} needs a value")
    # A typed line carries no files: a FILE parameter is filled only by an attachment.
    positional = [p for p in spec.params if not p.option and p.kind is not Kind.FILE]
    for i, param in enumerate(positional):
        rest = rest.strip()
        if param.kind in (Kind.TEXT, Kind.STORY):
            trailing = positional[i + 1 :]
            rest = _take_trailing(spec, trailing, rest, args)
            if rest:
                args[param.name] = _convert(spec, param, rest)
            rest = ""
            break
        later = positional[i + 1 :]
        if param.kind is Kind.WATCH and all(p.kind in (Kind.INT, Kind.FLAG) for p in later):
            # The last word-like argument takes the rest: a watch's name may have spaces
            # ("trend rare earth 30", "watch remove He Lifeng"; the launch pack's do).
            if len(rest.split()) > 1:
                rest = _take_trailing(spec, later, rest, args, quote_hint=False)
            if rest:
                args[param.name] = _convert(spec, param, _unquote(rest.strip()))
            rest = ""
            break
        if param.kind is Kind.WATCHES:
            try:
                parts = shlex.split(rest)
            except ValueError:
                parts = rest.split()
            refs = [p.strip(",") for p in parts if p.strip(",")]
            args[param.name] = tuple(refs)
            rest = ""
            continue
        if param.kind is Kind.FLAG:
            head, _, tail = rest.partition(" ")
            if head.lower() == param.name:
                args[param.name] = True
                rest = tail
            continue
        if not rest:
            continue
        token, rest = _first_token(rest)
        args[param.name] = _convert(spec, param, token)
    if rest.strip():
        raise UsageError(spec, f"unexpected {rest.strip()!r}")
    for param in spec.params:
        if param.name not in args:
            if param.required:
                raise UsageError(spec, f"{param.name.upper()} is missing")
            if param.default is not None:
                args[param.name] = param.default
    return args


def _first_token(text: str) -> tuple[str, str]:
    if text[:1] in ('"', "“", "'"):
        closing = {'"': '"', "“": "”", "'": "'"}[text[0]]
        end = text.find(closing, 1)
        if end != -1:
            return text[1:end], text[end + 1 :]
    head, _, tail = text.partition(" ")
    return head, tail


def _take_trailing(
    spec: CommandSpec,
    trailing: list[Param],
    text: str,
    args: dict[str, object],
    *,
    quote_hint: bool = True,
) -> str:
    """INT and FLAG parameters declared after a TEXT one come off its ends."""
    words = text.split()
    changed = True
    while words and changed:
        changed = False
        for param in trailing:
            if param.kind is Kind.FLAG and param.name not in args:
                for index in (0, -1):
                    if words and words[index].lower() in (param.name, f"--{param.name}"):
                        args[param.name] = True
                        words.pop(index)
                        changed = True
                        break
            elif (
                param.kind is Kind.INT
                and param.name not in args
                and words
                and re.fullmatch(r"\d{1,6}", words[-1])
            ):
                number = words.pop()
                try:
                    args[param.name] = _convert(spec, param, number)
                except UsageError as e:
                    if not words or not quote_hint:
                        raise
                    # "latest covid 19": the number may be the query's own ("Section 232").
                    quoted = " ".join([*words, number]).replace('"', "")
                    raise UsageError(
                        spec,
                        f"{e.problem}; a number at the end is read as "
                        f'{param.name.upper()}: to search for it, quote the query ("{quoted}")',
                    ) from e
                changed = True
    if len(words) == len(text.split()):
        return text.strip()  # nothing taken: the query exactly as typed
    return " ".join(words)


def _convert(spec: CommandSpec, param: Param, raw: str) -> object:
    raw = raw.strip()
    if param.max_length is not None and len(raw) > param.max_length:
        raise UsageError(
            spec,
            f"{param.name.upper()} is too long ({len(raw)} characters, at most {param.max_length})",
        )
    if param.kind is Kind.INT:
        try:
            value = int(raw)
        except ValueError as e:
            raise UsageError(spec, f"{param.name.upper()} must be a whole number") from e
        low, high = param.min_value, param.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            raise UsageError(spec, f"{param.name.upper()} must be between {low} and {high}")
        return value
    if param.kind is Kind.CHOICE and raw.lower() not in param.choices:
        raise UsageError(spec, f"{param.name.upper()} must be one of {', '.join(param.choices)}")
    if param.kind is Kind.CHOICE:
        return raw.lower()
    if param.kind is Kind.MENTION:
        found = _SUBTEAM.match(raw)
        return found.group(1) if found else raw
    if param.kind in (Kind.WATCH, Kind.FEED):
        return raw.lstrip("#") if raw.lstrip("#").isdigit() else raw
    return raw
