"""Immutable dialogue state: what the shopper is after once a turn has been applied.

Pure data and pure transitions: `apply` takes the turn's intent plus whatever the caller had
to look up or compute (the picked result's vector and attributes, the uploaded photo's
embedding) and returns a new state, so the same dialogue replays to the same state, a
Gradio `gr.State` can hold it per user, and undo is just keeping the previous state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from chat.intent import Limit, SearchIntent
from retrieval.reference import Reference

UNDO_DEPTH = 10           # turns the UI can undo; older states are dropped
DESCRIPTION_CHARS = 300   # the free-text target; a 10,000-character paste must not bloat the state
MAX_NEGATIVES = 10
MAX_REMEMBERED_IDS = 200  # liked / disliked ids

@dataclass(frozen=True)
class Question:
    """What the assistant asks the shopper to settle with one click: which of `options`
    (values of `column`, likeliest first) is meant."""

    column: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class DialogueState:
    """Everything the next turn needs to know; never mutated, each turn makes a new one."""

    reference: Reference | None = None
    constraints: dict[str, str] = field(default_factory=dict)   # column -> wanted value
    negatives: tuple[str, ...] = ()                              # values or free text to avoid
    description: str = ""                                        # latest free-text target
    results: tuple[str, ...] = ()                                # ids shown last, in order
    scores: tuple[float, ...] = field(default=(), compare=False)  # their search scores
    seen: tuple[str, ...] = ()                                   # ids shown before them by this search
    limits: dict[str, Limit] = field(default_factory=dict)       # numeric column -> bounds
    relaxed: tuple[str, ...] = ()                                # constraint values the shown search left out
    guessed: tuple[str, ...] = ()                                # columns whose constraint a photo suggested
    asked: Question | None = None                                # what the last turn asked, until answered
    liked: tuple[str, ...] = ()                                  # ids picked or liked
    disliked: tuple[str, ...] = ()                               # ids rejected
    compared: tuple[str, ...] = ()                               # ids the last turn set side by side
    turn: int = 0
    previous: DialogueState | None = field(default=None, compare=False, repr=False)

    def apply(self, intent: SearchIntent, *, reference: Reference | None = None,
              guessed: tuple[str, ...] = ()) -> DialogueState:
        """The state after this turn.

        `reference` is needed when the intent starts from an upload (the photo's embedding)
        and welcome when it starts from a result (that product's vector and attributes);
        without it a result becomes a bare product id. `guessed` names the columns whose
        value the caller inferred from a photo rather than read in the message: they give
        way first when nothing matches. Raises ValueError when the intent names a result
        that was not shown or an upload that was not given.
        """
        if intent.action == "reset":
            after = DialogueState()
        elif intent.action == "search":
            after = self._search(intent, reference, guessed)
        elif intent.action == "more":  # the same search, past what it showed
            after = replace(self, seen=_unique([*self.seen, *self.results]))
        else:  # answer, compare, smalltalk: the search itself does not change
            after = self
        # Kept one turn only: "the other one" means one of them right after a comparison.
        compared = _unique([self.result_id(i) for i in intent.compared]) if intent.action == "compare" else ()
        return self._next_turn(after, compared=compared)

    def with_results(self, ids: list[str] | tuple[str, ...], relaxed: tuple[str, ...] = (),
                     asked: Question | None = None, scores: tuple[float, ...] = ()) -> DialogueState:
        """Record what this turn showed (and the search's scores), the constraint values its
        search left out, and what it asks; part of the same turn for undo."""
        return replace(self, results=tuple(ids), scores=tuple(scores), relaxed=tuple(relaxed), asked=asked)

    def asking(self, question: Question | None) -> DialogueState:
        """The state with `question` waiting for an answer (None: nothing asked)."""
        return replace(self, asked=question)

    def release(self, value: str) -> DialogueState:
        """The state without the constraint, negative or numeric limit `value` (as the UI's
        chip names it), as a turn of its own so that undo brings it back. A click needs no
        reader. The free-text description goes too: it usually repeats the released word
        ("black t-shirt"), and the remaining constraints and reference still describe the target."""
        key = value.casefold()
        return self._next_turn(
            self, constraints={c: v for c, v in self.constraints.items() if v.casefold() != key},
            negatives=tuple(n for n in self.negatives if n.casefold() != key), description="",
            limits={c: v for c, v in self.limits.items() if c.casefold() != key}, asked=None, compared=())

    def with_liked(self, product_id: str) -> DialogueState:
        """Record a liked result. Not a turn: the search is unchanged, so nothing to undo."""
        return replace(self, liked=_unique([*self.liked, product_id])[-MAX_REMEMBERED_IDS:])

    def without_liked(self, product_id: str) -> DialogueState:
        """Take a like back (the ♥ toggles); like `with_liked`, not a turn."""
        return replace(self, liked=tuple(i for i in self.liked if i != product_id))

    def relaxed_columns(self) -> set[str]:
        """The constraint columns the search on screen left out."""
        return {c for c, v in self.constraints.items() if v in self.relaxed}

    def undo(self) -> DialogueState:
        """The state before the last turn that changed the search (itself when there is nothing
        to undo): a question answered, a comparison or a message not understood leaves the
        search as it was, and "undo" after it means the change before it, not the chat."""
        earlier = self.previous
        while earlier is not None and earlier.previous is not None and _same_search(earlier, self):
            earlier = earlier.previous
        return earlier if earlier is not None else self

    def back_to(self, wanted: dict[str, str]) -> DialogueState | None:
        """"go back to the shoes": the latest earlier search that showed results and wanted all of
        `wanted`, as a new turn (undo comes back here), or None when no earlier search did or the
        current one does. Kept with what it showed and its filters, which a new search for the
        values alone would lose."""
        if _wants(self, wanted):
            return None
        earlier = self.previous
        while earlier is not None and not (earlier.results and _wants(earlier, wanted)):
            earlier = earlier.previous
        if earlier is None:
            return None
        return self._next_turn(earlier, compared=())

    def picked_from(self) -> DialogueState | None:
        """The state whose results the last turn picked the item now searched from ("the first
        one in blue"), or None when the last turn picked none."""
        before, reference = self.previous, self.reference
        if before is None or reference is None or before.reference == reference:
            return None
        return before if reference.product_id in before.results else None

    def repicked(self, reference: Reference) -> DialogueState:
        """"no, I meant the second one": the last turn's search from `reference` instead of the
        result it picked, which is no longer liked; a turn of its own."""
        wrong = self.reference.product_id if self.reference else None
        liked = [i for i in self.liked if i != wrong] + [reference.product_id]
        return self._next_turn(self, reference=reference, liked=_unique(liked)[-MAX_REMEMBERED_IDS:], seen=(), relaxed=(),
                               asked=None, compared=())

    def _next_turn(self, after: DialogueState, **changes) -> DialogueState:
        """`after` with `changes` as the turn after this one, this state (bounded) behind it for undo."""
        return replace(after, **changes, turn=self.turn + 1, previous=_trimmed(self, UNDO_DEPTH - 1))

    @property
    def can_undo(self) -> bool:
        return self.previous is not None

    def reference_number(self) -> int | None:
        """The number (1-based) the item on screen is shown under among the results, or None."""
        if self.reference is None or self.reference.product_id not in self.results:
            return None
        return self.results.index(self.reference.product_id) + 1

    def compared_numbers(self) -> tuple[int, ...]:
        """The numbers (1-based) of the results the last turn compared, in the order compared."""
        return tuple(self.results.index(i) + 1 for i in self.compared if i in self.results)

    def result_id(self, index: int) -> str | None:
        """The id of shown result `index` (1-based), or None when there is no such result."""
        return self.results[index - 1] if 1 <= index <= len(self.results) else None

    def target_attributes(self) -> dict[str, str]:
        """What the shopper now wants: the reference's attributes overridden by constraints,
        minus any value the shopper said to avoid."""
        wanted = dict(self.reference.attributes) if self.reference else {}
        wanted.update(self.constraints)
        avoided = {n.casefold() for n in self.negatives}
        return {c: v for c, v in wanted.items() if v.casefold() not in avoided}

    def _search(self, intent: SearchIntent, reference: Reference | None, guessed: tuple[str, ...]) -> DialogueState:
        """Apply a search turn. A new search (reference none/upload) starts from a clean slate
        but remembers what was shown, picked and rejected."""
        fresh = intent.reference in ("none", "upload")
        base = DialogueState(results=self.results, liked=self.liked,
                             disliked=self.disliked) if fresh else self
        new_reference = self._resolve_reference(intent, reference)
        wanted = {v.casefold() for v in intent.set_attributes.values()}
        added = [n for n in intent.negatives if n.casefold() not in wanted]
        avoided = {n.casefold() for n in added}
        # Oldest first, so what this turn changes goes last: a search that finds nothing leaves
        # out the oldest constraints first (`Assistant._search_with_relaxing`). A value said
        # again unchanged (the person a new search carries over) keeps its age.
        again = {c for c, v in intent.set_attributes.items() if self.constraints.get(c) == v}
        kept = {c: v for c, v in base.constraints.items()
                if c not in intent.drop_attributes and (c not in intent.set_attributes or c in again)}
        carried = {c: v for c, v in self.constraints.items() if c in again and c not in kept}
        constraints = {**carried, **kept, **{c: v for c, v in intent.set_attributes.items() if c not in again}}
        # A value the shopper now avoids stops being wanted, and a value wanted again stops
        # being avoided: the latest word on a value wins.
        constraints = {c: v for c, v in constraints.items() if v.casefold() not in avoided}
        negatives = [n for n in base.negatives if n.casefold() not in wanted] + added
        rejected = [self.result_id(i) for i in intent.exclude_results]
        picked = [new_reference.product_id] if intent.reference == "result" else []
        limits = {c: v for c, v in base.limits.items() if c not in intent.drop_attributes}
        limits.update(intent.limits)
        said = {*intent.set_attributes, *intent.drop_attributes}
        still_guessed = [c for c in base.guessed if c in constraints and c not in said]
        return replace(
            base, reference=new_reference, constraints=constraints, limits=limits,
            negatives=_unique(negatives)[-MAX_NEGATIVES:],
            description=_clip(intent.description, DESCRIPTION_CHARS) or base.description,
            liked=_unique([*base.liked, *picked])[-MAX_REMEMBERED_IDS:],
            disliked=_unique([*base.disliked, *rejected])[-MAX_REMEMBERED_IDS:],
            seen=(), relaxed=(), asked=None,
            guessed=_unique([*still_guessed, *(c for c in guessed if c in constraints)]))

    def _resolve_reference(self, intent: SearchIntent, given: Reference | None
                           ) -> Reference | None:
        """The reference the intent names; `given` is used for an upload or a result only."""
        if intent.reference == "none":
            return None
        if intent.reference == "current":
            return self.reference
        if given is not None:
            return given
        if intent.reference == "upload":
            raise ValueError("reference 'upload' needs the photo: pass "
                             "reference=Reference('upload', vector=...)")
        product_id = self.result_id(intent.result_index or 0)
        if product_id is None:
            raise ValueError(f"there is no result {intent.result_index}: {len(self.results)} shown")
        return Reference("catalog", product_id=product_id)


def _wants(state: DialogueState, wanted: dict[str, str]) -> bool:
    """Whether the state's search wants every value of `wanted`."""
    target = state.target_attributes()
    return all(target.get(c, "").casefold() == v.casefold() for c, v in wanted.items())


def _same_search(one: DialogueState, other: DialogueState) -> bool:
    """Whether two states search and show the same (what was compared and the turn aside)."""
    return replace(one, turn=0, compared=()) == replace(other, turn=0, compared=())


def _trimmed(state: DialogueState, depth: int) -> DialogueState:
    """The state with at most `depth` previous states behind it (bounded undo memory)."""
    if state.previous is None:
        return state
    if depth <= 0:
        return replace(state, previous=None)
    return replace(state, previous=_trimmed(state.previous, depth - 1))


def _unique(items: list) -> tuple:
    """Items in order, without repeats (case-insensitive for text) or Nones."""
    seen: set = set()
    kept = []
    for item in items:
        key = item.casefold() if isinstance(item, str) else item
        if item is not None and key not in seen:
            seen.add(key)
            kept.append(item)
    return tuple(kept)


def _clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters."""
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"
