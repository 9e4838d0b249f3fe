"""The LLM reader: a local chat model reads each turn; the rules answer only when it cannot.

The model (SmolLM2-135M fine-tuned with LoRA on shoppers' language, `training.rewriter`)
gets a short prompt (the state in one line, the message as a JSON string: `chat.reader_format`)
and writes the compact intent JSON under a grammar compiled from its schema, with the
catalogue's values as enums (`chat.decoding`): every answer parses and every value exists,
so there is no repair loop. Its intent is used, held to the message's words on the product's
kind, the person and negation (`chat.grounding`); the rules' reading of the same turn is the
decoder's draft and wins the model's near-ties (`HINT_MARGIN`, wider on the product's kind:
`KIND_HINT_MARGIN`), since a 135M model is often torn between a common value and the rare
one the message names ("Green" or "Fluorescent Green") where the rules' tables are exact.
A model without the adapter (`--llm smollm2`, a Hub id, a folder) reads with the instruction
prompt and worked examples of `prompts/` (`reader_prompt_for`) and is held to the rules'
reading by a wider margin (`UNTUNED_HINT_MARGIN`): it parts from them only where much surer.
The rules reader answers instead when the model times out or fails, and alone for the
closed-class moves the model was never taught (undo, more, compare, another language,
questions about price or material, "in the colour of #2"; `chat.moves`), whose other
moves it adds to the model's reading (`grounding.with_moves`). Each turn's path (llm /
rules / fallback) is counted in `path_counts` for the evaluation. The message is
data inside the prompt, and the model writes no words the shopper reads (`chat.replies`
does), so an injected instruction can at worst yield another valid intent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Protocol

from chat import moves
from chat.grounding import grounded, with_moves
from chat.intent import SearchIntent
from chat.reader_format import (
    ReaderPrompt,
    answer_json,
    answer_schema,
    chat_messages,
    fine_tuned_prompt,
    prompt_names,
    read_answer,
)
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher

logger = logging.getLogger(__name__)

TIME_LIMIT_S = 3.0  # past this a turn is answered by the rules: a shopper waits no longer
# Nats within which the rules' reading wins where the model first parts from it (chat.decoding).
# Chosen on the development files only (R@10 captions / shades / dialogues, eval/dev_*):
# 0 -> 96.0 / 78.0 / 98.0, 2.5 -> 97.3 / 81.0 / 99.0, 4 -> 97.7 / 80.0 / 99.0; the rules alone
# 72.3 / 43.0 / 99.0. Where the model is surer, it decides.
HINT_MARGIN = 2.5
# The rules read the product's kind by the catalogue's own names, while the model learnt rare
# kinds from a handful of examples and takes them for a common kind or a colour ("white kurtis"
# after kurtas -> Kurtas, "as churidar" -> Charcoal, "this as patiala?" -> Pink), or drops the
# kind of a new search ("forget that, new search: green tshirts ..." -> Green, avoid Tshirts).
# On the development files (eval/dev_* and 1,000 more simulated dev dialogues) the model parted
# from the rules' kind by 2.9-3.8 nats where the rules were right, by 8.0 or more where the model
# was ("is a blue shirt" about a picked shirt: no new kind), and never in between; the new-search
# misreadings, found in 1,500 further dev dialogues, parted by 2.9.
KIND_HINT_MARGIN = 5.0
# A model without the adapter (any other --llm) reads with the instruction prompt
# (prompts/reader_instructions.txt and its worked examples) and is held to the rules' reading
# more firmly: it overrules them only where it is surer by this many nats (about 400 to 1), on
# every key. On the dev captions and shades any margin from 4 to 8 reads as well as the rules and
# 0 or 2 far worse (models/smollm2-shop/README.md, "Models without the adapter"): 6 is mid-range.
UNTUNED_HINT_MARGIN = 6.0


# (margin, margin on the product's kind) per prompt, in nats.
MARGINS = {"finetuned": (HINT_MARGIN, KIND_HINT_MARGIN), "instructions": (UNTUNED_HINT_MARGIN, UNTUNED_HINT_MARGIN)}


def reader_prompt_for(adapter: str | None) -> ReaderPrompt:
    """The fine-tuned format for the model with the project's adapter, else the instruction
    prompt with worked examples: a model never taught the short format reads it badly (the
    packaged SmolLM2 fell from the rules' level to R@10 ~62 on simulated dialogues)."""
    from chat.reader_format import instruction_prompt

    return fine_tuned_prompt() if adapter else instruction_prompt()


class JSONModel(Protocol):
    """What the reader needs of `chat.llm.LLM` (and what a test fake provides)."""

    def load(self) -> object: ...

    def generate_json(self, messages: list[dict], schema: dict, time_limit_s: float | None = None,
                      hint: str | None = None, hint_margin: float = 0.0,
                      key_margins: Mapping[str, float] | None = None) -> str: ...


class LLMReader:
    """Rewriter protocol of `chat.assistant`: `rewrite(message, state, has_upload)`."""

    def __init__(self, llm: JSONModel, matcher: VocabularyMatcher, fallback: RulesRewriter,
                 time_limit_s: float = TIME_LIMIT_S, hint_margin: float | None = None,
                 kind_hint_margin: float | None = None, prompt: ReaderPrompt | None = None):
        """`prompt`: the fine-tuned format unless given (`reader_prompt_for`); the margins
        default to the ones chosen for that prompt (`MARGINS`)."""
        self.llm = llm
        self.matcher = matcher
        self.fallback = fallback
        self.time_limit_s = time_limit_s
        self.prompt = prompt or fine_tuned_prompt()
        margin, kind_margin = MARGINS[self.prompt.name]
        self.hint_margin = margin if hint_margin is None else hint_margin
        kind_margin = kind_margin if kind_hint_margin is None else kind_hint_margin
        self.schema = answer_schema(matcher)
        self.names = prompt_names(matcher)
        self.key_margins = {self.names[column]: kind_margin for column in matcher.kind_columns}
        self.path_counts: Counter[str] = Counter()

    def load(self) -> LLMReader:
        """Load the model and compile the grammar now, so that no shopper's turn pays for it."""
        self.llm.load()
        self.llm.generate_json(chat_messages("hello", DialogueState(), False, self.matcher, self.prompt), self.schema,
                               self.time_limit_s * 10)
        return self

    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False) -> SearchIntent:
        """The model's intent for `message`; the rules' when the model fails. Never raises.

        The rules read every turn first (a fraction of a millisecond): their answer is the
        decoder's hint, which saves most forward passes when the model agrees, wins where
        the model first parts from it by less than `hint_margin` nats (`kind_hint_margin` on
        the product's kind) and is overruled where the model is surer; and it is ready if the
        model fails."""
        text = message if isinstance(message, str) else ""
        rules_intent = self.fallback.rewrite(text, state, has_upload)
        if _closed_class(rules_intent, text, state):
            self.path_counts["rules"] += 1
            return rules_intent
        messages = chat_messages(text, state, has_upload, self.matcher, self.prompt)
        try:
            hint = answer_json(rules_intent, self.names)
            answer = self.llm.generate_json(messages, self.schema, self.time_limit_s, hint=hint,
                                          hint_margin=self.hint_margin, key_margins=self.key_margins)
            intent = grounded(read_answer(answer, self.matcher, state), rules_intent, text, state, self.matcher)
            intent = with_moves(intent, rules_intent, text, self.matcher)
        except Exception as err:  # noqa: BLE001 - a model failure (timeout, bug, OOM) must not end the chat
            logger.warning("LLM reader failed (%s: %s): the rules read this turn", type(err).__name__, err)
            self.path_counts["fallback"] += 1
            return rules_intent
        self.path_counts["llm"] += 1
        return intent


def _closed_class(rules: SearchIntent, text: str, state: DialogueState) -> bool:
    """Turns the rules read exactly and the model was never taught: commands (undo, more,
    compare), a message in another language, a question about an aspect the catalogue may not
    record ("what's it made of?"), attributes borrowed from another result, "in another colour",
    "something else", "what do you recommend?", a bare complaint ("too bright"), a result said by
    its place on screen ("the one on the left": the prompt shows no screen), and a pick
    right after a comparison ("the other one": the prompt does not say what was compared)."""
    said = text.lower()
    return (rules.action in ("undo", "more", "compare") or rules.small_talk in ("foreign", "which")
            or rules.reference == "result" and bool(state.compared)
            or rules.action == "answer" and rules.question in moves.ASPECTS_ASKED or bool(rules.take_from)
            or bool(moves.ANOTHER.search(said) or moves.SOMETHING_ELSE.search(said) or moves.RECOMMEND.search(said)
                    or moves.POSITION.search(said)
                    or moves.TOO.search(said)))
