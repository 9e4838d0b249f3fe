"""Simulated shopper: multi-turn dialogues (D.jsonl) for `python -m evaluation.assistant --dialogs`.

    python -m evaluation.dialogues --catalog DIR --gallery IDS.txt --out D.jsonl [--n 200] [--seed 0]
        [--moves | --captions Q.jsonl --caption-folder DIR]

With `--moves`, the dialogues of `evaluation.move_dialogues` (undo, more, compare, another
language, ...); with `--captions`, caption queries said over several turns
(`evaluation.caption_dialogues`).

A dialogue (3-5 turns) walks from an opening to a target through attribute changes. The
simulator never sees results, so the target is defined by what the shopper said: the gallery
items whose colour, article type and gender (the attributes of `evaluation.queries`)
equal the values said so far, cumulated turn by turn, the uploaded photo's product left out.
Every value change leads to a combination the gallery holds, so every target is reachable.

Shapes (the `kind` of a line, reported separately by the evaluator):
- text: opening by text (all three attributes, or two with the third added later), changes.
- photo: a gallery photo uploaded (`image`, pixels only) with a change, then changes.
- select: a text opening, then a click on result N (1-3) with a change ("the second one, but
  in blue"), or the same typed without a click. A click assumes the shopper picked a result
  with the attributes asked for so far, as a real shopper would; when the pipeline showed a
  wrong item at N, that item's attributes carry forward and count against the pipeline.
- restart: an opening and a change, then "start over" and a new opening; only it counts.
Small talk ("thanks!", "hmm"), questions about results, people words ("for my wife"),
negation ("not black, maybe navy") and varied phrasing are mixed into every shape.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluation.queries import PHRASINGS
from offline.changes import attribute_keys, group_by_key
from retrieval.catalog import Catalog, load_gallery
from retrieval.vocabulary import normalise_word

COLUMNS = tuple(PHRASINGS)  # colour, article type, gender: what a turn may change
COLOUR, ARTICLE, GENDER = range(3)
# How often a turn changes each column: colour most, article type least (it changes most).
CHANGE_WEIGHTS = {COLOUR: 0.45, ARTICLE: 0.25, GENDER: 0.3}
KINDS = {"text": 0.3, "photo": 0.25, "select": 0.25, "restart": 0.2}
SMALLTALK_RATE = 0.35

# How shoppers name who an item is for, besides the catalogue's own word.
PEOPLE = {
    "Men": ("for men", "for my husband", "for my dad", "for him", "for my brother"),
    "Women": ("for women", "for my wife", "for my mum", "for her", "for my sister"),
    "Boys": ("for boys", "for my son", "for my nephew"),
    "Girls": ("for girls", "for my daughter", "for my niece"),
    "Unisex": ("unisex",),
}
OPEN_FULL = (
    "I'm after {a} {colour} {article} {who}", "show me {colour} {articles} {who}",
    "hi! looking for {articles} in {colour}, {who}", "do you have any {colour} {articles} {who}?",
    "{colour} {articles} {who} please", "I need {a} {colour} {article} {who}",
)
OPEN_NO_GENDER = ("I'm after {a} {colour} {article}", "show me some {colour} {articles}",
                  "hello, I want {colour} {articles}")
OPEN_NO_COLOUR = ("looking for {articles} {who}", "I need {a} {article} {who}",
                  "hi, any {articles} {who}?")
ADD_GENDER = ("it's {who}", "oh and it's {who}", "{who}, please")
ADD_COLOUR = ("in {colour} please", "{colour} would be nice", "preferably {colour}")
CHANGES = {
    COLOUR: ("in {new}", "make it {new}", "{new} instead", "do you have it in {new}?",
             "not {old}, maybe {new}", "hmm, same but {new}", "I'd prefer {new}"),
    ARTICLE: ("same but as {articles}", "show me {articles} like this",
              "{articles} in the same colour", "what about {colour} {articles}?"),
    GENDER: ("{who} instead", "actually it's {who}", "same but {who}", "now {who}"),
}
PHOTO_OPEN = ("this {change}", "do you have this {change}?", "like this but {change}",
              "something like this, {change}")
PHOTO_CHANGE = {COLOUR: "in {new}", ARTICLE: "as {articles}", GENDER: "{who}"}
# A change said together with a pick or a click: "the second one, but in blue".
PICKED_CHANGE = {COLOUR: ("in {new}", "{new}", "{new} please"), ARTICLE: ("as {articles}",),
                 GENDER: ("{who}",)}
PICK = ("the {nth} one, but {change}", "I like the {nth} one, can I see it {change}?",
        "{nth} one {change}")
CLICKED = ("this one but {change}", "like this, {change}", "{change}")
NTH = ("first", "second", "third")
SMALLTALK = ("thanks!", "hmm", "nice", "ok let me think", "cool, thank you",
             "what colour is the first one?", "which brand is the second one?")
RESTART = ("start over", "let's start again", "forget that, new search")


class _DeadEnd(Exception):
    """No one-attribute change leads anywhere from this key: `Shopper.dialogue` starts again."""


@dataclass(frozen=True)
class Walk:
    """Where the shopper is heading: the target's values of COLUMNS, and the uploaded photo."""

    key: tuple[str, ...]
    upload: str | None = None


@dataclass
class Dialogue:
    """Turns under construction (mutable scratch, never returned)."""

    turns: list[dict] = field(default_factory=list)

    def say(self, text: str, **extra) -> None:
        self.turns.append({"text": text, **extra})


class Shopper:
    """Generates dialogues on one gallery; all randomness comes from the seeded `rng`."""

    def __init__(self, catalog: Catalog, rng: random.Random):
        self.rng = rng
        keys = attribute_keys(catalog, catalog.ids, COLUMNS)
        self.keys = {pid: key for pid, key in keys.items() if all(key)}
        self.by_key = group_by_key(self.keys)
        self.ids = list(self.keys)

    def dialogue(self) -> dict:
        """One D.jsonl row: turns, targets, kind. Retries until the target is reachable."""
        while True:
            kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            talk = Dialogue()
            try:
                walk = getattr(self, f"_{kind}")(talk)
            except _DeadEnd:
                continue
            targets = sorted(set(self.by_key.get(walk.key, ())) - {walk.upload})
            if targets:
                self._chat(talk)
                if 3 <= len(talk.turns) <= 5:
                    return {"turns": talk.turns, "targets": targets, "kind": kind}

    def _text(self, talk: Dialogue) -> Walk:
        walk = self._open(talk)
        return self._changes(talk, walk, self.rng.randint(3, 4) - len(talk.turns))

    def _photo(self, talk: Dialogue) -> Walk:
        upload = self.rng.choice(self.ids)
        column, walk = self._step(Walk(self.keys[upload], upload))
        change = self._fill(PHOTO_CHANGE[column], walk)
        talk.say(self._fill(self.rng.choice(PHOTO_OPEN), walk, change=change), image=upload)
        return self._changes(talk, walk, self.rng.randint(2, 3))

    def _select(self, talk: Dialogue) -> Walk:
        walk = self._open(talk, full=True)
        column, walk = self._step(walk)
        change = self._fill(self.rng.choice(PICKED_CHANGE[column]), walk)
        nth = self.rng.randrange(len(NTH))
        if self.rng.random() < 0.5:
            talk.say(self._fill(self.rng.choice(CLICKED), walk, change=change), select=nth + 1)
        else:
            talk.say(self._fill(self.rng.choice(PICK), walk, change=change, nth=NTH[nth]))
        return self._changes(talk, walk, self.rng.randint(1, 2))

    def _restart(self, talk: Dialogue) -> Walk:
        self._change(talk, self._open(talk, full=True))
        restart = self.rng.choice(RESTART)
        if self.rng.random() < 0.5:
            talk.say(restart)
            return self._open(talk, full=True)
        walk = self._fresh()
        talk.say(f"{restart}: " + self._opening_text(walk, OPEN_FULL))
        return walk

    def _fresh(self) -> Walk:
        """A new target: the values of a random gallery item."""
        return Walk(self.keys[self.rng.choice(self.ids)])

    def _open(self, talk: Dialogue, full: bool = False) -> Walk:
        """A text opening; without `full` one attribute may be left for the next turn."""
        walk = self._fresh()
        missing = None if full or self.rng.random() < 0.5 else self.rng.choice((COLOUR, GENDER))
        if missing is None:
            talk.say(self._opening_text(walk, OPEN_FULL))
            return walk
        templates = OPEN_NO_GENDER if missing == GENDER else OPEN_NO_COLOUR
        talk.say(self._opening_text(walk, templates))
        talk.say(self._fill(self.rng.choice(ADD_GENDER if missing == GENDER else ADD_COLOUR), walk))
        return walk

    def _opening_text(self, walk: Walk, templates: Sequence[str]) -> str:
        return self._fill(self.rng.choice(templates), walk)

    def _changes(self, talk: Dialogue, walk: Walk, n: int) -> Walk:
        for _ in range(n):
            walk = self._change(talk, walk)
        return walk

    def _change(self, talk: Dialogue, walk: Walk) -> Walk:
        old = walk
        column, walk = self._step(walk)
        talk.say(self._fill(self.rng.choice(CHANGES[column]), walk, old=old.key[column]))
        return walk

    def _step(self, walk: Walk) -> tuple[int, Walk]:
        """Change one attribute to a value whose combination the gallery holds."""
        # Weighted order without replacement (Efraimidis-Spirakis keys).
        columns = sorted(CHANGE_WEIGHTS, key=lambda c: -self.rng.random() ** (1 / CHANGE_WEIGHTS[c]))
        for column in columns:
            options = sorted({key[column] for key in self.by_key
                              if key[column] != walk.key[column]
                              and all(key[c] == walk.key[c] for c in columns if c != column)
                              and set(self.by_key[key]) - {walk.upload}})
            if options:
                value = self.rng.choice(options)
                key = walk.key[:column] + (value,) + walk.key[column + 1:]
                return column, replace(walk, key=key)
        raise _DeadEnd(walk.key)

    def _fill(self, template: str, walk: Walk, old: str = "", **extra: str) -> str:
        """A template with the walk's values in shopper words."""
        colour, article, gender = walk.key
        article = article.lower()
        singular = " ".join(normalise_word(w) for w in article.split())
        values = {"colour": colour.lower(), "new": colour.lower(), "old": old.lower(),
                  "article": singular, "articles": article, "who": self._who(gender),
                  "a": _article(colour, singular, article), **extra}
        return template.format(**values)

    def _who(self, gender: str) -> str:
        return self.rng.choice(PEOPLE.get(gender, (f"for {gender.lower()}",)))

    def _chat(self, talk: Dialogue) -> None:
        """Maybe slip small talk or a question in after the first turn (the last included)."""
        if len(talk.turns) < 5 and self.rng.random() < SMALLTALK_RATE:
            position = self.rng.randint(1, len(talk.turns))
            talk.turns.insert(position, {"text": self.rng.choice(SMALLTALK)})


def _article(colour: str, singular: str, plural: str) -> str:
    """ "a black shirt", "an orange shirt", "some black track pants" (no singular form)."""
    if singular == plural:
        return "some"
    return "an" if colour[:1].lower() in "aeiou" else "a"


def make_dialogues(catalog: Catalog, n: int, seed: int) -> list[dict]:
    """`n` dialogues on the gallery `catalog`, reproducible from `seed`."""
    shopper = Shopper(catalog, random.Random(seed))
    return [shopper.dialogue() for _ in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.dialogues", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (products.csv, images/)")
    parser.add_argument("--gallery", required=True, help="IDS.txt: photos and targets come from these ids")
    parser.add_argument("--out", required=True, type=Path, help="D.jsonl to write")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--moves", action="store_true", help="one move per dialogue (evaluation.move_dialogues)")
    shape.add_argument("--captions", type=Path, help="Q.jsonl of caption queries to say over several turns")
    parser.add_argument("--caption-folder", type=Path, default=Path("../shared/data/fashioniq-captions"),
                        help="the FashionIQ caption files the --captions queries were joined from")
    args = parser.parse_args(argv)
    gallery = load_gallery(args.catalog, args.gallery)
    if args.moves:
        from evaluation.move_dialogues import make_move_dialogues

        dialogues = make_move_dialogues(gallery, args.n, args.seed)
    elif args.captions:
        from evaluation.caption_dialogues import caption_dialogues, caption_pairs

        if not args.caption_folder.is_dir():
            parser.error(f"--caption-folder {args.caption_folder} does not exist")
        queries = [json.loads(line) for line in args.captions.read_text().splitlines() if line.strip()]
        dialogues = caption_dialogues(queries, caption_pairs(args.caption_folder))
    else:
        dialogues = make_dialogues(gallery, args.n, args.seed)
    args.out.write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    print(f"wrote {len(dialogues)} dialogues to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
