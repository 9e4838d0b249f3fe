"""What the shopper reads after a turn, written from what happened, never from what a reader
guessed would happen.

The assistant applies the intent, searches, and only then asks for the reply, passing the
state before the turn, the state after it and the results; so the reply cannot say "similar
to your photo" when the search ran from something else. Pure functions of their inputs:
testable without models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chat.intent import SearchIntent
from chat.rules import without_filler
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher, normalise_word, without_mentions

RESET = "Starting afresh. What are you looking for?"
ASK = "Tell me what you're looking for, e.g. a colour and a type of item, or upload a photo."


@dataclass(frozen=True)
class Question:
    """What the assistant asks the shopper to settle with one click: which of `options`
    (values of `column`, likeliest first) the item is."""

    column: str
    options: tuple[str, ...]


class Replies:
    """Writes replies in the words of one catalogue's vocabulary."""

    def __init__(self, matcher: VocabularyMatcher):
        self.matcher = matcher
        example = matcher.example()
        self._eg = f', e.g. "{example}"' if example else ""

    def search(self, before: DialogueState, after: DialogueState, count: int,
               relaxed: Sequence[str] = (), opening: str = "", *, intent: SearchIntent | None = None,
               inferred: Mapping[str, str] | None = None, question: Question | None = None, unread: str = "") -> str:
        """"Here are 12 Red Tshirts for Men similar to the item you picked, avoiding Black."
        then what the reading could not do: words it could not read, a message that named no
        value (so only the words were searched, and the filters kept), what the photo was taken
        for (`inferred` filters), and the turn's `question`."""
        if count == 0:
            return f"{opening}I found nothing that matches. Try fewer constraints, or start over.".strip()
        found = self._found(before, after, count, relaxed, opening)
        kept = {c: v for c, v in (inferred or {}).items() if v not in relaxed}
        notes = [self._unread_note(unread), self._literal_note(before, intent), self._inferred_note(kept),
                 self.question(question) if question else ""]
        return " ".join([found, *(n for n in notes if n)])

    def searching(self, after: DialogueState) -> str:
        """A placeholder while the search runs, saying what it looks for."""
        target = self.target_phrase(self._named(after))
        what = target or (f'"{after.description}"' if after.description else "results")
        return f"Looking for {what}{self._similar(after)}…"

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

    def _found(self, before: DialogueState, after: DialogueState, count: int, relaxed: Sequence[str],
               opening: str) -> str:
        dropped = {v.casefold() for v in relaxed}  # not searched after all: not named either
        named = {c: v for c, v in self._named(after).items() if v.casefold() not in dropped}
        target = self.target_phrase(named)
        what = target or (f'results for "{after.description}"' if after.description else "results")
        parts = [f"{'Here is 1' if count == 1 else f'Here are {count}'} {what}{self._similar(after)}"]
        if after.description and target and self._says_more(after.description, named):
            parts[0] += f' matching "{after.description}"'
        if after.negatives:
            parts.append("avoiding " + ", ".join(after.negatives))
        rejected = len(set(after.disliked) - set(before.disliked))
        if rejected:
            parts.append(f"leaving out {rejected} result{'s' if rejected > 1 else ''}")
        note = f"Nothing matched {' + '.join(relaxed)}, so I left that out. " if relaxed else ""
        return f"{opening}{note}{', '.join(parts)}.".strip()

    def _says_more(self, description: str, named: Mapping[str, str]) -> bool:
        """Whether the free text says more than the values the reply names: "brown flat for my
        sister", searched as Brown Flats for Women, does not; "with a bow" does."""
        text = description.lower()
        values = {v.casefold() for v in named.values()}
        return bool(without_filler(without_mentions(
            text, [m for m in self.matcher.find(text) if m.value.casefold() in values])))

    @staticmethod
    def _named(after: DialogueState) -> dict[str, str]:
        """What a reply may say the results are: a picked product's attributes are its record,
        but a photo's are guesses, so for a photo only what the filters enforce is named
        ("Blue items similar to your photo", not "Blue Swimwear" over blue scarves)."""
        reference = after.reference
        if reference is not None and reference.source == "upload":
            return dict(after.constraints)
        return after.target_attributes()

    @staticmethod
    def _unread_note(unread: str) -> str:
        return f'I read English only, so I left out "{unread}".' if unread else ""

    def _literal_note(self, before: DialogueState, intent: SearchIntent | None) -> str:
        """When a message named no colour, kind or person, say that its words were searched as
        they are, and which earlier filters still apply."""
        if intent is None or not intent.description or intent.set_attributes or intent.negatives:
            return ""
        kept = before.constraints if intent.reference == "current" else {}
        filters = f", keeping your filters ({', '.join(kept.values())})" if kept else ""
        return (f'I didn\'t find a colour, type or person I know in "{intent.description}", so I searched '
                f"for those words as they are{filters}.")

    def _inferred_note(self, inferred: Mapping[str, str] | None) -> str:
        if not inferred:
            return ""
        return f"I took your photo for {self.target_phrase(inferred)}: remove a filter above if that's wrong."

    def _example_request(self) -> str:
        """An example message in the catalogue's words: "black tshirts for men"."""
        m = self.matcher
        person = m.people_column and max(m.vocabulary[m.people_column], key=m.vocabulary[m.people_column].get)
        return f"{m.example()} for {person.lower()}" if person and m.example() else m.example() or "a red dress"

    def target_phrase(self, target: Mapping[str, str]) -> str:
        """Attributes in English order: colour, other qualities, the finest kind, for whom.
        Only the columns the readers use: a picked product's record has many more ("Black
        Apparel Bottomwear Fall Sports Shorts" is no reply)."""
        m = self.matcher
        kind = next((target[c] for c in m.kind_columns if c in target), "items" if target else "")
        others = [v for c, v in target.items()  # "Formal Shoes", not "Formal Formal Shoes"
                  if c in m.columns and c not in (m.colour_column, m.people_column, *m.kind_columns)
                  and v.casefold() not in kind.casefold()]
        words = [target.get(m.colour_column or ""), *others, kind]
        phrase = " ".join(w for w in words if w)
        person = target.get(m.people_column or "")
        return f"{phrase} for {person}" if person else phrase

    def small_talk(self, kind: str) -> str:
        """A friendly reply that steers back to shopping."""
        return {
            "injection": "I can only help you find products. What are you looking for?",
            "thanks": "You're welcome! Anything else you'd like to find?",
            "bye": "Bye, happy shopping!",
            "help": f"Tell me what you want{self._eg}, upload a photo, or pick a result and say "
                    'what to change ("like this but in red").',
            "greeting": f"Hi! What are you looking for{self._eg}?",
            "praise": "Glad you like it! Shall I find more like it, or change something?",
            "unsure": f"No problem. Try a colour and a type of item{self._eg}, or upload a photo.",
        }.get(kind, f"Sorry, I didn't catch that. Could you describe the item{self._eg}? "
                    "(I understand English.)")

    def answer(self, intent: SearchIntent, state: DialogueState, record: Mapping[str, str] | None,
               title: str = "") -> str:
        """Answer a question about a shown result (or the current item) from its record."""
        if record is None:
            return 'Which item do you mean? Say e.g. "what colour is the second one?".'
        subject = f"Result {intent.result_index}" if intent.result_index else "It"
        if intent.question in record:
            return f"{subject} is {record[intent.question]} ({title})."
        details = ", ".join(v for v in record.values() if v)
        return f'{subject} is "{title}" ({details}).'

    @staticmethod
    def no_such_result(state: DialogueState) -> str:
        if not state.results:
            return "There are no results to pick from yet. What are you looking for?"
        return f"I showed {len(state.results)} results; which one do you mean (1-{len(state.results)})?"

    @staticmethod
    def _similar(state: DialogueState) -> str:
        reference = state.reference
        if reference is None:
            return ""
        return " similar to your photo" if reference.source == "upload" else " similar to the item you picked"



def _one(value: str) -> str:
    """A catalogue value as one item: "Dresses" -> "a dress", "Jeans" -> "jeans"."""
    words = value.lower().split()
    single = normalise_word(words[-1])
    if single == words[-1] or not single:
        return " ".join(words)
    phrase = " ".join([*words[:-1], single])
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"
