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
while the search runs. Besides searches, a turn may undo, show more, compare results, answer
a question from the catalogue's record, or take an attribute from another shown result ("in
the colour of #2"). An uploaded photo's inferred kind and gender become filters (shown as
chips the shopper can remove) when the inference is sure of them; when it is unsure of the
kind, the turn asks which of the two likeliest it is, and a shopper who moves on without
answering gets the likelier one. A message the readers cannot read is not searched.
"""

from __future__ import annotations

import logging
import statistics
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from PIL import Image

from chat import language, moves
from chat.intent import Limit, SearchIntent, select_result
from chat.relaxing import Relaxed, Roles, relax
from chat.replies import Replies
from chat.rules import small_talk_kind
from chat.state import DialogueState, Question
from chat.text import text_left
from retrieval.catalog import Product
from retrieval.compose import feedback
from retrieval.reference import Reference
from retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

RESULTS_SHOWN = 12
FEEDBACK_ITEMS = 5  # the latest likes / dislikes that steer the next query
# An uploaded photo's inferred kind / gender at least this probable becomes a filter; a less
# sure kind becomes a question. The probabilities are the attribute heads' calibrated ones;
# picked on non-test items (benchmarks/README_photos.md): 0.9 keeps uploaded recall within half
# a point of never filtering and asks about a fifth of photos, where 0.8 filtered more wrongly.
TRUST_INFERRED = 0.9
SHORT_ANSWER_WORDS = 4  # "a dress", "it's a kurta": a typed answer to a question, not a new search


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
    """What one step returns: the next state, the reply, and the results this turn found (none
    when it searched nothing: the state's results stay on screen); `question`, when the turn
    needs the shopper to settle something (one click answers it)."""

    state: DialogueState
    reply: str
    results: tuple[ShownProduct, ...] = ()
    intent: SearchIntent | None = None

    @property
    def question(self) -> Question | None:
        return self.state.asked


@dataclass(frozen=True)
class Reading:
    """A message read and applied, before any search: what the turn is about to do.

    `turn` is set when nothing needs searching (small talk, an answer, text it could not
    read); otherwise `finish` searches for `after`. `inferred` are the filters taken from an
    uploaded photo, `adopted` the likelier answer to a question the shopper passed over,
    `question` what to ask about the photo, `unheld` what was asked that the catalogue does not
    record, `listed` the values said with a searched one that the search left for later ("red or
    blue": Blue)."""

    before: DialogueState
    after: DialogueState
    intent: SearchIntent
    turn: Turn | None = None
    inferred: dict[str, str] = field(default_factory=dict)
    adopted: dict[str, str] = field(default_factory=dict)
    question: Question | None = None
    unread: str = ""  # words left out: not in a script the readers read
    unheld: tuple[str, ...] = ()
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Assistant:
    """Runs turns against one catalogue; stateless between calls."""

    def __init__(self, retriever: Retriever, rewriter: Rewriter, trust_inferred: float = TRUST_INFERRED):
        self.retriever = retriever
        self.rewriter = rewriter
        self.replies = Replies(retriever.matcher, retriever.catalog.detail_columns)
        self.trust_inferred = trust_inferred
        matcher = retriever.matcher
        self.roles = Roles(kind=(matcher.kind_columns or (None,))[0], person=matcher.people_column,
                           colour=matcher.colour_column, neighbours=matcher.neighbours)

    def step(self, state: DialogueState, message: str, image: Image.Image | Reference | None = None,
             k: int = RESULTS_SHOWN) -> Turn:
        """Answer one message. `image` is a checked upload (`shop.uploads`) or an already
        encoded photo. The intent is applied once, the search runs, and the reply is
        written from what happened; unusable intents come back as a friendly reply."""
        return self.finish(self.read(state, message, image), k)

    def read(self, state: DialogueState, message: str, image: Image.Image | Reference | None = None) -> Reading:
        """The first half of a turn: read the message and apply it, without searching."""
        upload = self._upload_reference(image) if image is not None else None
        answered = None if upload is not None else self._typed_answer(state, message)
        if answered is not None:
            return self._answered(state, *answered)
        intent = _photo_as_reference(self.rewriter.rewrite(message, state, has_upload=upload is not None), upload)
        if intent.action in ("undo", "compare", "more", "answer", "reset", "smalltalk"):
            return self._not_a_search(state, intent, message)
        missing = self._missing_result(intent, state)
        if missing:
            return self._no_search(state, intent, self.replies.no_such_result(state))
        intent, unread = _without_unread_words(intent)
        if unread and not _names_anything(intent, upload):
            return self._no_search(state, intent, self.replies.unread(unread))
        intent = self._borrowed(intent, state)
        intent, unheld = self._limits(intent, state)
        inferred, question = self._inferred(intent, upload)
        if inferred:
            intent = intent.model_copy(update={"set_attributes": {**inferred, **intent.set_attributes}})
        after = self._text_kept(state, state.apply(intent, reference=self._reference_for(intent, state, upload),
                                                    guessed=tuple(inferred)), intent)
        adopted = self._passed_over(state, after, intent)
        if adopted:  # described as the likelier kind, and still asked
            reference = replace(after.reference, attributes={**after.reference.attributes, **adopted})
            after, question = replace(after, reference=reference), state.asked
        question = question or self._whom(after, message) or _still_open(state, after, intent)
        return Reading(state, after, intent, inferred=inferred, adopted=adopted, question=question, unread=unread,
                       unheld=unheld, listed=self._listed(message, intent, state))

    def finish(self, reading: Reading, k: int = RESULTS_SHOWN) -> Turn:
        """The second half of a turn: search (when the turn needs it) and write the reply."""
        if reading.turn is not None:
            return reading.turn
        if reading.intent.action == "more":
            return self._more(reading, k)
        return self._search(reading, k)

    def searching(self, reading: Reading) -> str:
        """What to show while `finish` runs: the search as understood."""
        return self.replies.searching(reading.after)

    def choose(self, state: DialogueState, column: str, value: str, k: int = RESULTS_SHOWN) -> Turn:
        """The shopper answered a question: `value` of `column` becomes a filter."""
        return self.finish(self._answered(state, column, value), k)

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

    # --- turns that search nothing ---------------------------------------------------------

    def _not_a_search(self, state: DialogueState, intent: SearchIntent, message: str) -> Reading:
        """Undo, compare, more, a question, a restart or small talk."""
        if intent.action == "undo":
            return self._undo(state, intent)
        if intent.action == "more":
            if not state.results:
                return self._no_search(state, intent, self.replies.nothing_shown())
            return Reading(state, state.apply(intent), intent)
        after = state.apply(intent)
        if intent.action == "compare":
            reply = self.replies.compare(intent.compared, [self._details(state, i) for i in intent.compared])
        elif intent.action == "answer":
            reply = self._answer(intent, after)
        elif intent.action == "reset":
            reply = self.replies.reset()
        elif intent.small_talk == "which":  # "the one on the right": which number
            reply = self.replies.no_such_result(state)
        else:
            kind = intent.small_talk or small_talk_kind(message)
            said = language.in_english(message) if kind == "foreign" and isinstance(message, str) else None
            reply = self.replies.small_talk(kind, said)
        return Reading(state, after, intent, turn=Turn(after, reply, intent=intent))

    def _undo(self, state: DialogueState, intent: SearchIntent) -> Reading:
        """One step back; or, for an undo naming values ("go back to the shoes"), back to the
        latest earlier search that wanted them; or, for one naming a result ("no, I meant the
        second one"), the last turn's search again from that result of those it picked from."""
        if intent.reference == "result":
            return self._repicked(state, intent)
        earlier = state.back_to(intent.set_attributes) if intent.set_attributes else None
        if earlier is not None:
            return Reading(state, earlier, intent, turn=Turn(earlier, self.replies.back_to(earlier), intent=intent))
        if not state.can_undo:
            return self._no_search(state, intent, self.replies.nothing_to_undo())
        before = state.undo()
        reply = self.replies.undone(before)
        return Reading(state, before, intent, turn=Turn(before, reply, intent=intent))

    def _repicked(self, state: DialogueState, intent: SearchIntent) -> Reading:
        """The last turn's search from the result meant (`intent.result_index` among the results
        the last turn picked from); searched by `finish`."""
        shown = state.picked_from()
        product_id = shown.result_id(intent.result_index or 0) if shown else None
        if product_id is None:
            return self._no_search(state, intent, self.replies.no_such_result(shown or state))
        return Reading(state, state.repicked(self.reference_from_product(product_id)), intent)

    def _no_search(self, state: DialogueState, intent: SearchIntent, reply: str) -> Reading:
        """A turn that changes nothing but the conversation: the results and filters stay."""
        unchanged = state.apply(SearchIntent(action="smalltalk"))
        return Reading(state, unchanged, intent, turn=Turn(unchanged, reply, intent=intent))

    def _answer(self, intent: SearchIntent, state: DialogueState) -> str:
        """Answer from the catalogue record of the result asked about (or the reference)."""
        product_id = state.result_id(intent.result_index) if intent.result_index else None
        if product_id is None and state.reference is not None:
            product_id = state.reference.product_id
        if product_id is None:
            return self.replies.answer(intent, None)
        return self.replies.answer(intent, self.retriever.catalog.details(product_id))

    def _details(self, state: DialogueState, index: int) -> dict[str, str]:
        product_id = state.result_id(index)
        return self.retriever.catalog.details(product_id) if product_id else {}

    # --- what a search turn means ------------------------------------------------------------

    def _typed_answer(self, state: DialogueState, message: str) -> tuple[str, str] | None:
        """A short message naming one value of the asked attribute ("a dress") answers the
        question; anything longer is a new message."""
        question = state.asked
        if question is None or not isinstance(message, str) or len(message.split()) > SHORT_ANSWER_WORDS:
            return None
        mentions = self.retriever.matcher.find(message.lower())
        if len(mentions) == 1 and mentions[0].column == question.column:
            return question.column, mentions[0].value
        return None

    def _answered(self, state: DialogueState, column: str, value: str) -> Reading:
        intent = SearchIntent(set_attributes={column: value})
        return Reading(state, self._text_kept(state, state.apply(intent), intent), intent)

    def _text_kept(self, before: DialogueState, after: DialogueState, intent: SearchIntent) -> DialogueState:
        """`after` with the search's old text less what the turn changed (`chat.text.text_left`):
        "for the kids", answered "girls", searches no "kids"."""
        left = None if intent.description else text_left(before.description, intent, self.retriever.matcher)
        return after if left is None else replace(after, description=left)

    def _missing_result(self, intent: SearchIntent, state: DialogueState) -> bool:
        named = [intent.result_index] if intent.reference == "result" else []
        return any(state.result_id(i or 0) is None for i in [*named, *intent.take_from.values()])

    def _borrowed(self, intent: SearchIntent, state: DialogueState) -> SearchIntent:
        """"in the colour of #2": that result's value becomes the wanted one."""
        if not intent.take_from:
            return intent
        taken = {}
        for column, index in intent.take_from.items():
            value = self.retriever.catalog.attributes(state.result_id(index)).get(column)
            if value:
                taken[column] = value
        return intent.model_copy(update={"set_attributes": {**intent.set_attributes, **taken}})

    def _limits(self, intent: SearchIntent, state: DialogueState) -> tuple[SearchIntent, tuple[str, ...]]:
        """Numeric wishes ("cheaper", "under 50") as bounds on the catalogue's column for them;
        aspects the catalogue does not record come back as unheld, to be said."""
        catalog = self.retriever.catalog
        limits, unheld = {}, list(intent.unheld)
        for aspect, limit in intent.limits.items():
            column = moves.aspect_column(aspect, catalog.numeric_columns)
            if column is None:
                unheld.append(aspect)
                continue
            limits[column] = _bounded(limit, catalog.numbers(column), state)
        unheld = [a for a in unheld if moves.aspect_column(a, catalog.detail_columns) is None]
        return intent.model_copy(update={"limits": limits}), tuple(dict.fromkeys(unheld))

    def _listed(self, message: str, intent: SearchIntent, state: DialogueState) -> dict[str, tuple[str, ...]]:
        """Column -> the values a message listed with the one its intent searches ("red or blue
        dresses", Red searched: Blue), and under `moves.RESULTS` the shown results listed with
        the one searched from, whichever reader chose it, so the reply can name them."""
        matcher = self.retriever.matcher
        text = message.lower() if isinstance(message, str) else ""
        listed = {}
        for values in moves.listed(text, matcher.find(text), matcher.kind_columns):
            searched = intent.set_attributes.get(values[0].column)
            if searched in {m.value for m in values}:
                # "a belt and a bag to match": the bag is to match too, as the shopper must say it
                matching = "matching " if values[0].column in matcher.kind_columns and moves.MATCHING.search(text) else ""
                listed[values[0].column] = tuple(dict.fromkeys(matching + m.value for m in values if m.value != searched))
        results = moves.listed_results(text, state)
        if results and intent.result_index in results[1]:  # "#1 and #2 in white", #1 searched: #2
            listed[moves.RESULTS] = tuple(f"#{n}" for n in results[1] if n != intent.result_index)
        return listed

    def _upload_reference(self, image: Image.Image | Reference) -> Reference:
        return image if isinstance(image, Reference) else self.retriever.reference_from_image(image)

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

    def _passed_over(self, before: DialogueState, after: DialogueState, intent: SearchIntent) -> dict[str, str]:
        """A question about the photo's kind that the shopper moved on from ("in red" after "Is
        this a dress or a kurta?"): the photo is described as the likelier answer, so the search
        does not run with no kind at all, but it is no filter (a wrong one would hide every
        right product) and the question stays open."""
        question = before.asked
        reference = after.reference
        if (question is None or question.column not in self.retriever.matcher.kind_columns or reference is None
                or reference.source != "upload" or intent.reference != "current"
                or question.column in after.constraints or question.column in intent.drop_attributes):
            return {}
        return {question.column: question.options[0]}

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

    # --- searching --------------------------------------------------------------------------

    def _search(self, reading: Reading, k: int, opening: str = "") -> Turn:
        state, intent = reading.after, reading.intent
        reference = state.reference
        if not (reference is not None and reference.vector is not None or state.target_attributes() or state.description):
            return Turn(state, self.replies.ask(), intent=intent)
        query = self._query(state)
        filters = self._filters(state)
        exclude = [*state.disliked, *([reference.product_id] if reference and reference.product_id else [])]

        def search(f: dict[str, list[str]]) -> list:
            return self.retriever.search(query, k, exclude_ids=exclude, filters=f or None)

        relaxed = relax(search, filters, {**state.constraints, **self._limit_labels(state)}, self._roles_with(reading.listed),
                        guessed=state.guessed, kind_of=self._kind_of, avoid=self._split_negatives(state.negatives)[1])
        relaxed = self._children_first(reading, relaxed, filters, search)
        searched = _as_searched(state, relaxed)
        results = tuple(self.product(h.id, h.score) for h in relaxed.hits)
        question = self._question_after(reading, relaxed, results)
        reply = self.replies.search(reading.before, searched, len(results), relaxed, opening, intent=intent,
                                    inferred=reading.inferred, adopted=reading.adopted, question=question,
                                    unread=reading.unread, unheld=reading.unheld, listed=reading.listed)
        reply += self._coverage_note(relaxed.hits)
        shown = searched.with_results([r.id for r in results], relaxed.left_out, question, tuple(r.score for r in results))
        return Turn(shown, reply, results, intent)

    def _more(self, reading: Reading, k: int) -> Turn:
        """The same search's next results, past everything shown since it began."""
        state = reading.after
        query = self._query(state)
        reference = state.reference
        exclude = [*state.disliked, *state.seen, *([reference.product_id] if reference and reference.product_id else [])]
        filters = {c: v for c, v in self._filters(state).items() if c not in state.relaxed_columns()}
        hits = self.retriever.search(query, k, exclude_ids=exclude, filters=filters or None)
        if not hits:
            kept = reading.before.apply(SearchIntent(action="smalltalk"))
            return Turn(kept, self.replies.no_more(kept), intent=reading.intent)
        results = tuple(self.product(h.id, h.score) for h in hits)
        reply = self.replies.more(state, len(results)) + self._coverage_note(hits)
        return Turn(state.with_results([r.id for r in results], state.relaxed, scores=tuple(r.score for r in results)),
                    reply, results, reading.intent)

    def _children_first(self, reading: Reading, relaxed: Relaxed, filters: dict[str, list[str]],
                        search: Callable[[dict[str, list[str]]], list]) -> Relaxed:
        """While the shopper is asked whom "for the kids" is for, boys' and girls' things come
        first: the search filtered on either, then the rest of what it found. Not a photo's two
        likeliest kinds while they are asked: shown first, they pushed the targets of real
        people's captions out of the top 10 (dev captions, photo uploaded, rules: R@10 66.0 ->
        63.3; the same over 2-3 turns 68.0 -> 65.7), though generated colour changes gained 0.3."""
        question, person = reading.question, self.roles.person
        if (question is None or question.column != person or set(question.options) != set(self.retriever.matcher.children)
                or person in reading.after.constraints or relaxed.left_out or relaxed.swapped):
            return relaxed
        first = search({**filters, person: list(question.options)})
        ids = {hit.id for hit in first}
        hits = [*first, *(hit for hit in relaxed.hits if hit.id not in ids)][:len(relaxed.hits)]
        return replace(relaxed, hits=hits)

    def _query(self, state: DialogueState):
        reference = state.reference
        found = reference if reference and reference.vector is not None else None
        free_negatives, _ = self._split_negatives(state.negatives)
        target = state.target_attributes()
        query = self.retriever.compose(found, state.description, target_attributes=target or None,
                                       negatives=free_negatives)
        return feedback(query, self.retriever.vectors_of(state.liked[-FEEDBACK_ITEMS:]),
                        self.retriever.vectors_of(state.disliked[-FEEDBACK_ITEMS:]))

    def _filters(self, state: DialogueState) -> dict[str, list[str]]:
        """Index filters: what is avoided, the wanted values, and numeric bounds."""
        _, filters = self._split_negatives(state.negatives)
        filters.update({c: [v] for c, v in state.constraints.items()})
        catalog = self.retriever.catalog
        for column, limit in state.limits.items():
            filters[column] = sorted({str(v) for v in _values_within(catalog.column(column), limit)})
        return filters

    def _limit_labels(self, state: DialogueState) -> dict[str, str]:
        """Numeric limits as constraints that may give way, named as the chips name them."""
        return {column: self.replies.limit_label(column, limit) for column, limit in state.limits.items()}

    def _roles_with(self, listed: dict[str, tuple[str, ...]]) -> Roles:
        """The roles for a search whose message listed colours ("yellow or white"): the others
        said give way for the first before its neighbours do, as the shopper said any is fine."""
        others = listed.get(self.roles.colour or "", ())
        if not others:
            return self.roles
        return replace(self.roles, neighbours=lambda value: (*others, *self.roles.neighbours(value)))

    def _kind_of(self, hit) -> str:
        return self.retriever.catalog.attributes(hit.id).get(self.roles.kind or "", "")

    def _question_after(self, reading: Reading, relaxed: Relaxed, results: tuple) -> Question | None:
        """The question this turn leaves: which of the nearest kinds, where the asked kind does
        not exist for the person; else the reading's (which kind the photo is, or for whom)."""
        if not results:
            return None
        if relaxed.offered and len(relaxed.offered) > 1:
            return Question(self.roles.kind, relaxed.offered)
        return reading.question

    @staticmethod
    def _coverage_note(hits) -> str:
        coverage = getattr(hits, "coverage", None)  # a sharded index says when a shard did not answer
        return f" (I {coverage.message}, so some products may be missing.)" if coverage is not None and coverage.partial else ""

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


def _still_open(before: DialogueState, after: DialogueState, intent: SearchIntent) -> Question | None:
    """The question the last turn asked, while this turn refines the search without settling it
    ("t-shirts for the kids", then "in red"): still asked, and its values still shown first, or
    the next searches forget whom the shopper shops for."""
    question = before.asked
    if (question is None or intent.reference != "current" or question.column in after.constraints
            or question.column in intent.drop_attributes):
        return None
    return question


def _as_searched(state: DialogueState, relaxed: Relaxed) -> DialogueState:
    """The state as its search ran: a swapped value (Maroon for Burgundy, the nearest kind for a
    person) replaces the asked one, so chips and later turns follow the results on screen. The
    shopper never said it, so, like a photo's guess, it is the first to give way when a later
    wish finds nothing ("for my husband" swapped heels for belts; "in pink" is pink things for
    men, not brown belts)."""
    if not relaxed.swapped:
        return state
    constraints = {c: relaxed.swapped[c][1] if c in relaxed.swapped else v for c, v in state.constraints.items()}
    return replace(state, constraints=constraints, guessed=tuple(dict.fromkeys([*state.guessed, *relaxed.swapped])))


def _bounded(limit: Limit, numbers: dict[str, float], state: DialogueState) -> Limit:
    """A limit in numbers: "cheaper" is below the current item's value (else the median)."""
    if not limit.than_current:
        return limit
    reference = state.reference
    current = numbers.get(reference.product_id) if reference and reference.product_id else None
    pivot = current if current is not None else statistics.median(numbers.values())
    if limit.than_current == "lower":
        return Limit(at_most=pivot * 0.999 if current is not None else pivot)
    return Limit(at_least=pivot * 1.001 if current is not None else pivot)


def _values_within(values: Sequence[str], limit: Limit) -> list[str]:
    kept = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            continue
        if (limit.at_most is None or number <= limit.at_most) and (limit.at_least is None or number >= limit.at_least):
            kept.append(value)
    return kept


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
    kept "current" on 61% of photo turns of a template query set, and read a photo sent with no
    words as small talk), and it is not theirs to decide: the shopper attached the photo to be
    searched with."""
    if intent.action == "smalltalk" and upload is not None and intent.small_talk != "injection":
        return SearchIntent(reference="upload")  # a photo sent bare or with "hi": search from it
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
                or intent.description or intent.take_from or intent.limits
                or intent.reference in ("result", "upload") and (upload or intent.result_index))
