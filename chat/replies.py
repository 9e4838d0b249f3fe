"""Every word the shopper reads, written from what happened, never from what a reader guessed
would happen.

The assistant applies the intent, searches, and only then asks for the reply, passing the
state before the turn, the state after it and the results; so the reply cannot say "similar
to your photo" when the search ran from something else. The web session's own messages
(loading, undo, start over) are here too, so the app says one thing one way. Pure functions
of their inputs: testable without models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from chat import moves
from chat.intent import Limit, SearchIntent
from chat.relaxing import Relaxed
from chat.state import DialogueState, Question
from chat.text import without_filler
from retrieval.vocabulary import VocabularyMatcher, normalise_word, without_mentions

SORRY = "Sorry, something went wrong on my side. Please try again, or start over."
LOOKING_AT_PHOTO = "Looking at your photo…"
WELCOME = ("Results appear here. Describe what you're after, attach a photo, or try an example "
           "on the left; then click a result to refine from it.")
NO_RESULTS = "No products match. Remove a filter above, undo, or start over."
EMPTY_CATALOGUE = "The catalogue is empty, so there is nothing to search yet."
# What the catalogue does not record, said as the shopper would ask for it.
_UNHELD = {"price": "prices", "size": "sizes", "stock": "stock levels", "material": "materials", "brand": "brands",
           "service": "delivery, shipping or returns", "length": "sleeve or hem lengths"}


class Replies:
    """Writes replies in the words of one catalogue's vocabulary; `detail_columns` are all the
    columns its records have (what a question can be answered from)."""

    def __init__(self, matcher: VocabularyMatcher, detail_columns: Sequence[str] = (), title_column: str | None = None):
        self.matcher = matcher
        self.detail_columns = tuple(detail_columns)
        self.title_column = title_column or next(
            (c for c in ("title", "productDisplayName", "name") if c in self.detail_columns), None)
        example = matcher.example()
        self._eg = f', e.g. "{example}"' if example else ""

    # --- searches -------------------------------------------------------------------------

    def search(self, before: DialogueState, after: DialogueState, count: int, relaxed: Relaxed | None = None,
               opening: str = "", *, intent: SearchIntent | None = None, inferred: Mapping[str, str] | None = None,
               adopted: Mapping[str, str] | None = None, question: Question | None = None, unread: str = "",
               unheld: Sequence[str] = (), listed: Mapping[str, Sequence[str]] | None = None) -> str:
        """"Here are 12 Red Tshirts for Men similar to #3, avoiding Black." then what the
        search did instead of what was asked (a nearer colour, a kind the person has, a filter
        left out), and what the reading could not do: words it could not read, aspects the
        catalogue does not record, a message that named no value, what the photo was taken
        for, the turn's question, and the values listed with a searched one ("red or blue") that
        are left for the next turn."""
        notes = [self._unheld_note(unheld)]
        if count == 0:
            return " ".join([f"{opening}I found nothing that matches. Try fewer constraints, or start over.".strip(),
                             *filter(None, notes)])
        relaxed = relaxed or Relaxed([])
        offered = question is not None and relaxed.offered and question.options == relaxed.offered
        kept = {c: v for c, v in (inferred or {}).items() if v not in relaxed.left_out}
        asked = intent.set_attributes if intent else after.constraints
        taken = {c: tuple(v for v in values if (c, v) not in _swapped_in(relaxed)) for c, values in (listed or {}).items()}
        notes = [self._unread_note(unread), *notes, self._listed_note(asked, {c: v for c, v in taken.items() if v}),
                 "" if question else self._literal_note(before, intent, unheld),  # "for kids": the question says it
                 self._adopted_note(adopted), self._inferred_note(kept),
                 self._offered_note(relaxed) if offered else self.question(question) if question else ""]
        return " ".join([self._found(before, after, count, relaxed, opening, intent, listed or {}),
                         *(n for n in notes if n)])

    def searching(self, after: DialogueState) -> str:
        """A placeholder while the search runs, saying what it looks for."""
        return f"Looking for {self._what(after, 'results')}{self._similar(after)}…"

    def more(self, after: DialogueState, count: int) -> str:
        return f"Here {'is 1 more' if count == 1 else f'are {count} more'} {self._what(after, 'results', count)}."

    def no_more(self, state: DialogueState) -> str:
        return f"That's all I have for {self._what(state, 'this search')}: there are no more to show."

    @staticmethod
    def nothing_shown() -> str:
        return "There are no results yet to show more of. What are you looking for?"

    def undone(self, restored: DialogueState) -> str:
        """After an undo: the search now on screen again."""
        if not restored.results:
            return "Undone: back to where we started. " + self.ask()
        count = len(restored.results)
        return f"Undone: back to {count} {self._what(restored, 'results', count)}."

    def back_to(self, earlier: DialogueState) -> str:
        """After "go back to the shoes": the earlier search on screen again."""
        count = len(earlier.results)
        return f"Back to the {count} {self._what(earlier, 'results', count)} from before."

    @staticmethod
    def nothing_to_undo() -> str:
        return "There is nothing to undo."

    def reset(self) -> str:
        return "Starting over. " + self.ask()

    def ask(self) -> str:
        return f"Tell me what you're looking for{self._eg}, or attach a photo."

    def unread(self, words: str) -> str:
        """The reply to a message with nothing the readers could read."""
        return (f'Sorry, I can\'t read "{words}": I understand English only for now. Try e.g. '
                f'"{self._example_request()}", or attach a photo. Your results and filters are unchanged.')

    def question(self, question: Question) -> str:
        """"Is this a dress or a kurta?", or of people "For boys or girls?" (the options are
        offered as buttons too)."""
        if question.column == self.matcher.people_column:
            return f"For {' or '.join(v.lower() for v in question.options)}?"
        return f"Is this {' or '.join(_one(v) for v in question.options)}?"

    @staticmethod
    def limit_label(column: str, limit: Limit) -> str:
        """A numeric limit as a chip names it: "price up to 50", "price 20-40"."""
        low, high = (_number(v) if v is not None else None for v in (limit.at_least, limit.at_most))
        if low and high:
            return f"{column} {low}-{high}"
        return f"{column} up to {high}" if high else f"{column} from {low}"

    def _found(self, before: DialogueState, after: DialogueState, count: int, relaxed: Relaxed, opening: str,
               intent: SearchIntent | None, listed: Mapping[str, Sequence[str]]) -> str:
        dropped = {v.casefold() for v in relaxed.left_out}  # not searched after all: not named either
        named = {c: v for c, v in self._named(after).items() if v.casefold() not in dropped}
        target = self.target_phrase(named, count)
        results = "result" if count == 1 else "results"
        what = target or (f'{results} for "{after.description}"' if after.description else results)
        parts = [f"{'Here is 1' if count == 1 else f'Here are {count}'} {what}{self._similar(after, before)}"]
        parts[0] += self._borrowed(intent, after)
        unsearched = {*relaxed.left_out, *(asked for asked, _ in relaxed.swapped.values())}
        if after.description and target and self._says_more(after.description, {*named.values(), *unsearched}):
            parts[0] += f' matching "{after.description}"'
        if after.limits:
            parts.append(", ".join(self.limit_label(c, v) for c, v in after.limits.items()
                                   if self.limit_label(c, v) not in relaxed.left_out))
        if after.negatives:
            parts.append("avoiding " + ", ".join(after.negatives))
        rejected = len(set(after.disliked) - set(before.disliked))
        if rejected:
            parts.append(f"leaving out {rejected} result{'s' if rejected > 1 else ''}")
        found = ", ".join(p for p in parts if p)
        return f"{opening}{self._relaxed_note(before, after, relaxed, listed)}{found}.".strip()

    def _relaxed_note(self, before: DialogueState, after: DialogueState, relaxed: Relaxed,
                      listed: Mapping[str, Sequence[str]]) -> str:
        """What was searched instead: "There are no Dresses for Men, so here are the nearest
        for Men." / "No Burgundy ones, so here is the nearest colour." (or the next one `listed`
        with it: "yellow or white") / "Nothing matched Red, so I left that out.". A value the
        search on screen already left out is said once, not again on every later turn (its chip
        stays struck through)."""
        notes = []
        kind = self.matcher.kind_columns[0] if self.matcher.kind_columns else None
        person = after.constraints.get(self.matcher.people_column or "")
        for column, (asked, searched) in relaxed.swapped.items():
            if column == kind and person:
                notes.append(f"There are no {asked} for {person}, so here are the nearest for {person}:")
            else:
                notes.append(f"There is nothing in {asked}, so here is {searched}, which you said is fine too:"
                             if searched in listed.get(column, ()) else
                             f"There is nothing in {asked}, so I took the nearest, {searched}:")
        said = {v for v in before.relaxed if v in before.constraints.values()}
        left = [v for v in relaxed.left_out if v not in said]
        kind_value = after.constraints.get(kind or "")
        if person in left and kind_value and kind_value not in left and kind not in relaxed.swapped:
            notes.append(f"There are no {kind_value} for {person}, so I left out {person}.")
            left.remove(person)
        if left:
            notes.append(f"Nothing matched {' + '.join(left)}, so I left that out.")
        return " ".join(notes) + " " if notes else ""

    def _borrowed(self, intent: SearchIntent | None, after: DialogueState) -> str:
        """", in the colour of #2 (Blue)": which result gave which value."""
        if intent is None or not intent.take_from:
            return ""
        look = intent.result_index if intent.reference == "result" else None
        parts = [f"the {self._aspect(c)} of #{i} ({after.constraints.get(c, '?')})"
                 for c, i in intent.take_from.items() if i != look]
        return ", with " + " and ".join(parts) if parts else ""

    def _aspect(self, column: str) -> str:
        m = self.matcher
        return {m.colour_column: "colour", m.people_column: "person"}.get(column) or (
            "kind" if column in m.kind_columns else column)

    def _says_more(self, description: str, named: Iterable[str]) -> bool:
        """Whether the free text says more than the values `named` (those the reply names, and
        those the search left out or swapped, which the note before it says): "brown flat for my
        sister", searched as Brown Flats for Women, does not; "with a bow" does; nor does "casual",
        an occasion the filters hold though said bare (which `find` reads only as an occasion); nor
        "black", left out ('Jeans for Boys matching "black"' over blue jeans)."""
        text = description.lower()
        values = {v.casefold() for v in named}
        left = without_mentions(text, [m for m in self.matcher.find(text) if m.value.casefold() in values])
        return bool(without_filler(" ".join(w for w in left.split() if w not in values)))

    def _what(self, state: DialogueState, otherwise: str, count: int | None = None) -> str:
        """What a search shows, as a count's noun phrase: "Red Tshirts", "1 Red Tshirt"."""
        target = self.target_phrase(self._named(state), count)
        if target or state.description:
            return target or f'"{state.description}"'
        return otherwise[:-1] if count == 1 and otherwise.endswith("results") else otherwise

    def _named(self, after: DialogueState) -> dict[str, str]:
        """What a reply may say the results are: what the filters hold, and a picked product's kind
        (results similar to it are of its kind), but not its colour or person unless a filter holds
        them: results similar to a purple watch are not all purple ("Purple Watches" over pink
        ones), nor those similar to a men's jacket all for men. A photo's kind is a guess, so for a
        photo only what the filters enforce is named ("Blue items similar to your photo", not
        "Blue Swimwear" over blue scarves)."""
        reference = after.reference
        if reference is not None and reference.source == "upload":
            return dict(after.constraints)
        kinds = self.matcher.kind_columns
        return {c: v for c, v in after.target_attributes().items() if c in kinds or c in after.constraints}

    def _listed_note(self, asked: Mapping[str, str], listed: Mapping[str, Sequence[str]]) -> str:
        """"red or blue": a search holds one value a column, so say which was asked for first (the
        one searched, or given way as the notes before say) and how to see the rest."""
        notes = []
        for column, values in listed.items():
            if column == moves.RESULTS:  # the results now shown are new: the others are back one undo
                notes.append(f"I can start from one result at a time, so I started from the first you named: "
                             f"to start from {' or '.join(values)} instead, say \"undo\" and pick it.")
                continue
            person = column == self.matcher.people_column
            said = " or ".join(f'"{"for " if person else ""}{v.lower()}"' for v in values)
            notes.append(f"I can search one {self._aspect(column)} at a time, so I searched {asked.get(column)} "
                         f"first: say {said} to see {' or '.join(values)}.")
        return " ".join(notes)

    @staticmethod
    def _unread_note(unread: str) -> str:
        return f'I read English only, so I left out "{unread}".' if unread else ""

    @staticmethod
    def _unheld_note(unheld: Sequence[str]) -> str:
        if not unheld:
            return ""
        nouns = [_UNHELD.get(a, a) for a in unheld]
        return f"This catalogue doesn't record {' or '.join(nouns)}, so I couldn't go by that."

    def _literal_note(self, before: DialogueState, intent: SearchIntent | None, unheld: Sequence[str]) -> str:
        """When a message named no colour, kind or person, say that its words were searched as
        they are, and which earlier filters still apply."""
        if (intent is None or not intent.description or intent.set_attributes or intent.negatives
                or intent.take_from or intent.limits or unheld):
            return ""
        kept = before.constraints if intent.reference == "current" else {}
        filters = f", keeping your filters ({', '.join(kept.values())})" if kept else ""
        return (f'I didn\'t find a colour, type or person I know in "{intent.description}", so I searched '
                f"for those words as they are{filters}.")

    def _adopted_note(self, adopted: Mapping[str, str] | None) -> str:
        if not adopted:
            return ""
        return f"I searched for it as {_one(next(iter(adopted.values())))}, the likelier answer."

    def _inferred_note(self, inferred: Mapping[str, str] | None) -> str:
        if not inferred:
            return ""
        return f"I took your photo for {self.target_phrase(inferred)}: remove a filter above if that's wrong."

    @staticmethod
    def _offered_note(relaxed: Relaxed) -> str:
        others = relaxed.offered[1:]
        return f"Or would you rather see {' or '.join(others)}?" if others else ""

    def _example_request(self) -> str:
        """An example message in the catalogue's words: "black tshirts for men"."""
        m = self.matcher
        person = m.people_column and max(m.vocabulary[m.people_column], key=m.vocabulary[m.people_column].get)
        return f"{m.example()} for {person.lower()}" if person and m.example() else m.example() or "a red dress"

    def target_phrase(self, target: Mapping[str, str], count: int | None = None) -> str:
        """Attributes in English order: colour, other qualities, the finest kind, for whom; the
        kind singular after a `count` of 1 ("1 Red Handbag"). Only the columns the readers use:
        a picked product's record has many more ("Black Apparel Bottomwear Fall Sports Shorts"
        is no reply)."""
        m = self.matcher
        kind = next((target[c] for c in m.kind_columns if c in target), "items" if target else "")
        kind = _singular(kind) if count == 1 else kind
        others = [v for c, v in target.items()  # "Formal Shoes", not "Formal Formal Shoes"
                  if c in m.columns and c not in (m.colour_column, m.people_column, *m.kind_columns)
                  and v.casefold() not in kind.casefold()]
        words = [target.get(m.colour_column or ""), *others, kind]
        phrase = " ".join(w for w in words if w)
        person = target.get(m.people_column or "")
        return f"{phrase} for {person}" if person else phrase

    # --- questions, comparisons, small talk ------------------------------------------------

    def small_talk(self, kind: str, in_english: str | None = None) -> str:
        """A friendly reply that steers back to shopping; to a short request in another language,
        what it says in English (`in_english`) as the thing to say."""
        if kind == "foreign" and in_english:
            return (f'Sorry, I read English only for now, so I changed nothing: your results and filters are as '
                    f'they were. Did you mean "{in_english}"? Say it in English and I\'ll search.')
        return {
            "injection": "I can only help you find products. What are you looking for?",
            "thanks": "You're welcome! Anything else you'd like to find?",
            "bye": "Bye, happy shopping!",
            "help": f"Tell me what you want{self._eg}, attach a photo, or pick a result and say what to "
                    'change. Also: "undo", "show more", "compare 1 and 2".',
            "greeting": f"Hi! What are you looking for{self._eg}?",
            "praise": "Glad you like it! Shall I find more like it, or change something?",
            "unsure": f"No problem. Try a colour and a type of item{self._eg}, or upload a photo.",
            "foreign": (f'Sorry, I read English only for now, so I changed nothing: your results and filters are as '
                        f'they were. Try e.g. "{self._example_request()}", or attach a photo.'),
        }.get(kind, f"Sorry, I didn't catch that. Could you describe the item{self._eg}? "
                    "(I understand English.)")

    def answer(self, intent: SearchIntent, details: Mapping[str, str] | None) -> str:
        """Answer a question about a shown result (or the current item) from its record; an
        aspect the catalogue does not record is said to be unknown, never guessed."""
        column = self._asked_column(intent.question) if intent.question else None
        asked = _UNHELD.get(intent.question) or f'"{intent.question}"'  # quoted: "comfy" is no noun
        if intent.question == "service" and not column:  # the shop's, not a product's: no record helps
            return f"I can only search the catalogue, and it says nothing about {asked}, so I can't tell."
        if details is None:
            if intent.question and not column:  # "do these come in leather?": unknown of every item
                return f"The catalogue doesn't record {asked}, so I can't tell."
            return 'Which item do you mean? Say e.g. "what colour is the second one?".'
        subject = f"#{intent.result_index}" if intent.result_index else "It"
        title = details.get(self.title_column or "", "")
        if column and details.get(column):
            return f"{subject}'s {_spoken(column)} is {details[column]} ({title})." if column not in self.matcher.columns \
                else f"{subject} is {details[column]} ({title})."
        summary = f'{subject} is "{title}" ({self.target_phrase(details)}).' if title else \
            f"{subject} is {self.target_phrase(details)}."
        if not intent.question:
            return summary
        recorded = ", ".join(_spoken(c) for c in self.detail_columns if c != self.title_column)
        return f"The catalogue doesn't record {asked}; it lists {recorded}. {summary}"

    def _asked_column(self, question: str) -> str | None:
        """The column a question's word names: a reader column or role ("colour"), or a column
        of the record ("season", "price" where the catalogue has one)."""
        column = self.matcher.column(question)
        if column:
            return column
        return moves.aspect_column(question, [c for c in self.detail_columns if c != self.title_column])

    def compare(self, numbers: Sequence[int], records: Sequence[Mapping[str, str]]) -> str:
        """Shown results side by side: what they share, then how they differ, from their records."""
        if len(numbers) < 2 or not all(records):
            return 'Which results shall I compare? Say e.g. "compare 1 and 2".'
        columns = [c for c in self.detail_columns if c != self.title_column and any(r.get(c) for r in records)]
        shared = {c: records[0].get(c, "") for c in columns if len({r.get(c, "") for r in records}) == 1}
        different = [c for c in columns if c not in shared]
        names = " and ".join(f"#{n}" for n in numbers)
        lines = [f"#{n}: {r.get(self.title_column or '', '')}" for n, r in zip(numbers, records)]
        both = "Both" if len(numbers) == 2 else "All"
        common = self.target_phrase(shared)
        extra = [v for c, v in shared.items() if c not in self.matcher.columns and v and c in self.detail_columns]
        if common or extra:
            lines.append(f"{both} are {common}{' (' + ', '.join(extra) + ')' if extra else ''}.".replace(" are .", " share nothing."))
        for column in different:
            values = ", ".join(f"#{n} {r.get(column) or '?'}" for n, r in zip(numbers, records))
            lines.append(f"{_spoken(column).capitalize()}: {values}.")
        if not different:
            lines.append(f"Their records are the same in every detail: compare the photos of {names}.")
        return f"Comparing {names}:\n" + "\n".join(lines)

    @staticmethod
    def no_such_result(state: DialogueState) -> str:
        if not state.results:
            return "There are no results to pick from yet. What are you looking for?"
        return f"I showed {len(state.results)} results; which one do you mean (1-{len(state.results)})?"

    # --- clicks and buttons (the web session's actions) ---------------------------------------

    def no_such_card(self, state: DialogueState, number: int) -> str:
        if not state.results:
            return "There are no results yet. " + self.ask()
        return f"There is no result #{number}: {len(state.results)} are shown."

    @staticmethod
    def refining(number: int, title: str) -> str:
        return f"Refining #{number}: {title}. Tell me what to change, e.g. \"in red\" or \"for women\"."

    @staticmethod
    def liked(number: int, title: str) -> str:
        return f"Noted: you like #{number}, {title}."

    @staticmethod
    def unliked(number: int, title: str) -> str:
        return f"Like taken back: #{number}, {title}."

    @staticmethod
    def leaving_out(title: str) -> str:
        return f"I'll leave out {title}. "

    @staticmethod
    def removed(label: str) -> str:
        return f"Removed {label}. "

    @staticmethod
    def not_a_filter(value: str) -> str:
        return f"\"{value}\" is not one of the active filters."

    def no_question(self) -> str:
        return "There is no question to answer right now. " + self.ask()

    @staticmethod
    def choose_one(question: Question) -> str:
        return f"Please choose {' or '.join(question.options)}."

    @staticmethod
    def relaxed_chip(value: str) -> str:
        """A chip the results on screen could not follow."""
        return f"{value} (none found)"

    @staticmethod
    def _similar(state: DialogueState, before: DialogueState | None = None) -> str:
        reference = state.reference
        if reference is None:
            return ""
        if reference.source == "upload":
            return " similar to your photo"
        shown = (before or state).results
        if before is not None and reference.product_id in shown and before.reference != reference:
            return f" similar to #{shown.index(reference.product_id) + 1}"
        return " similar to the item you picked"


_PAIRS = frozenset({"shoes", "heels", "flats", "sandals", "flops", "socks", "boots", "sneakers", "slippers", "earrings",
                    "gloves", "cufflinks", "floaters", "trainers", "loafers", "wristbands"})


def _swapped_in(relaxed: Relaxed) -> set[tuple[str, str]]:
    """(column, value) of each value a relaxed search swapped in."""
    return {(column, searched) for column, (_, searched) in relaxed.swapped.items()}


def _one(value: str) -> str:
    """A catalogue value as one item: "Dresses" -> "a dress", "Formal Shoes" -> "a formal shoe",
    "Jeans" -> "jeans"."""
    phrase = _last_word_singular(value).lower()
    return phrase if phrase == value.lower() else f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def _singular(value: str) -> str:
    """A catalogue value as one item, its case kept: "Handbags" -> "Handbag", "Jeans" -> "Jeans";
    a kind sold in pairs stays plural ("1 Formal Shoes" is one pair, "1 Formal Shoe" half)."""
    words = value.split()
    return value if not words or words[-1].casefold() in _PAIRS else _last_word_singular(value)


def _last_word_singular(value: str) -> str:
    """`value` with its last word singular (`normalise_word`) in the case it was written in."""
    words = value.split()
    last = words[-1]
    single = normalise_word(last)
    if not single or single == last.casefold():
        return value
    if last.casefold().startswith(single):
        single = last[:len(single)]
    elif last[0].isupper():
        single = single.capitalize()
    return " ".join([*words[:-1], single])


def _spoken(column: str) -> str:
    """A column name as words: "baseColour" -> "base colour", "price_inr" -> "price inr"."""
    return " ".join(w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", column)) or column


def _number(value: float) -> str:
    return f"{value:g}"
