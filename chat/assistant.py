"""One turn of the shopping assistant, end to end.

    message (+photo | +clicked result) -> rewriter -> SearchIntent -> DialogueState.apply
    -> compose the query -> index search -> reply + results

The assistant holds only read-only things (the retriever and the rewriter), so one instance
serves every user; each user's conversation is the `DialogueState` passed in and returned.
It follows the "rewrite, then search" idea: the target is described from the reference's
attributes (its catalogue record, or attributes inferred from an uploaded photo) with the
requested changes applied, fused with the reference image; explicit constraints ("for
women", "not black") become index filters; disliked results are never shown again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from PIL import Image

from chat.intent import SearchIntent, select_result
from chat.state import DialogueState
from retrieval.reference import Reference
from chat.uploads import UploadError, load_upload
from retrieval.catalog import Product
from retrieval.compose import feedback
from retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

RESULTS_SHOWN = 12
FEEDBACK_ITEMS = 5  # the latest likes / dislikes that steer the next query


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
    """What one step returns: the next state, the reply, and the results to show (if any)."""

    state: DialogueState
    reply: str
    results: tuple[ShownProduct, ...] = ()
    intent: SearchIntent | None = None


class Assistant:
    """Runs turns against one catalogue; stateless between calls."""

    def __init__(self, retriever: Retriever, rewriter: Rewriter):
        self.retriever = retriever
        self.rewriter = rewriter

    def step(
        self,
        state: DialogueState,
        message: str,
        image: str | Path | Image.Image | Reference | None = None,
        k: int = RESULTS_SHOWN,
    ) -> Turn:
        """Answer one message. `image` is an upload (a file, an image, or an already encoded
        photo); bad uploads and unusable messages come back as a friendly reply, never raise."""
        try:
            upload = self._upload_reference(image) if image is not None else None
        except UploadError as err:
            return Turn(state, str(err))
        intent = self.rewriter.rewrite(message, state, has_upload=upload is not None)
        if intent.action == "search" and intent.reference == "upload" and upload is None:
            intent = intent.model_copy(update={"reference": "current"})
        try:
            after = state.apply(intent, reference=self._reference_for(intent, state, upload), message=message)
        except ValueError as err:
            return Turn(state, f"Sorry, {err}.", intent=intent)
        if intent.action == "answer":
            return Turn(after, self._answer(intent, after), intent=intent)
        if intent.action != "search":
            return Turn(after, intent.reply, intent=intent)
        return self._search(after, intent, k)

    def select(self, state: DialogueState, index: int) -> DialogueState:
        """The shopper clicked result `index` (1-based): it becomes the reference."""
        intent = select_result(index)
        return state.apply(intent, reference=self._reference_for(intent, state, None))

    def search_again(self, state: DialogueState, reply: str = "", k: int = RESULTS_SHOWN) -> Turn:
        """Search for `state` as it is. The UI changes the state directly for a click that
        needs no rewriting (a removed constraint, a result marked "not for me"), then asks
        for fresh results; `reply` opens the reply."""
        return self._search(state, SearchIntent(reply=reply), k)

    def reference_from_product(self, product_id: str) -> Reference:
        return self.retriever.reference_from_catalog(product_id)

    def product(self, product_id: str, score: float = 0.0) -> ShownProduct:
        record = self.retriever.catalog.product(product_id)
        return ShownProduct(record.id, record.title, record.image_path, dict(record.attributes), score)

    def _upload_reference(self, image: str | Path | Image.Image | Reference) -> Reference:
        return image if isinstance(image, Reference) else self.retriever.reference_from_image(load_upload(image))

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
            return "Which item do you mean? Say e.g. \"what colour is the second one?\"."
        record = self.retriever.catalog.product(product_id)
        subject = f"Result {intent.result_index}" if intent.result_index else "It"
        if intent.question in record.attributes:
            return f"{subject} is {record.attributes[intent.question]} ({record.title})."
        details = ", ".join(v for v in record.attributes.values() if v)
        return f"{subject} is \"{record.title}\" ({details})."

    def _search(self, state: DialogueState, intent: SearchIntent, k: int) -> Turn:
        reference = state.reference
        found = reference if reference and reference.vector is not None else None
        target = state.target_attributes()
        text = state.description
        if not (found is not None or target or text):
            return Turn(state, "Tell me what you're looking for, e.g. a colour and a type of item, or upload a photo.", intent=intent)
        free_negatives, filters = self._split_negatives(state.negatives)
        filters.update({c: [v] for c, v in state.constraints.items()})
        query = self.retriever.compose(found, text, target_attributes=target or None, negatives=free_negatives)
        query = feedback(query, self.retriever.vectors_of(state.liked[-FEEDBACK_ITEMS:]),
                         self.retriever.vectors_of(state.disliked[-FEEDBACK_ITEMS:]))
        exclude = [*state.disliked, *([reference.product_id] if reference and reference.product_id else [])]
        hits, relaxed = self._search_with_relaxing(query, k, exclude, filters, state.constraints)
        results = tuple(self.product(h.id, h.score) for h in hits)
        reply = _search_reply(intent.reply, len(results), relaxed)
        return Turn(state.with_results([r.id for r in results], reply), reply, results, intent)

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
        """Search with every filter; when nothing passes, drop the shopper's constraints one by one
        (the most recent last) and say which ones were dropped."""
        relaxed: list[str] = []
        remaining = dict(filters)
        while True:
            hits = self.retriever.search(query, k, exclude_ids=exclude, filters=remaining or None)
            droppable = [c for c in constraints if c in remaining]
            if hits or not droppable:
                return hits, relaxed
            column = droppable[0]
            relaxed.append(constraints[column])
            del remaining[column]


def _search_reply(searching: str, count: int, relaxed: Sequence[str]) -> str:
    if count == 0:
        return f"{searching} I found nothing that matches. Try fewer constraints, or start over."
    note = f" Nothing matched {' + '.join(relaxed)}, so I left that out." if relaxed else ""
    return f"{searching}{note} Here are {count} results."


def make_rewriter(llm_spec: str, vocabulary: Mapping[str, Mapping[str, int]]) -> Rewriter:
    """`rules`, or an LLM (model id, folder, .gguf file) that falls back to the rules."""
    from chat.rules import RulesRewriter

    rules = RulesRewriter(vocabulary)
    if llm_spec == "rules":
        return rules
    from chat.llm import load_llm
    from chat.llm_rewriter import LLMRewriter

    return LLMRewriter(load_llm(llm_spec), vocabulary, fallback=rules)
