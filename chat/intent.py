"""One validated structure per chat turn: what the shopper wants this turn.

Both readers (rules and LLM) produce a `SearchIntent` and nothing else: what the shopper
sees is written by the assistant (`chat.replies`) once the intent is applied and searched; the LLM's output goes through
`parse_intent`, which validates its shape and then maps attribute names and values onto the
catalogue vocabulary, so nothing downstream ever sees a column or value the catalogue lacks.
Field names are plain words so that a small LLM can fill them from the JSON schema alone.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retrieval.vocabulary import Vocabulary, VocabularyMatcher

Action = Literal["search", "answer", "compare", "more", "undo", "reset", "smalltalk"]
ReferenceKind = Literal["upload", "result", "current", "none"]
SmallTalk = Literal["", "greeting", "thanks", "bye", "help", "praise", "unsure", "injection", "foreign", "which"]

MAX_TEXT_CHARS = 300     # description / question: a query, not an essay
MAX_LIST_ITEMS = 10      # negatives, drops, excluded results per turn


class IntentError(ValueError):
    """The rewriter's output is not a usable intent; the message says why, briefly."""


class Limit(BaseModel):
    """Bounds on a numeric attribute ("under 50"), or a move relative to the current item's value
    ("cheaper": `than_current` "lower")."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at_most: float | None = None
    at_least: float | None = None
    than_current: Literal["", "lower", "higher"] = ""


class SearchIntent(BaseModel):
    """What one turn asks for. Reference semantics (applied by `DialogueState.apply`):

    - "none": a new search from text alone; earlier constraints and negatives are released.
    - "upload": a new search from the photo attached to this message; same release.
    - "result": start from shown result `result_index` (1-based), keeping the constraints.
    - "current": refine: keep the current reference and constraints, apply the changes.

    The other actions change no search: `compare` sets shown results side by side, `more`
    shows the next results of the same search, `undo` steps back one turn.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: Action = Field("search", description=(
        "search: find products; answer: a question about shown results; compare: set shown "
        "results side by side; more: the next results; undo: back one step; reset: start over; "
        "smalltalk: greetings, thanks, anything that needs no search"))
    reference: ReferenceKind = Field("current", description=(
        "what the search starts from: upload = the photo sent with this message, result = "
        "a shown result (set result_index), current = keep refining, none = new search"))
    result_index: int | None = Field(None, ge=1, description="1-based number of the shown "
                                     "result meant, only when reference is result")
    set_attributes: dict[str, str] = Field(default_factory=dict, description=(
        "attribute -> wanted value, e.g. {\"colour\": \"Red\"}"))
    drop_attributes: tuple[str, ...] = Field((), max_length=MAX_LIST_ITEMS, description=(
        "attributes the shopper no longer cares about, e.g. [\"colour\"] for any colour"))
    negatives: tuple[str, ...] = Field((), max_length=MAX_LIST_ITEMS, description=(
        "things to avoid, e.g. [\"black\", \"prints\"]"))
    exclude_results: tuple[int, ...] = Field((), max_length=MAX_LIST_ITEMS, description=(
        "1-based numbers of shown results the shopper rejects"))
    description: str = Field("", max_length=MAX_TEXT_CHARS, description=(
        "short free-text description of the wanted product, may be empty"))
    question: str = Field("", max_length=MAX_TEXT_CHARS, description=(
        "for answer: the attribute asked about, e.g. colour or brand"))
    small_talk: SmallTalk = Field("", description=(
        "for smalltalk: what kind (greeting, thanks, ...); the reply is written from it"))
    take_from: dict[str, int] = Field(default_factory=dict, description=(
        "attribute -> 1-based shown result whose value to take, e.g. {\"colour\": 2} for "
        "\"in the colour of the second one\""))
    compared: tuple[int, ...] = Field((), max_length=MAX_LIST_ITEMS, description=(
        "for compare: the 1-based numbers of the shown results to set side by side"))
    limits: dict[str, Limit] = Field(default_factory=dict, description=(
        "numeric aspect -> bounds, e.g. {\"price\": {\"at_most\": 50}} for \"under 50\""))
    unheld: tuple[str, ...] = Field((), max_length=MAX_LIST_ITEMS, description=(
        "aspects asked for that are no product attribute the reader knows, e.g. [\"size\"]"))

    @model_validator(mode="before")
    @classmethod
    def _repair(cls, data: Any) -> Any:
        """Forgive what small LLMs get wrong but mean clearly: case, nulls, overlong text."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if v is not None or k == "result_index"}
        for key in ("action", "reference"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip().lower()
        if data.get("reference") != "result":
            data.pop("result_index", None)
        for key in ("description", "question"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()[:MAX_TEXT_CHARS]
        return data

    @field_validator("drop_attributes", "negatives", "exclude_results", "compared", "unheld", mode="before")
    @classmethod
    def _bounded(cls, items: Any) -> Any:
        """Keep the first few items of a list rather than reject a chatty answer."""
        return items[:MAX_LIST_ITEMS] if isinstance(items, list | tuple) else items

    @model_validator(mode="after")
    def _result_needs_index(self) -> SearchIntent:
        if self.reference == "result" and self.result_index is None:
            raise ValueError("reference 'result' needs result_index")
        return self


def select_result(index: int) -> SearchIntent:
    """The intent of clicking shown result `index` (1-based): make it the reference."""
    return SearchIntent(reference="result", result_index=index)


def parse_intent(data: str | dict, vocabulary: Vocabulary | VocabularyMatcher) -> SearchIntent:
    """Validate an intent (JSON text or dict) and map it onto the catalogue vocabulary.

    Attribute names and values are matched case-, spelling- and plural-insensitively
    ("color": "navy" -> baseColour: Navy Blue); unknown ones are dropped, because a filter
    on a value the catalogue lacks would only empty the results. Raises IntentError.
    """
    raw = decode_json(data) if isinstance(data, str) else data
    if not isinstance(raw, dict):
        raise IntentError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        intent = SearchIntent.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "intent"
        raise IntentError(f"{where}: {first['msg']}") from None
    return _normalise(intent, _matcher(vocabulary))


def decode_json(text: str) -> Any:
    """JSON from LLM text, tolerating code fences or chatter around the one object."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise IntentError("no JSON object in the text")
    try:
        return json.loads(text[start:end + 1])
    except json.JSONDecodeError as error:
        raise IntentError(f"not valid JSON: {error.msg} at char {error.pos}") from None


def _matcher(vocabulary: Vocabulary | VocabularyMatcher) -> VocabularyMatcher:
    if isinstance(vocabulary, VocabularyMatcher):
        return vocabulary
    return VocabularyMatcher(vocabulary)


def _normalise(intent: SearchIntent, matcher: VocabularyMatcher) -> SearchIntent:
    """Map columns and values onto the vocabulary. A value named whole under the wrong column
    moves to its own (an LLM writing {"colour": "women"} still means Women) unless that column
    was set explicitly; part of an unknown column's text does not ({"brand": "Red Tape"})."""
    exact: dict[str, str] = {}
    moved: dict[str, str] = {}
    for name, text in intent.set_attributes.items():
        column = matcher.column(name)
        value = matcher.value(column, text) if column else None
        mention = None if value else matcher.canonical(text)
        if value:
            exact[column] = value
        elif mention:
            moved[mention.column] = mention.value
    attributes = {**moved, **exact}
    drops = [c for c in map(matcher.column, intent.drop_attributes) if c and c not in attributes]
    taken = {column: index for name, index in intent.take_from.items()
             if (column := matcher.column(name)) and index >= 1 and column not in attributes}
    negatives = [_vocabulary_form(text, matcher) for text in intent.negatives if text.strip()]
    return intent.model_copy(update={
        "set_attributes": attributes,
        "drop_attributes": tuple(dict.fromkeys(drops)),
        "negatives": tuple(dict.fromkeys(negatives)),
        "exclude_results": tuple(dict.fromkeys(i for i in intent.exclude_results if i >= 1)),
        "compared": tuple(dict.fromkeys(i for i in intent.compared if i >= 1)),
        "take_from": taken,
    })


def _vocabulary_form(text: str, matcher: VocabularyMatcher) -> str:
    """A negative as the catalogue spells it when it names a value ("navy" -> "Navy Blue")."""
    mention = matcher.canonical(text)
    return mention.value if mention else text.strip().lower()
