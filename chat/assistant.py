"""One turn of the shopping assistant, end to end.

    message (+photo | +clicked result) -> reader -> SearchIntent -> DialogueState.apply
    -> compose the query -> index search -> reply written from (before, after, results)

The assistant holds only read-only things (the retriever and the rewriter), so one instance
serves every user; each user's conversation is the `DialogueState` passed in and returned.
It follows the "rewrite, then search" idea: the target is described from the reference's
attributes (its catalogue record, or attributes inferred from an uploaded photo) with the
requested changes applied, fused with the reference image; explicit constraints ("for
women", "not black") become index filters; disliked results are never shown again.

A turn runs in two halves, `read` then `finish`, so that the app can say what it understood
while the search runs. An uploaded photo's inferred kind and gender become filters (shown as
chips the shopper can remove) when the inference is sure of them; when it is unsure of the
kind, the turn asks which of the two likeliest it is. A message that names nothing the
readers know and is not even in Latin script is not searched: the shopper is told so.
"""

from __future__ import annotations

import itertools
import logging
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from chat.intent import SearchIntent, select_result
from chat.replies import ASK, RESET, Question, Replies
from chat.rules import small_talk_kind
from chat.state import DialogueState
from retrieval.catalog import Product
from retrieval.compose import feedback
from retrieval.reference import Reference
from retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

RESULTS_SHOWN = 12
FEEDBACK_ITEMS = 5  # the latest likes / dislikes that steer the next query
# An uploaded photo's inferred kind / gender at least this probable becomes a filter; a less
# sure kind becomes a question. Picked on non-test items (benchmarks/upload_kind.py).
TRUST_INFERRED = 0.8


class Rewriter(Protocol):
    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False) -> SearchIntent: ...


@dataclass(frozen=True)
class ShownProduct(Product):
    """A result as the UI and the API show it: the catalogue record and its search score."""

    score: float = 0.0

    def as_json(self) -> dict:
        return {"id": self.id, "title": self.title, "attributes": dict(self.attributes), "score": round(self.score, 4)}


@dataclass(frozen=True)
class Turn:
    """What one step returns: the next state, the reply, and the results to show (if any);
    `question`, when the turn needs the shopper to settle something (one click answers it)."""

    state: DialogueState
    reply: str
    results: tuple[ShownProduct, ...] = ()
    intent: SearchIntent | None = None
    question: Question | None = None


@dataclass(frozen=True)
class Reading:
    """A message read and applied, before any search: what the turn is about to do.

    `turn` is set when nothing needs searching (small talk, an answer, text it could not
    read); otherwise `finish` searches for `after`. `inferred` are the filters taken from an
    uploaded photo, `question` what to ask about it."""

    before: DialogueState
    after: DialogueState
    intent: SearchIntent
    turn: Turn | None = None
    inferred: dict[str, str] = field(default_factory=dict)
    question: Question | None = None
    unread: str = ""  # words left out: not in a script the readers read


class Assistant:
    """Runs turns against one catalogue; stateless between calls."""

    def __init__(self, retriever: Retriever, rewriter: Rewriter, trust_inferred: float = TRUST_INFERRED):
        self.retriever = retriever
        self.rewriter = rewriter
        self.replies = Replies(retriever.matcher)
        self.trust_inferred = trust_inferred

    def step(
        self,
        state: DialogueState,
        message: str,
        image: Image.Image | Reference | None = None,
        k: int = RESULTS_SHOWN,
    ) -> Turn:
        """Answer one message. `image` is a checked upload (`shop.uploads`) or an already
        encoded photo. The intent is applied once, the search runs, and the reply is
        written from what happened; unusable intents come back as a friendly reply."""
        return self.finish(self.read(state, message, image), k)

    def read(self, state: DialogueState, message: str, image: Image.Image | Reference | None = None) -> Reading:
        """The first half of a turn: read the message and apply it, without searching."""
        upload = self._upload_reference(image) if image is not None else None
        intent = _photo_as_reference(self.rewriter.rewrite(message, state, has_upload=upload is not None), upload)
        if intent.reference == "result" and state.result_id(intent.result_index or 0) is None:
            return self._no_search(state, message, intent, self.replies.no_such_result(state))
        intent, unread = _without_unread_words(intent)
        if unread and intent.action == "search" and not _names_anything(intent, upload):
            return self._no_search(state, message, intent, self.replies.unread(unread))
        inferred, question = self._inferred(intent, upload)
        if inferred:
            intent = intent.model_copy(update={"set_attributes": {**inferred, **intent.set_attributes}})
        after = state.apply(intent, reference=self._reference_for(intent, state, upload))
        if intent.action == "search":
            question = question or self._whom(after, message)
            return Reading(state, after, intent, inferred=inferred, question=question, unread=unread)
        if intent.action == "answer":
            reply = self._answer(intent, after)
        elif intent.action == "reset":
            reply = RESET
        else:
            reply = self.replies.small_talk(intent.small_talk or small_talk_kind(message))
        return Reading(state, after, intent, turn=self._reply(after, reply, intent))

    def finish(self, reading: Reading, k: int = RESULTS_SHOWN) -> Turn:
        """The second half of a turn: search (when the turn needs it) and write the reply."""
        if reading.turn is not None:
            return reading.turn
        return self._search(reading, k)

    def searching(self, reading: Reading) -> str:
        """What to show while `finish` runs: the search as understood."""
        return self.replies.searching(reading.after)

    def choose(self, state: DialogueState, column: str, value: str, k: int = RESULTS_SHOWN) -> Turn:
        """The shopper answered a question: `value` of `column` becomes a filter."""
        intent = SearchIntent(set_attributes={column: value})
        return self._search(Reading(state, state.apply(intent), intent), k)

    def select(self, state: DialogueState, index: int) -> DialogueState:
        """The shopper clicked result `index` (1-based): it becomes the reference."""
        intent = select_result(index)
        return state.apply(intent, reference=self._reference_for(intent, state, None))

    def search_again(self, state: DialogueState, opening: str = "", k: int = RESULTS_SHOWN) -> Turn:
        """Search for `state` as it is. The UI changes the state directly for a click that
        needs no reader (a removed constraint, a result marked "not for me"), then asks
        for fresh results; `opening` starts the reply."""
        return self._search(Reading(state, state, SearchIntent()), k, opening)

    def reference_from_product(self, product_id: str) -> Reference:
        return self.retriever.reference_from_catalog(product_id)

    def product(self, product_id: str, score: float = 0.0) -> ShownProduct:
        record = self.retriever.catalog.product(product_id)
        return ShownProduct(record.id, record.title, record.image_path, dict(record.attributes), score)

    def _upload_reference(self, image: Image.Image | Reference) -> Reference:
        return image if isinstance(image, Reference) else self.retriever.reference_from_image(image)

    def _no_search(self, state: DialogueState, message: str, intent: SearchIntent, reply: str) -> Reading:
        """A turn that changes nothing but the conversation: the results and filters stay."""
        unchanged = state.apply(SearchIntent(action="smalltalk"))
        return Reading(state, unchanged, intent, turn=self._reply(unchanged, reply, intent))

    def _inferred(self, intent: SearchIntent, upload: Reference | None) -> tuple[dict[str, str], Question | None]:
        """Filters from a new search's photo: its kind and gender where the inference is sure
        and the shopper did not say otherwise; a question when it is unsure of the kind."""
        if intent.action != "search" or intent.reference != "upload" or upload is None:
            return {}, None
        matcher = self.retriever.matcher
        said = {*intent.set_attributes, *intent.drop_attributes}
        avoided = {n.casefold() for n in intent.negatives}
        inferred, question = {}, None
        for column in dict.fromkeys([*matcher.kind_columns[:1], matcher.people_column]):
            ranked = [(v, p) for v, p in upload.ranked.get(column or "", ()) if v.casefold() not in avoided]
            if column is None or column in said or not ranked:
                continue
            if ranked[0][1] >= self.trust_inferred:
                inferred[column] = ranked[0][0]
            elif column in matcher.kind_columns and len(ranked) > 1:
                question = Question(column, (ranked[0][0], ranked[1][0]))
        return inferred, question

    def _whom(self, after: DialogueState, message: str) -> Question | None:
        """"Socks for kids" where the catalogue has boys' and girls' things but no one value for
        children: the search runs without a person, and asks which."""
        matcher = self.retriever.matcher
        if not isinstance(message, str) or not matcher.names_children(message):
            return None
        if after.constraints.get(matcher.people_column or "") in matcher.children:
            return None
        return Question(matcher.people_column, matcher.children)

    def _reference_for(self, intent: SearchIntent, state: DialogueState, upload: Reference | None) -> Reference | None:
        if intent.reference == "upload":
            return upload
        if intent.reference == "result" and intent.result_index is not None:
            product_id = state.result_id(intent.result_index)
            return self.reference_from_product(product_id) if product_id else None
        return None

    def _answer(self, intent: SearchIntent, state: DialogueState) -> str:
        """Answer from the catalogue record of the result asked about (or the reference)."""
        product_id = state.result_id(intent.result_index) if intent.result_index else None
        if product_id is None and state.reference is not None:
            product_id = state.reference.product_id
        if product_id is None:
            return self.replies.answer(intent, state, None)
        record = self.retriever.catalog.product(product_id)
        return self.replies.answer(intent, state, record.attributes, record.title)

    @staticmethod
    def _reply(after: DialogueState, reply: str, intent: SearchIntent) -> Turn:
        return Turn(after, reply, intent=intent)

    def _search(self, reading: Reading, k: int, opening: str = "") -> Turn:
        state, intent = reading.after, reading.intent
        reference = state.reference
        found = reference if reference and reference.vector is not None else None
        target = state.target_attributes()
        text = state.description
        if not (found is not None or target or text):
            return self._reply(state, ASK, intent)
        free_negatives, filters = self._split_negatives(state.negatives)
        filters.update({c: [v] for c, v in state.constraints.items()})
        query = self.retriever.compose(found, text, target_attributes=target or None, negatives=free_negatives)
        query = feedback(query, self.retriever.vectors_of(state.liked[-FEEDBACK_ITEMS:]),
                         self.retriever.vectors_of(state.disliked[-FEEDBACK_ITEMS:]))
        exclude = [*state.disliked, *([reference.product_id] if reference and reference.product_id else [])]
        hits, relaxed = self._search_with_relaxing(query, k, exclude, filters, state.constraints)
        results = tuple(self.product(h.id, h.score) for h in hits)
        question = reading.question if results else None
        reply = self.replies.search(reading.before, state, len(results), relaxed, opening, intent=intent,
                                    inferred=reading.inferred, question=question, unread=reading.unread)
        coverage = getattr(hits, "coverage", None)  # a sharded index says when a shard did not answer
        if coverage is not None and coverage.partial:
            reply += f" (I {coverage.message}, so some products may be missing.)"
        return Turn(state.with_results([r.id for r in results]), reply, results, intent, question)

    def _split_negatives(self, negatives: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
        """Negatives that name a catalogue value become "anything but" filters; the rest push the query away."""
        matcher = self.retriever.matcher
        free, filters = [], {}
        for negative in negatives:
            mention = matcher.canonical(negative)
            if mention is None:
                free.append(negative)
                continue
            allowed = filters.get(mention.column, list(self.retriever.vocabulary[mention.column]))
            filters[mention.column] = [v for v in allowed if v != mention.value]
        return free, filters

    def _search_with_relaxing(self, query, k, exclude, filters, constraints) -> tuple[list, list[str]]:
        """Search with every filter; when nothing passes, leave out the shopper's constraints
        in the order of `_relaxations` (the latest request is kept longest) and say which."""
        def search(left_out: Sequence[str]) -> list:
            remaining = {c: v for c, v in filters.items() if c not in left_out}
            return self.retriever.search(query, k, exclude_ids=exclude, filters=remaining or None)

        hits = search(())
        droppable = [c for c in constraints if c in filters]
        if hits or not droppable:
            return hits, []
        widest = search(droppable)
        if widest:  # else the other filters (negatives) leave nothing whatever is left out
            for left_out in _relaxations(droppable):
                if len(left_out) == len(droppable):
                    break  # all of them: `widest`, searched already
                hits = search(left_out)
                if hits:
                    return hits, [constraints[c] for c in left_out]
        return widest, [constraints[c] for c in droppable]


def _relaxations(columns: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """The sets of constraints to leave out, in the order to try them; `columns` is oldest
    first. A newer constraint goes only once no set of older ones finds anything, and fewer
    go before more: after "black t-shirts for men", "heels instead" drops "men", and a kind
    chosen after a photo outlasts the colour asked for and the gender guessed before it."""
    for newest, column in enumerate(columns):
        for size in range(newest + 1):
            for older in itertools.combinations(columns[:newest], size):
                yield (*older, column)


def _without_unread_words(intent: SearchIntent) -> tuple[SearchIntent, str]:
    """The intent without the description's words in a script the readers cannot read (they
    read English), and those words: unread text must not steer a search as if understood."""
    words = intent.description.split()
    unread = [w for w in words if not _latin(w)]
    if not unread:
        return intent, ""
    kept = " ".join(w for w in words if _latin(w))
    return intent.model_copy(update={"description": kept}), " ".join(unread)


def _latin(word: str) -> bool:
    """Whether most of a word's letters are Latin ("café" yes, "платье" no); no letters: yes."""
    letters = [c for c in word if c.isalpha()]
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
    return not letters or latin * 2 >= len(letters)


def _photo_as_reference(intent: SearchIntent, upload: Reference | None) -> SearchIntent:
    """A search's reference as the turn allows it: the photo sent with this turn is the item
    under discussion from now on, so "current" means it ("same but red" + a photo); without
    a photo, "upload" falls back to the current item. Readers get this wrong (the LLM reader
    kept "current" on 61% of photo turns of a template query set), and it is not theirs to
    decide: the shopper attached the photo to be searched with."""
    if intent.action != "search":
        return intent
    if intent.reference == "upload" and upload is None:
        return intent.model_copy(update={"reference": "current"})
    if intent.reference == "current" and upload is not None:
        return intent.model_copy(update={"reference": "upload"})
    return intent


def _names_anything(intent: SearchIntent, upload: Reference | None) -> bool:
    """Whether a search intent still asks for something once unread words are gone."""
    return bool(intent.set_attributes or intent.negatives or intent.drop_attributes or intent.exclude_results
                or intent.description or intent.reference in ("result", "upload") and (upload or intent.result_index))
