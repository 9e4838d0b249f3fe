"""The LLM reader's format: (state, message) -> prompt, and intent <-> compact answer.

One module for both sides, so that the reader at serving time and the fine-tuning data build
byte-identical prompts and answers. The user turn is one state line and the message as a JSON
string, so injected text stays data. What comes before it is a prompt file in `prompts/`:
`reader_finetuned.txt`, one line and no examples (the fine-tuned model needs none, and prompt
length is what a 135M model on a CPU pays for), or, for a model without the adapter,
`reader_instructions.txt` (the keys and what they mean) followed by the worked examples of
`reader_examples.txt` as earlier chat turns (`ReaderPrompt`). The answer is a compact JSON
with fixed key order and only non-default keys: fewer tokens to generate, one way to write
each intent (exact match is then a meaningful score).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat.intent import IntentError, SearchIntent, decode_json, parse_intent
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
MESSAGE_CHARS = 200       # what the reader sees of a message; a pasted essay is not a request
TEXT_CHARS = 60           # soft details for the embedding ("long sleeves, logo")
QUESTION_CHARS = 30
AVOID_CHARS = 40
MAX_AVOID = 5
MAX_EXCLUDE = 10
MAX_RESULT = 100
ACTIONS = ("search", "answer", "reset", "smalltalk")
REFERENCES = ("upload", "result", "none")   # "current" is the default and never written
KEYS = ("action", "reference", "result", "set", "drop", "avoid", "exclude", "text", "question")
_SOURCES = {"catalog": "picked", "upload": "photo"}
_SEPARATORS = (",", ":")


@dataclass(frozen=True)
class ReaderPrompt:
    """What the model reads before the shopper's turn: a system text, then worked examples
    as earlier chat turns (user turn, answer)."""

    name: str
    system: str
    examples: tuple[tuple[str, str], ...] = ()

    def messages(self, user: str) -> list[dict[str, str]]:
        """The chat for the tokenizer's template (SmolLM2: ChatML), ending with `user`."""
        chat = [{"role": "system", "content": self.system}]
        for turn, answer in self.examples:
            chat += [{"role": "user", "content": turn}, {"role": "assistant", "content": answer}]
        return [*chat, {"role": "user", "content": user}]


@functools.cache
def fine_tuned_prompt() -> ReaderPrompt:
    """The format the adapter in models/smollm2-shop was trained on: one system line."""
    return ReaderPrompt("finetuned", _prompt_text("reader_finetuned.txt"))


@functools.cache
def instruction_prompt() -> ReaderPrompt:
    """For a model without the adapter: the answer's keys explained, then worked examples."""
    return ReaderPrompt("instructions", _prompt_text("reader_instructions.txt"),
                        parse_examples(_prompt_text("reader_examples.txt")))


def _prompt_text(name: str) -> str:
    return (PROMPTS / name).read_text(encoding="utf-8").strip()


def parse_examples(text: str) -> tuple[tuple[str, str], ...]:
    """Worked examples: blocks separated by a blank line, each the user turn's lines and then
    the answer on the last line."""
    examples = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) < 2:
            raise ValueError(f"a worked example needs a user turn and an answer line, got {block!r}")
        examples.append(("\n".join(lines[:-1]), lines[-1]))
    return tuple(examples)


SYSTEM = fine_tuned_prompt().system  # the line the fine-tuning data is written with


def prompt_names(matcher: VocabularyMatcher) -> dict[str, str]:
    """Column -> the plain word the answer uses for it ("baseColour" -> "colour"), role
    words first; `parse_intent` maps each word back. Same idea as the few-shot rewriter's,
    kept here so the fine-tuned format does not depend on that module."""
    roles = {matcher.colour_column: "colour", (matcher.kind_columns or (None,))[0]: "type",
             matcher.people_column: "gender"}
    names = {c: word for c, word in roles.items() if c and matcher.column(word) == c}
    names.update({c: c for c in matcher.columns if c not in names})
    return names


def item_line(state: DialogueState, matcher: VocabularyMatcher) -> str:
    """The current item in a few words, "Navy Blue Shirts for Men (picked #3)", or "none";
    the result number lets the reader resolve "the one before"."""
    reference = state.reference
    if reference is None:
        return "none"
    values = reference.attributes
    colour, kind = (values.get(c or "", "") for c in (matcher.colour_column,
                                                        (matcher.kind_columns or ("",))[0]))
    people = values.get(matcher.people_column or "", "")
    words = " ".join(w for w in (colour, kind or "item") if w)
    who = f" for {people}" if people else ""
    source = _SOURCES.get(reference.source, reference.source)
    if reference.product_id in state.results:
        source += f" #{state.results.index(reference.product_id) + 1}"
    return f"{words}{who} ({source})"


def reader_prompt(message: str, state: DialogueState, has_upload: bool,
                  matcher: VocabularyMatcher) -> str:
    """The user turn: one state line, then the message as a JSON string (at most ~80 tokens)."""
    names = prompt_names(matcher)
    parts = [f"item: {item_line(state, matcher)}"]
    if state.constraints:
        parts.append("wanted: " + ", ".join(f"{names.get(c, c)}={v}"
                                            for c, v in _ordered(state.constraints, names)))
    if state.negatives:
        parts.append("avoid: " + ", ".join(n[:AVOID_CHARS] for n in state.negatives[-3:]))
    parts += [f"shown: {len(state.results)}", f"photo: {'yes' if has_upload else 'no'}"]
    text = " ".join(message.split())[:MESSAGE_CHARS]
    return " | ".join(parts) + "\nmessage: " + json.dumps(text, ensure_ascii=False)


def chat_messages(message: str, state: DialogueState, has_upload: bool, matcher: VocabularyMatcher,
                  prompt: ReaderPrompt | None = None) -> list[dict[str, str]]:
    """The prompt (the fine-tuned one unless given) and then the user turn, for the tokenizer's
    chat template (SmolLM2: ChatML)."""
    return (prompt or fine_tuned_prompt()).messages(reader_prompt(message, state, has_upload, matcher))


def answer_json(intent: SearchIntent, names: dict[str, str]) -> str:
    """The compact answer for an intent: `action` first, then only the non-default keys."""
    data: dict[str, Any] = {"action": intent.action}
    if intent.reference != "current":
        data["reference"] = intent.reference
    if intent.reference == "result":
        data["result"] = intent.result_index
    if intent.set_attributes:
        data["set"] = {names.get(c, c): v for c, v in _ordered(intent.set_attributes, names)}
    if intent.drop_attributes:
        data["drop"] = [names.get(c, c) for c in intent.drop_attributes]
    if intent.negatives:
        data["avoid"] = [n[:AVOID_CHARS] for n in intent.negatives[:MAX_AVOID]]
    if intent.exclude_results:
        data["exclude"] = list(intent.exclude_results[:MAX_EXCLUDE])
    if intent.description:
        data["text"] = intent.description[:TEXT_CHARS]
    if intent.question:
        data["question"] = intent.question[:QUESTION_CHARS]
    return json.dumps(data, ensure_ascii=False, separators=_SEPARATORS)


def _ordered(attributes: dict[str, str], names: dict[str, str]) -> list[tuple[str, str]]:
    """Attributes in prompt-name order (colour, type, gender, ...): one spelling per intent,
    and one per state line whatever order the dialogue set them in."""
    order = {c: i for i, c in enumerate(names)}
    return sorted(attributes.items(), key=lambda item: order.get(item[0], len(order)))


def answer_schema(matcher: VocabularyMatcher) -> dict:
    """The answer's JSON schema, for constrained decoding (xgrammar) and validation: enums for
    every closed value, bounded strings and lists, properties in answer order, only `action`
    required, nothing else allowed."""
    names = prompt_names(matcher)
    values = {names[c]: {"enum": sorted(matcher.vocabulary[c])} for c in names}
    properties = {
        "action": {"enum": list(ACTIONS)},
        "reference": {"enum": list(REFERENCES)},
        "result": {"type": "integer", "minimum": 1, "maximum": MAX_RESULT},
        "set": {"type": "object", "properties": values, "additionalProperties": False},
        "drop": {"type": "array", "items": {"enum": list(values)}, "maxItems": len(values)},
        "avoid": {"type": "array", "items": {"type": "string", "minLength": 1,
                                             "maxLength": AVOID_CHARS}, "maxItems": MAX_AVOID},
        "exclude": {"type": "array", "items": {"type": "integer", "minimum": 1,
                                               "maximum": MAX_RESULT}, "maxItems": MAX_EXCLUDE},
        "text": {"type": "string", "maxLength": TEXT_CHARS},
        "question": {"type": "string", "maxLength": QUESTION_CHARS},
    }
    return {"type": "object", "properties": properties, "required": ["action"],
            "additionalProperties": False}


def read_answer(data: dict | str, matcher: VocabularyMatcher, state: DialogueState
                ) -> SearchIntent:
    """The intent an answer (JSON text or dict) means, mapped onto the vocabulary by
    `parse_intent`. Raises IntentError when it is unusable or names a result not shown."""
    raw = decode_json(data) if isinstance(data, str) else data
    if not isinstance(raw, dict):
        raise IntentError(f"expected a JSON object, got {type(raw).__name__}")
    unknown = set(raw) - set(KEYS)
    if unknown:
        raise IntentError(f"unknown keys: {', '.join(sorted(unknown))}")
    intent = parse_intent({
        "action": raw.get("action", "search"), "reference": raw.get("reference", "current"),
        "result_index": raw.get("result"), "set_attributes": raw.get("set") or {},
        "drop_attributes": raw.get("drop") or [], "negatives": raw.get("avoid") or [],
        "exclude_results": raw.get("exclude") or [], "description": raw.get("text") or "",
        "question": raw.get("question") or ""}, matcher)
    if intent.result_index is not None and state.result_id(intent.result_index) is None:
        raise IntentError(f"result {intent.result_index}: {len(state.results)} shown")
    return intent

