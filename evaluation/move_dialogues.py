"""Dialogues with the moves shoppers make besides "in red" (D.jsonl), one move per dialogue.

    python -m evaluation.dialogues --catalog DIR --gallery IDS.txt --moves --out D.jsonl [--n 300] [--seed 0]

Each dialogue opens with a text search, makes one of the moves below, and usually one more
attribute change after it, so that a move that leaves words or filters behind shows in the
last turn's results. The target is what the shopper has said, with the move's meaning:

- undo: a change, then "undo", then another change: the first change is gone.
- remove: a filter released ("colour doesn't matter"): any value of it is a target.
- another: "in another colour": any colour but the current one.
- more: "show me more": the same search (its second page).
- else: a click, then "not this one, something else": the same search.
- question: a change asked as a question ("what about navy instead?").
- compare / unheld / foreign: "compare 1 and 2", "anything cheaper?", a message in another
  language: nothing changes; the next change must still apply cleanly.
- shade: a colour the kind and person do not come in, whose nearest catalogue colour they do
  ("in burgundy" -> Maroon): the nearest colour's products are the target.
- typo / contrast / people: a misspelt colour or kind, "flats instead, heels hurt" (the
  colour carries over where the new kind is said as a change: "instead"), and people words
  the base generator does not use (grandad, niece, mother-in-law).
- restart: starting over inside a longer message.

Phrasings are written for this file and differ from the readers' patterns where they can; the
`kind` of each line is its move, reported separately by `evaluation.assistant`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evaluation.dialogues import ARTICLE, COLOUR, GENDER, Dialogue, Shopper, Walk, _DeadEnd
from retrieval.catalog import Catalog
from retrieval.vocabulary import VocabularyMatcher

MOVES = ("undo", "remove", "another", "more", "else", "question", "compare", "unheld", "foreign", "shade",
         "typo", "contrast", "people", "restart")
UNDO = ("undo", "go back please", "hmm no, undo that", "back to the previous ones", "oops, go back")
REMOVE = {COLOUR: ("any colour is fine", "colour doesn't matter", "drop the colour", "remove the colour filter"),
          GENDER: ("forget about the gender", "doesn't matter who it's for, any gender", "drop the gender filter")}
ANOTHER = ("got it in another colour?", "a different colour please", "other colours?", "show me some other colour")
MORE = ("show me more", "more please", "any more?", "next page", "what else have you got?")
ELSE = ("not this one, something else", "nah, show me another one", "something else please")
QUESTION = {COLOUR: ("what about {new} instead?", "how about in {new}?", "could I see it in {new}?",
                     "is there a {new} one?", "any chance of {new}?"),
            ARTICLE: ("what about {articles} instead?", "how about {articles}?", "could you show {articles} like this?")}
COMPARE = ("compare 1 and 2", "what's the difference between the first and the second?", "#1 vs #3?",
           "can you compare the first two")
UNHELD = ("anything cheaper?", "do you have it in size M?", "is the first one in stock?",
          "what's the second one made of?", "something more affordable", "which of these ship fast?")
FOREIGN = ("zapatos negros por favor", "quiero una camisa azul", "je cherche une robe rouge", "avez-vous des sacs?",
           "ich suche eine schwarze Jacke", "haben Sie das in Grün?", "vorrei una borsa marrone",
           "tem isso em azul?", "lo mismo pero en verde", "pareil mais en blanc")
# (template, whether the colour carries over): a new kind said as a change of this item keeps
# its colour; said as a request of its own, it starts a new search (for the same person).
CONTRAST = (("{articles} instead, {old} are so uncomfortable", True), ("{old} hurt my feet, show me {articles}", False),
            ("{articles} please, {old} look dated", False), ("honestly {old} are boring, {articles} instead?", True))
NEW_PEOPLE = {"Men": ("for my grandad", "for my father-in-law", "for my fiancé", "for my stepdad"),
              "Women": ("for my grandma", "for my mother-in-law", "for my fiancée", "for my nan"),
              "Boys": ("for my nephew", "for my stepson", "for my godson"),
              "Girls": ("for my niece", "for my goddaughter", "for my stepdaughter")}
RESTART = ("ok scrap that, I actually need {colour} {articles} {who}",
           "let's start over - {colour} {articles} {who}", "forget all that. new idea: {colour} {articles} {who}",
           "hmm, start again: {colour} {articles} {who} please")
OPENING = ("show me {colour} {articles} {who}", "I'm looking for {colour} {articles} {who}",
           "{colour} {articles} {who} please")


@dataclass(frozen=True)
class Target:
    """Which gallery keys match: `key` with None for any value, minus `avoid` values."""

    key: tuple[str | None, ...]
    avoid: tuple[tuple[int, str], ...] = ()

    def matches(self, key: tuple[str, ...]) -> bool:
        return (all(want is None or want == have for want, have in zip(self.key, key))
                and all(key[column] != value for column, value in self.avoid))


class MoveShopper(Shopper):
    """A `Shopper` whose dialogues each make one move (see the module)."""

    def __init__(self, catalog: Catalog, rng: random.Random, matcher: VocabularyMatcher):
        super().__init__(catalog, rng)
        self.matcher = matcher

    def dialogue(self, move: str | None = None) -> dict:
        """One D.jsonl row for `move` (a random one by default); retries until reachable."""
        while True:
            kind = move or self.rng.choice(MOVES)
            talk = Dialogue()
            try:
                target = getattr(self, f"_{kind}")(talk)
            except _DeadEnd:
                continue
            targets = sorted(pid for key, pids in self.by_key.items() if target.matches(key) for pid in pids)
            if targets and 2 <= len(talk.turns) <= 5:
                return {"turns": talk.turns, "targets": targets, "kind": kind}

    # --- moves -----------------------------------------------------------------------------

    def _undo(self, talk: Dialogue) -> Target:
        walk = self._opening(talk)
        self._change(talk, walk)
        talk.say(self.rng.choice(UNDO))
        return Target(self._change(talk, walk).key)

    def _remove(self, talk: Dialogue) -> Target:
        walk = self._opening(talk)
        column = self.rng.choice(list(REMOVE))
        talk.say(self.rng.choice(REMOVE[column]))
        return Target(tuple(None if i == column else v for i, v in enumerate(walk.key)))

    def _another(self, talk: Dialogue) -> Target:
        walk = self._opening(talk)
        talk.say(self.rng.choice(ANOTHER))
        return Target((None, *walk.key[1:]), ((COLOUR, walk.key[COLOUR]),))

    def _more(self, talk: Dialogue) -> Target:
        walk = self._opening(talk, at_least=30)
        talk.say(self.rng.choice(MORE))
        return Target(walk.key)

    def _else(self, talk: Dialogue) -> Target:
        walk = self._opening(talk, at_least=4)
        talk.say(self.rng.choice(ELSE), select=self.rng.randint(1, 3))
        return Target(walk.key)

    def _question(self, talk: Dialogue) -> Target:
        walk = self._opening(talk)
        column, changed = self._step(walk)
        templates = QUESTION.get(column, QUESTION[COLOUR])
        if column == GENDER:
            talk.say(self._fill("{who} instead?", changed))
        else:
            talk.say(self._fill(self.rng.choice(templates), changed))
        return Target(changed.key)

    def _compare(self, talk: Dialogue) -> Target:
        return self._aside(talk, COMPARE)

    def _unheld(self, talk: Dialogue) -> Target:
        return self._aside(talk, UNHELD)

    def _foreign(self, talk: Dialogue) -> Target:
        return self._aside(talk, FOREIGN)

    def _shade(self, talk: Dialogue) -> Target:
        """A colour the kind and person lack, whose nearest catalogue colour they have."""
        walk = self._opening(talk)
        colours = {key[COLOUR] for key in self.by_key}
        for colour in self.rng.sample(sorted(colours), len(colours)):
            if (colour, *walk.key[1:]) in self.by_key:
                continue
            nearest = next((n for n in self.matcher.neighbours(colour) if n in colours), None)
            if nearest and (nearest, *walk.key[1:]) in self.by_key:
                talk.say(self.rng.choice(("in {c}?", "do you have {c}?", "{c} would be lovely")).format(c=colour.lower()))
                return Target((nearest, *walk.key[1:]))
        raise _DeadEnd(walk.key)

    def _typo(self, talk: Dialogue) -> Target:
        walk = self._fresh()
        colour, article = walk.key[COLOUR].lower(), walk.key[ARTICLE].lower()
        if self.rng.random() < 0.5 and len(colour) >= 5 and " " not in colour:
            colour = _misspelt(colour, self.rng)
        elif len(article) >= 6 and " " not in article:
            article = _misspelt(article, self.rng)
        else:
            raise _DeadEnd(walk.key)
        talk.say(self.rng.choice(OPENING).format(colour=colour, articles=article, who=self._who(walk.key[GENDER])))
        return Target(self._change(talk, walk).key)

    def _contrast(self, talk: Dialogue) -> Target:
        walk = self._opening(talk)
        options = sorted({key[ARTICLE] for key in self.by_key
                          if key[COLOUR] == walk.key[COLOUR] and key[GENDER] == walk.key[GENDER]} - {walk.key[ARTICLE]})
        if not options:
            raise _DeadEnd(walk.key)
        article = self.rng.choice(options)
        template, keeps_colour = self.rng.choice(CONTRAST)
        talk.say(template.format(articles=article.lower(), old=walk.key[ARTICLE].lower()))
        return Target((walk.key[COLOUR] if keeps_colour else None, article, walk.key[GENDER]))

    def _people(self, talk: Dialogue) -> Target:
        walk = self._fresh()
        if walk.key[GENDER] not in NEW_PEOPLE:
            raise _DeadEnd(walk.key)
        who = self.rng.choice(NEW_PEOPLE[walk.key[GENDER]])
        talk.say(self.rng.choice(OPENING).format(colour=walk.key[COLOUR].lower(), articles=walk.key[ARTICLE].lower(),
                                                 who=who))
        return Target(self._change(talk, walk).key)

    def _restart(self, talk: Dialogue) -> Target:
        self._change(talk, self._opening(talk))
        walk = self._fresh()
        talk.say(self._fill(self.rng.choice(RESTART), walk))
        return Target(walk.key)

    # --- helpers ---------------------------------------------------------------------------

    def _opening(self, talk: Dialogue, at_least: int = 1) -> Walk:
        for _ in range(50):
            walk = self._fresh()
            if len(self.by_key[walk.key]) >= at_least:
                talk.say(self._fill(self.rng.choice(OPENING), walk))
                return walk
        raise _DeadEnd(())

    def _aside(self, talk: Dialogue, phrases: Sequence[str]) -> Target:
        """A turn that must change nothing, between the opening and a change."""
        walk = self._opening(talk)
        talk.say(self.rng.choice(phrases))
        return Target(self._change(talk, walk).key)


def _misspelt(word: str, rng: random.Random) -> str:
    """One slip of the keyboard: a letter dropped, doubled or swapped with its neighbour."""
    slips: list[Callable[[str, int], str]] = [
        lambda w, i: w[:i] + w[i + 1:], lambda w, i: w[:i] + w[i] + w[i:],
        lambda w, i: w[:i] + w[i + 1] + w[i] + w[i + 2:]]
    i = rng.randrange(1, len(word) - 2)
    return rng.choice(slips)(word, i)


def make_move_dialogues(catalog: Catalog, n: int, seed: int) -> list[dict]:
    """`n` dialogues, the moves in turn, reproducible from `seed`."""
    shopper = MoveShopper(catalog, random.Random(seed), VocabularyMatcher(catalog.vocabulary()))
    return [shopper.dialogue(MOVES[i % len(MOVES)]) for i in range(n)]

