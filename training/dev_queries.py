"""Development query files (Q.jsonl) on the catalogue from held-out caption language.

dev_captions.jsonl: dev caption pairs whose label is exactly one colour change, applied to a
gallery item of the matching kind in another colour. dev_shades.jsonl: shade words, slang,
typos and two changes (colour and who it is for), in phrasings the training data does not
use. Targets: gallery items with the reference's article type and gender (the new gender
when it changes) and the new colour; the reference itself never counts.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from retrieval.catalog import Catalog
from retrieval.vocabulary import VocabularyMatcher
from training.caption_labels import CAPTION_KINDS, CaptionPair, label_pair
from training.synthetic_turns import PEOPLE, TurnMaker

QUERIES = 300
# Phrasings held out from training (synthetic_turns never writes these).
SHADE_TEMPLATES = ("hmm, {c} maybe?", "{c} if you have it", "would {c} work?", "{c} pls",
                   "prefer a {c} shade", "rather go {c}")
TWO_CHANGE_TEMPLATES = ("got one in {c} {w}?", "{c}, and {w}", "{w} in {c} please")
CLOTHES = ("Tshirts", "Shirts", "Tops", "Dresses", "Kurtas", "Jeans", "Trousers", "Sweatshirts",
           "Jackets", "Skirts", "Shorts", "Sweaters", "Kurtis", "Tunics", "Track Pants")


class _Gallery:
    """Gallery items grouped by (article type, gender, colour)."""

    def __init__(self, catalog: Catalog, ids: Sequence[str], matcher: VocabularyMatcher):
        self.colour, self.kind, self.people = (matcher.colour_column, matcher.kind_columns[0],
                                               matcher.people_column)
        self.values = {pid: catalog.attributes(pid) for pid in ids}
        self.groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for pid, v in self.values.items():
            self.groups[(v[self.kind], v[self.people], v[self.colour])].append(pid)

    def query(self, pid: str, text: str, colour: str, people: str | None = None) -> dict | None:
        """The query changing `pid` to `colour` (and `people`), or None without targets."""
        v = self.values[pid]
        if v[self.colour] == colour:
            return None
        targets = [t for t in self.groups[(v[self.kind], people or v[self.people], colour)] if t != pid]
        return {"reference": pid, "text": text, "targets": sorted(targets)} if targets else None

    def of_kinds(self, kinds: Sequence[str]) -> list[str]:
        return [pid for pid, v in self.values.items() if v[self.kind] in kinds]


def caption_queries(gallery: _Gallery, pairs: list[CaptionPair], matcher: VocabularyMatcher,
                    rng: random.Random, n: int = QUERIES) -> list[dict]:
    """One-colour dev captions applied to gallery items of their kind."""
    queries = []
    for pair in rng.sample(pairs, len(pairs)):
        label = label_pair(pair.captions, matcher)
        if not label or not label.colour or label.gender or label.avoid:
            continue
        pool = gallery.of_kinds(CAPTION_KINDS[pair.category])
        for pid in rng.sample(pool, min(len(pool), 20)):
            query = gallery.query(pid, pair.message, label.colour)
            if query:
                queries.append(query)
                break
        if len(queries) >= n:
            break
    return queries


def shade_queries(gallery: _Gallery, maker: TurnMaker, n: int = QUERIES) -> list[dict]:
    """Shade words, typos and colour-plus-gender changes on gallery clothes."""
    pool, queries, rng = gallery.of_kinds(CLOTHES), [], maker.rng
    while len(queries) < n:
        pid = rng.choice(pool)
        colour = rng.choice([c for c in maker.shades if c != gallery.values[pid][gallery.colour]])
        words = rng.choice(maker.shades[colour])
        if rng.random() < 0.2:
            words = maker.typo(words)
        people = rng.choice(("Women", "Men")) if rng.random() < 0.3 else None
        if people:
            text = rng.choice(TWO_CHANGE_TEMPLATES).format(c=words, w=rng.choice(PEOPLE[people]))
        else:
            text = rng.choice(SHADE_TEMPLATES).format(c=words)
        query = gallery.query(pid, text, colour, people)
        if query:
            queries.append(query)
    return queries


def write_query_files(catalog: Catalog, gallery_ids: Sequence[str], dev_pairs: list[CaptionPair],
                      folder: Path, seed: int) -> None:
    """Write dev_captions.jsonl and dev_shades.jsonl into `folder`."""
    matcher = VocabularyMatcher(catalog.vocabulary())
    gallery = _Gallery(catalog, gallery_ids, matcher)
    rng = random.Random(seed)
    files = {"dev_captions.jsonl": caption_queries(gallery, dev_pairs, matcher, rng),
             "dev_shades.jsonl": shade_queries(gallery, TurnMaker(matcher, [], rng))}
    for name, queries in files.items():
        (folder / name).write_text("".join(json.dumps(q) + "\n" for q in queries))
        print(f"wrote {len(queries)} queries to {folder / name}")
