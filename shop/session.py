"""One shopper's session as the web UI and the API see it: an action in, a `View` out.

The app serves every shopper from one read-only `Assistant`; what belongs to a shopper is a
`Session` value that Gradio keeps per browser tab or API client (`gr.State`). Each action
here takes a session and returns a `View`: the next session, the reply, the numbered result
cards, the constraint chips and what the next turn refines. Nothing here imports Gradio, so
the browser UI and the API run exactly the same code and it is testable without a server.
Actions never raise: a failure is logged and becomes an apology, never a traceback.

A message is answered as a stream of views (`Shop.stream`): first what is being done ("Looking
for Blue Dresses similar to your photo…", marked `pending`), then the results, so a slow
reader or search never leaves the shopper staring at nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from chat.intent import SearchIntent
from chat.replies import EMPTY_CATALOGUE, LOOKING_AT_PHOTO, NO_RESULTS, SORRY, WELCOME
from chat.state import DialogueState, Question
from shop.uploads import UploadError, load_upload, thumbnail_url

if TYPE_CHECKING:  # the assistant pulls in torch; the app imports this module before loading it
    from chat.assistant import Assistant, ShownProduct, Turn

logger = logging.getLogger(__name__)

__all__ = ["NO_RESULTS", "WELCOME", "Session", "Shop", "View"]  # the app's words come through here (app.py imports shop/ only)

REMEMBERED_PHOTOS = 5  # uploads whose thumbnail can still be shown as "refining: your photo"

Feedback = Literal["like", "unlike", "dislike"]


@dataclass(frozen=True)
class Photo:
    """An upload this session made: a thumbnail to show, and its embedding to recognise it."""

    thumbnail: str  # a data URL (shop.uploads.thumbnail_url)
    vector: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class Session:
    """Everything one shopper's conversation needs between requests; never mutated.

    `hearts` are the results the shopper liked with ♥, and only those: a click to refine is
    no like. `question` is what the last turn asked, until another action moves on."""

    dialogue: DialogueState = field(default_factory=DialogueState)
    photos: tuple[Photo, ...] = ()
    hearts: tuple[str, ...] = ()

    @property
    def question(self) -> Question | None:
        return self.dialogue.asked

    def photo_of_reference(self) -> Photo | None:
        """The upload the current reference came from, if it is still remembered."""
        reference = self.dialogue.reference
        if reference is None or reference.source != "upload" or reference.vector is None:
            return None
        return next((p for p in self.photos if np.array_equal(p.vector, reference.vector)), None)


@dataclass(frozen=True)
class Card:
    """One shown result: its 1-based number (what "the third one" means) and its product."""

    number: int
    product: ShownProduct
    details: str  # key attributes, e.g. "Red · Tshirts · Men"
    liked: bool = False
    picked: bool = False  # the reference of the next turn

    def as_json(self) -> dict:
        return {"number": self.number, **self.product.as_json(), "liked": self.liked, "picked": self.picked}


@dataclass(frozen=True)
class Chip:
    """An active constraint ("Red"), negative ("not Black") or limit ("price up to 50");
    `value` releases it. A `relaxed` chip is one the results on screen could not follow."""

    value: str
    label: str
    negative: bool = False
    relaxed: bool = False


@dataclass(frozen=True)
class Refining:
    """What the next turn starts from: a picked product (`product_id`) or the shopper's photo
    (`thumbnail`, a data URL, while it is remembered)."""

    title: str
    product_id: str | None = None
    thumbnail: str | None = None
    number: int | None = None  # its card number when it is among the shown results


@dataclass(frozen=True)
class View:
    """What every client shows after an action. A `pending` view says what is being done
    while the answer is worked out: only its reply is new."""

    session: Session
    reply: str
    cards: tuple[Card, ...] = ()
    chips: tuple[Chip, ...] = ()
    refining: Refining | None = None
    pending: bool = False

    @property
    def question(self) -> Question | None:
        return self.session.question

    @property
    def can_undo(self) -> bool:
        return self.session.dialogue.can_undo

    def results_json(self) -> list[dict]:
        return [card.as_json() for card in self.cards]


def _never_raises(action: Callable[..., View]) -> Callable[..., View]:
    """A bug or a failing model must not leave a shopper with a traceback or a blank panel:
    log it, apologise, and keep the session as it was."""

    @functools.wraps(action)
    def guarded(self: Shop, session: Session, *args) -> View:
        try:
            return action(self, session, *args)
        except Exception:
            logger.exception("%s failed", action.__name__)
            return self.view(session, SORRY)

    return guarded


class Shop:
    """The session actions, bound to the one read-only assistant the app serves."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        retriever = assistant.retriever
        self.detail_columns = list(retriever.description_columns)
        self.gallery_size = len(retriever.store)

    def send(self, session: Session, text: str, image: str | None = None) -> View:
        """A chat message, with an optional photo (a file path): the final view of `stream`."""
        *_, last = self.stream(session, text, image)
        return last

    def stream(self, session: Session, text: str, image: str | None = None) -> Iterator[View]:
        """A chat message answered as it is worked out: pending views, then the final one."""
        try:
            yield from self._stream(session, (text or "").strip(), image)
        except Exception:
            logger.exception("send failed")
            yield self.view(session, SORRY)

    def _stream(self, session: Session, text: str, image: str | None) -> Iterator[View]:
        if not text and not image:
            yield self.view(session, self.assistant.replies.ask())
            return
        if self.gallery_size == 0:
            yield self.view(session, EMPTY_CATALOGUE)
            return
        try:
            photo = load_upload(image) if image else None
        except UploadError as err:
            yield self.view(session, str(err))
            return
        if photo:
            yield replace(self.view(session, LOOKING_AT_PHOTO), pending=True)
        reading = self.assistant.read(session.dialogue, text, image=photo)
        if reading.turn is None:
            yield replace(self.view(session, self.assistant.searching(reading)), pending=True)
        turn = self.assistant.finish(reading)
        photos = session.photos
        reference = turn.state.reference
        if photo and reference is not None and reference.source == "upload" and reference.vector is not None:
            photos = (*photos, Photo(thumbnail_url(photo), reference.vector))[-REMEMBERED_PHOTOS:]
        yield self._after_turn(replace(session, dialogue=turn.state, photos=photos), turn)

    @_never_raises
    def choose(self, session: Session, value: str) -> View:
        """Answer the question the last turn asked ("Is this a dress or a kurta?") with one of
        its options (or another value of the same attribute, in any spelling)."""
        question = session.question
        if question is None:
            return self.view(session, self.assistant.replies.no_question())
        chosen = self.assistant.retriever.matcher.value(question.column, str(value))
        if chosen is None:
            return self.view(session, self.assistant.replies.choose_one(question))
        turn = self.assistant.choose(session.dialogue, question.column, chosen)
        return self._after_turn(session, turn)

    @_never_raises
    def pick(self, session: Session, number: int) -> View:
        """Result `number` (1-based) becomes what the next turn refines."""
        number = int(number)
        product_id = session.dialogue.result_id(number)
        if product_id is None:
            return self.view(session, self._no_such_result(session, number))
        dialogue = self.assistant.select(session.dialogue, number)
        title = self.assistant.product(product_id).title
        return self.view(replace(session, dialogue=dialogue.asking(None)), self.assistant.replies.refining(number, title))

    @_never_raises
    def feedback(self, session: Session, number: int, kind: Feedback) -> View:
        """Like a result (its ♥; it steers later searches), take the like back, or mark it
        "not for me" (never shown again this session)."""
        number = int(number)
        product_id = session.dialogue.result_id(number)
        if product_id is None:
            return self.view(session, self._no_such_result(session, number))
        title = self.assistant.product(product_id).title
        if kind == "like":
            liked = replace(session, dialogue=session.dialogue.with_liked(product_id),
                            hearts=(*(h for h in session.hearts if h != product_id), product_id))
            return self.view(liked, self.assistant.replies.liked(number, title))
        if kind == "unlike":
            unliked = replace(session, dialogue=session.dialogue.without_liked(product_id),
                              hearts=tuple(h for h in session.hearts if h != product_id))
            return self.view(unliked, self.assistant.replies.unliked(number, title))
        if kind != "dislike":
            return self.view(session, f"Feedback is \"like\", \"unlike\" or \"dislike\", not {kind!r}.")
        dialogue = session.dialogue.apply(SearchIntent(exclude_results=(number,)))
        turn = self.assistant.search_again(dialogue, self.assistant.replies.leaving_out(title))
        return self._after_turn(replace(session, dialogue=turn.state), turn)

    @_never_raises
    def release(self, session: Session, value: str) -> View:
        """Remove one constraint or negative (a chip's value) and search again."""
        chip = next((c for c in self.chips(session.dialogue) if c.value.casefold() == str(value).casefold()), None)
        if chip is None:
            return self.view(session, self.assistant.replies.not_a_filter(value))
        turn = self.assistant.search_again(session.dialogue.release(chip.value), self.assistant.replies.removed(chip.label))
        return self._after_turn(replace(session, dialogue=turn.state), turn)

    @_never_raises
    def undo(self, session: Session) -> View:
        if not session.dialogue.can_undo:
            return self.view(session, self.assistant.replies.nothing_to_undo())
        restored = session.dialogue.undo()
        return self.view(replace(session, dialogue=restored), self.assistant.replies.undone(restored))

    def start_over(self) -> View:
        return self.view(Session(), self.assistant.replies.reset())

    def view(self, session: Session, reply: str, found: tuple[ShownProduct, ...] = ()) -> View:
        """The view of a session. `found` are this turn's results (with their scores); without
        them the cards are rebuilt from the ids the dialogue state remembers."""
        dialogue = session.dialogue
        scores = dialogue.scores if len(dialogue.scores) == len(dialogue.results) else (0.0,) * len(dialogue.results)
        products = found or tuple(self.assistant.product(i, s) for i, s in zip(dialogue.results, scores))
        picked = dialogue.reference.product_id if dialogue.reference else None
        cards = tuple(
            Card(n, p, self._details(p), liked=p.id in session.hearts, picked=p.id == picked)
            for n, p in enumerate(products, 1)
        )
        return View(session, reply, cards, self.chips(dialogue), self._refining(session, cards))

    def chips(self, dialogue: DialogueState) -> tuple[Chip, ...]:
        """The filters of the search on screen; one it could not follow is marked relaxed."""
        relaxed = set(dialogue.relaxed)
        label = self.assistant.replies.limit_label
        wanted = tuple(Chip(v, self.assistant.replies.relaxed_chip(v) if v in relaxed else v, relaxed=v in relaxed)
                       for v in dialogue.constraints.values())
        limits = tuple(Chip(c, label(c, limit), relaxed=label(c, limit) in relaxed) for c, limit in dialogue.limits.items())
        return wanted + limits + tuple(Chip(n, f"not {n}", negative=True) for n in dialogue.negatives)

    def _after_turn(self, session: Session, turn: Turn) -> View:
        """The view after a turn; its question (if any) waits for the shopper's answer."""
        return self.view(replace(session, dialogue=turn.state), turn.reply, turn.results)

    def _details(self, product: ShownProduct) -> str:
        return " · ".join(v for c in self.detail_columns if (v := product.attributes.get(c)))

    def _refining(self, session: Session, cards: tuple[Card, ...]) -> Refining | None:
        reference = session.dialogue.reference
        if reference is None:
            return None
        if reference.source == "upload":
            photo = session.photo_of_reference()
            return Refining("your photo", thumbnail=photo.thumbnail if photo else None)
        card = next((c for c in cards if c.picked), None)
        product = card.product if card else self.assistant.product(reference.product_id)
        return Refining(product.title, product.id, number=card.number if card else None)

    def _no_such_result(self, session: Session, number: int) -> str:
        return self.assistant.replies.no_such_card(session.dialogue, number)
