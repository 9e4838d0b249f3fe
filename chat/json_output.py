"""Pull one JSON object out of messy LLM output, and say what is wrong with it.

Small local models wrap JSON in code fences and prose, use Python literals and single
quotes, leave trailing commas and stop mid-object when a token or time limit cuts them
off. Everything here is pure (no I/O, no model): the rewriter calls `extract_json_object`,
then `validate`, and feeds the problems back in a one-shot repair prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema.validators import validator_for

# Candidate objects tried before giving up: enough for prose that quotes a template or two.
MAX_CANDIDATES = 8
# jsonschema repeats whole enum lists and instances; a repair prompt needs the gist only.
MAX_PROBLEM_CHARS = 200

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COLON_NEXT = re.compile(r"\s*:")
_LITERALS = {"true": "true", "True": "true", "false": "false", "False": "false",
             "null": "null", "None": "null"}
_CLOSER = {"{": "}", "[": "]"}


class JSONOutputError(ValueError):
    """The text holds no JSON object that can be recovered; the message says why."""


class JSONObjectScanner:
    """Finds where the first top-level JSON object ends, in text that may arrive in pieces.

    Why incremental: generation feeds it one token at a time and stops the moment the
    object closes. It tracks bracket nesting outside strings; strings may be quoted with
    `"` or `'` because small models write Python-style dicts too.
    """

    def __init__(self) -> None:
        self.closers: list[str] = []  # closing brackets still expected, innermost last
        self.quote: str | None = None  # quote character of the string we are in
        self.escaped = False  # previous character was a backslash inside a string
        self.done = False

    def feed(self, text: str) -> int | None:
        """Consume `text`; return the index just past the object's closing brace once it closes."""
        for i, ch in enumerate(text):
            if self.done:
                return None
            self.step(ch)
            if self.done:
                return i + 1
        return None

    def step(self, ch: str) -> None:
        """Advance the state by one character."""
        if self.quote is not None:
            if self.escaped:
                self.escaped = False
            elif ch == "\\":
                self.escaped = True
            elif ch == self.quote:
                self.quote = None
        elif not self.closers:
            if ch == "{":  # anything before the first brace is prose or a code fence
                self.closers.append("}")
        elif ch in "\"'":
            self.quote = ch
        elif ch in _CLOSER:
            self.closers.append(_CLOSER[ch])
        elif ch in "}]":
            self.closers.pop()
            self.done = not self.closers


@dataclass(frozen=True)
class _Normalised:
    """A candidate rewritten as strict JSON, with what is needed to close it if it was cut off."""

    parts: tuple[str, ...]
    closed: bool
    tail: str  # closes an open string and open brackets when the object was cut off
    cuts: tuple[tuple[int, str], ...]  # (parts before a member's comma, closers there)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _normalise(text: str) -> tuple[_Normalised, int]:
    """Rewrite the object starting at text[0] == '{' as JSON; also return where it ended.

    Converts single-quoted strings, Python literals, bare keys and trailing commas, which
    json.loads would reject, so one walk fixes all of them at once.
    """
    scanner = JSONObjectScanner()
    out: list[str] = []
    cuts: list[tuple[int, str]] = []
    i = 0
    while i < len(text) and not scanner.done:
        ch = text[i]
        if scanner.quote is None and (word := _WORD.match(text, i)):
            out.append(_word_as_json(word.group(), text, word.end()))
            i = word.end()
            continue
        was_quote, was_escaped = scanner.quote, scanner.escaped
        scanner.step(ch)
        if was_quote is not None:
            out.append(_string_char(ch, was_quote, was_escaped, scanner.quote is None))
        elif scanner.quote is not None:
            out.append('"')
        elif ch in "}]":
            _drop_trailing_comma(out)
            out.append(ch)
        else:
            if ch == ",":
                cuts.append((len(out), "".join(reversed(scanner.closers))))
            out.append(ch)
        i += 1
    open_string = '"' if scanner.quote is not None else ""
    tail = open_string + "".join(reversed(scanner.closers))
    return _Normalised(tuple(out), scanner.done, tail, tuple(cuts)), i


def _word_as_json(word: str, text: str, end: int) -> str:
    """A bare word outside strings: a literal, a key to quote, or left for json to reject."""
    if word in _LITERALS:
        return _LITERALS[word]
    if _COLON_NEXT.match(text, end):
        return f'"{word}"'
    return word


def _string_char(ch: str, quote: str, was_escaped: bool, closes: bool) -> str:
    """One character inside a string, re-quoted for a double-quoted JSON string."""
    if closes:
        return '"'
    if ch == "\\":
        return ""  # emitted together with the escaped character
    if was_escaped:
        return "'" if ch == "'" else "\\" + ch  # \' is not a JSON escape
    if ch == '"' and quote == "'":
        return '\\"'
    return ch


def _drop_trailing_comma(out: list[str]) -> None:
    """Remove a comma (and the blanks after it) just before a closing bracket."""
    j = len(out) - 1
    while j >= 0 and out[j].isspace():
        j -= 1
    if j >= 0 and out[j] == ",":
        del out[j:]


def _attempts(norm: _Normalised) -> Iterator[str]:
    """Strings to try parsing: the object itself, else closed as-is, else cut back member by member."""
    if norm.closed:
        yield norm.text
        return
    yield norm.text.rstrip().rstrip(",") + norm.tail
    for end, closers in reversed(norm.cuts):
        yield "".join(norm.parts[:end]) + closers


def _parse_candidate(text: str) -> tuple[dict[str, Any] | None, int, str]:
    """Parse the object at text[0]; return (object or None, characters consumed, why it failed)."""
    norm, consumed = _normalise(text)
    reason = "unclosed object"
    for attempt in _attempts(norm):
        try:
            obj = json.loads(attempt, strict=False)  # strict=False: raw newlines in strings
        except json.JSONDecodeError as err:
            reason = err.msg
            continue
        if isinstance(obj, dict):
            return obj, consumed, ""
    return None, consumed, reason


def extract_json_object(text: str) -> dict[str, Any]:
    """Return the first JSON object in `text`, repairing what small models commonly get wrong.

    Raises JSONOutputError when there is no '{' or no candidate parses.
    """
    start = text.find("{")
    if start < 0:
        raise JSONOutputError("no JSON object in the output (no '{')")
    reason = ""
    for _ in range(MAX_CANDIDATES):
        obj, consumed, reason = _parse_candidate(text[start:])
        if obj is not None:
            return obj
        start = text.find("{", start + max(consumed, 1))
        if start < 0:
            break
    raise JSONOutputError(f"no valid JSON object in the output ({reason})")


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Return readable problems of `obj` against a JSON Schema (empty when valid).

    Why strings and not exceptions: they go verbatim into a repair prompt for the model.
    """
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: (e.json_path, e.message))
    return [_describe(error.json_path, error.message) for error in errors]


def _describe(path: str, message: str) -> str:
    """'at $.a.b: message', shortened so long enum lists do not flood the prompt."""
    if len(message) > MAX_PROBLEM_CHARS:
        message = message[: MAX_PROBLEM_CHARS - 3] + "..."
    return f"at {path}: {message}"
