"""LLM rewriter: a local chat model reads the turn, the rules stand behind it.

Every turn the rules read the message first (cheap, deterministic); their reading goes into
the prompt as a draft the model may correct, and it is the answer whenever the model fails.
The model writes a compact JSON intent (only the keys that apply: fewer tokens to generate),
which is extracted from its text, checked against the schema, mapped onto the catalogue
vocabulary (`parse_intent`) and checked against the dialogue state. On any problem it gets
ONE repair attempt with the problems listed; then the rules' intent is used. Each turn's
path (llm / repaired / fallback) is logged and counted in `path_counts`.

The model decides the action and the reference (which item a turn is about); values and
negation are the rules' reading, plus any value the model adds that the message names
(`_merge` says why). Every word the shopper reads is ours (replies come from the rules for
the final intent), and the message goes into the prompt as a JSON string marked as data,
so an injected "ignore previous instructions" can at worst yield another valid intent.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Literal, Protocol

from chat.intent import IntentError, SearchIntent, intent_json_schema, parse_intent
from chat.json_output import JSONOutputError, extract_json_object, validate
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.vocabulary import Vocabulary, VocabularyMatcher, phrase_key

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
MESSAGE_CHARS = 300     # what the model reads of a message; a pasted essay is not a request
STATE_CHARS = 160       # the bounded state summary: prompt length is the paper's main limit
SMALL_COLUMN = 8        # columns with at most this many values list them in the prompt
MAX_NEW_TOKENS = 80     # the longest compact intent is about 60 tokens

RewritePath = Literal["llm", "repaired", "fallback"]
# Keys the model may write; the others (description, small_talk) are never taken from it.
MODEL_KEYS = ("action", "reference", "result_index", "set_attributes", "drop_attributes",
              "negatives", "exclude_results", "question")


class ChatModel(Protocol):
    """What the rewriter needs of `chat.llm.LLM` (and what a test fake provides)."""

    def chat(self, messages: list[dict], max_new_tokens: int | None = None,
             stop_at_json: bool = False) -> str: ...


@dataclass(frozen=True)
class Prompts:
    """The prompt templates in `prompts/`, as plain text files with `$name` fields."""

    system: Template
    user: Template
    repair: Template
    examples: tuple[tuple[str, str], ...]  # (user content, assistant JSON)

    @classmethod
    def load(cls, folder: Path = PROMPTS_DIR) -> Prompts:
        """Read the templates; examples are blank-line separated blocks whose last line is the answer."""
        def read(name: str) -> str:
            return (folder / name).read_text().strip()

        blocks = [b.strip().splitlines() for b in read("rewrite_examples.txt").split("\n\n") if b.strip()]
        return cls(Template(read("rewrite_system.txt")), Template(read("rewrite_user.txt")),
                   Template(read("rewrite_repair.txt")),
                   tuple(("\n".join(lines[:-1]), lines[-1]) for lines in blocks))


class LLMRewriter:
    """Rewriter protocol of `chat.assistant`: `rewrite(message, state, has_upload)`."""

    def __init__(self, llm: ChatModel, vocabulary: Vocabulary | VocabularyMatcher,
                 fallback: RulesRewriter, prompts: Prompts | None = None):
        self.llm = llm
        self.matcher = vocabulary if isinstance(vocabulary, VocabularyMatcher) else VocabularyMatcher(vocabulary)
        self.fallback = fallback
        self.prompts = prompts or Prompts.load()
        self.names = prompt_names(self.matcher)
        self.system = self.prompts.system.substitute(attributes=self._attributes_text())
        self.schema = _loose_schema()
        self.path_counts: Counter[str] = Counter()

    def load(self) -> LLMRewriter:
        """Load the model now (the UI and the evaluator do, so no turn pays for it)."""
        load = getattr(self.llm, "load", None)
        if load is not None:
            load()
        return self

    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False) -> SearchIntent:
        """The intent of `message`; never raises (the rules answer when the model cannot)."""
        draft = self.fallback.rewrite(message, state, has_upload)
        intent, path = self._ask(self._messages(message, state, has_upload, draft), state)
        self.path_counts[path] += 1
        logger.info("rewriter path: %s", path)
        if intent is None:
            return draft
        return self._finish(intent, draft, message, state)

    def _ask(self, messages: list[dict], state: DialogueState) -> tuple[SearchIntent | None, RewritePath]:
        """The model's intent, after at most one repair; None when it fails or errs."""
        try:
            answer = self.llm.chat(messages, max_new_tokens=MAX_NEW_TOKENS, stop_at_json=True)
            intent, problems = self._read(answer, state)
            if not problems:
                return intent, "llm"
            logger.info("LLM answer unusable (%s): asking once more", "; ".join(problems))
            repair = self.prompts.repair.substitute(problems="; ".join(problems))
            messages = [*messages, {"role": "assistant", "content": answer}, {"role": "user", "content": repair}]
            intent, problems = self._read(self.llm.chat(messages, max_new_tokens=MAX_NEW_TOKENS, stop_at_json=True), state)
            if not problems:
                return intent, "repaired"
            logger.info("LLM repair unusable (%s): using the rules", "; ".join(problems))
        except Exception as err:  # noqa: BLE001 - any model failure (timeout, OOM, bug) must not end the chat
            logger.warning("LLM failed (%s: %s): using the rules", type(err).__name__, err)
        return None, "fallback"

    def _read(self, answer: str, state: DialogueState) -> tuple[SearchIntent | None, list[str]]:
        """Extract, validate, map and check one answer; the problems say what is wrong."""
        try:
            raw = extract_json_object(answer)
        except JSONOutputError as err:
            return None, [str(err)]
        raw = {k: v for k, v in raw.items() if k in MODEL_KEYS}
        problems = validate(raw, self.schema)
        if problems:
            return None, problems
        try:
            intent = parse_intent(raw, self.matcher)
        except IntentError as err:
            return None, [str(err)]
        if intent.reference == "result" and state.result_id(intent.result_index or 0) is None:
            shown = f"only {len(state.results)} results are shown" if state.results else "no results are shown"
            return None, [f"result_index {intent.result_index}: {shown}"]
        return intent, []

    def _finish(self, intent: SearchIntent, draft: SearchIntent, message: str,
                state: DialogueState) -> SearchIntent:
        """The model's intent, grounded in the message and merged with the rules' reading,
        with the rules' free text (description, kind of small talk)."""
        if intent.action == "search" and draft.action == "search":
            intent = _merge(self._grounded(intent, message), draft)
        else:
            intent = self._grounded(intent, message)
        return intent.model_copy(update={"description": draft.description, "small_talk": draft.small_talk})

    def _grounded(self, intent: SearchIntent, message: str) -> SearchIntent:
        """Only values the message names. A small model copies values from its examples
        ("type": "Belts" for "for her instead"); grounding drops them."""
        named = {m.value for m in self.matcher.find(message)}
        said = phrase_key(message)
        return intent.model_copy(update={
            "set_attributes": {c: v for c, v in intent.set_attributes.items() if v in named},
            "negatives": tuple(n for n in intent.negatives if n in named or phrase_key(n) in said)})

    def _messages(self, message: str, state: DialogueState, has_upload: bool,
                  draft: SearchIntent) -> list[dict]:
        """System prompt, few-shot examples as earlier turns, then this turn."""
        named = ", ".join(dict.fromkeys(f"{self.names[m.column]} {m.value}"
                                        for m in self.matcher.find(message[:MESSAGE_CHARS])))
        user = self.prompts.user.substitute(
            state=state.summary(STATE_CHARS), photo="yes" if has_upload else "no", values=named or "none",
            message=json.dumps(message[:MESSAGE_CHARS], ensure_ascii=False),
            draft=json.dumps(self.compact(draft), ensure_ascii=False))
        examples = [m for u, a in self.prompts.examples
                    for m in ({"role": "user", "content": u}, {"role": "assistant", "content": a})]
        return [{"role": "system", "content": self.system}, *examples, {"role": "user", "content": user}]

    def compact(self, intent: SearchIntent) -> dict[str, Any]:
        """An intent as the model writes it: non-default model keys, attributes by prompt name."""
        data = intent.model_dump(include=set(MODEL_KEYS), exclude_defaults=True)
        # A search always names its reference: measured on dev dialogues, SmolLM2 drifts
        # when the first key varies (it wrote "reference": "set_attributes").
        if intent.action == "search":
            data["reference"] = intent.reference
        if "set_attributes" in data:
            data["set_attributes"] = {self.names.get(c, c): v for c, v in data["set_attributes"].items()}
        if "drop_attributes" in data:
            data["drop_attributes"] = [self.names.get(c, c) for c in data["drop_attributes"]]
        return {k: data[k] for k in MODEL_KEYS if k in data}

    def _attributes_text(self) -> str:
        """The attribute names, with the values of the small columns ("gender (Men, Women)").

        Not every value: the full catalogue vocabulary made a 1,000-token prompt (8 s a turn
        for SmolLM2 on this CPU); the values a message names are listed with each turn."""
        parts = []
        for column, name in self.names.items():
            values = list(self.matcher.vocabulary[column])
            parts.append(f"{name} ({', '.join(values)})" if len(values) <= SMALL_COLUMN else name)
        return ", ".join(parts)


def prompt_names(matcher: VocabularyMatcher) -> dict[str, str]:
    """Column -> the plain word the prompt uses for it ("baseColour" -> "colour"); role words
    first so they lead the vocabulary list. `parse_intent` maps each word back."""
    roles = {matcher.colour_column: "colour", (matcher.kind_columns or (None,))[0]: "type",
             matcher.people_column: "gender"}
    names = {c: word for c, word in roles.items() if c and matcher.column(word) == c}
    names.update({c: c for c in matcher.columns if c not in names})
    return names


def _loose_schema() -> dict:
    """The intent's JSON schema without `required` or closed objects: the model writes only
    the keys that apply, and unknown keys are dropped rather than repaired (each repair
    costs a second generation)."""
    schema = intent_json_schema()
    schema.pop("required", None)
    schema.pop("additionalProperties", None)
    return schema


def _merge(model: SearchIntent, draft: SearchIntent) -> SearchIntent:
    """The model's action and reference, with the rules' values, negation and exclusions.

    Measured on dev dialogues: SmolLM2 keeps the rules' reference but drops values ("can
    I see it cream?" without the colour) and flips negation ("not blue, maybe beige" as
    blue, avoiding beige), which the rules read reliably; so what the rules read wins and
    the model's grounded values only add to it.
    """
    avoided = {n.casefold() for n in draft.negatives}
    attributes = {c: v for c, v in {**model.set_attributes, **draft.set_attributes}.items()
                  if v.casefold() not in avoided}
    wanted = {v.casefold() for v in attributes.values()}
    negatives = [n for n in (*draft.negatives, *model.negatives) if n.casefold() not in wanted]
    return model.model_copy(update={
        "set_attributes": attributes,
        "negatives": tuple(dict.fromkeys(negatives)),
        "drop_attributes": tuple(dict.fromkeys((*draft.drop_attributes, *model.drop_attributes))),
        "exclude_results": tuple(dict.fromkeys((*draft.exclude_results, *model.exclude_results)))})
