"""Composed-retrieval triplets (reference, modification text, targets): mining and scoring.

A composed-retrieval model learns from triplets; public benchmarks ship them
(`offline.datasets`), and any catalogue with attributes can be mined for them: a product,
a change of exactly one of colour / article type / gender, and every product that has the
new value and the reference's other values as targets. Mining reuses the one-change logic of
`offline.changes` as the evaluation's queries, so both agree on what a change is, but words the
changes with its own phrasings (`TRAINING_PHRASINGS`), disjoint from the evaluation's, so a
test figure is never measured on phrasings the composer was trained on. Items in the
exclusion list (the test gallery) never appear, neither as references nor as targets.

`score_triplets` is the one evaluation of a composition function on triplets (CLIP4Cir's
lesson: the zero-shot sum and a trained model go through the same code), used by training
for validation and by `evaluation.retrieval` for the public benchmarks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offline.changes import attribute_keys, group_by_key, one_changes
from offline.metrics import TOP_K, recall_at_k
from retrieval.catalog import Catalog
from retrieval.vector_store import VectorStore

logger = logging.getLogger(__name__)

# How the training triplets word a change ({v}: the new value, lower case). Disjoint from
# `evaluation.queries.PHRASINGS` (a test checks it).
TRAINING_PHRASINGS: dict[str, tuple[str, ...]] = {
    "baseColour": ("{v} please", "could it be {v}", "switch the colour to {v}", "now in {v}", "got this in {v}?",
                   "prefer it {v}"),
    "articleType": ("{v} please", "turn it into {v}", "swap it for {v}", "{v} in this style", "could it be {v}"),
    "gender": ("{v} please", "one for {v}", "suitable for {v}", "the {v} one", "is there one for {v}?"),
}
DEFAULT_COLUMNS = tuple(TRAINING_PHRASINGS)

# (image vectors (n, d), text vectors (n, d)) -> unit query vectors (n, d), as in retrieval.retriever.
ComposeFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Triplet:
    """A reference image id, the change asked for, and the image ids that satisfy it."""

    reference: str
    text: str
    targets: tuple[str, ...]
    kind: str = ""  # what changed (a column, a benchmark category): results are also given per kind


@dataclass(frozen=True)
class TripletSet:
    """Triplets and the photos of every id they name.

    `fingerprint` changes whenever a photo or label of the source does; with the ids it keys
    the feature cache (`offline.features`), so a restricted set keeps its source's.
    """

    images: Mapping[str, Path]
    triplets: tuple[Triplet, ...]
    fingerprint: str

    def restricted(self, ids: Collection[str]) -> TripletSet:
        """Only `ids`: triplets whose reference is among them, with their targets cut down to them.

        Triplets left without a target are dropped, so no id outside `ids` leaks in as a
        reference or a target (a validation split stays unseen).
        """
        keep = set(ids)
        triplets = []
        for triplet in self.triplets:
            targets = tuple(t for t in triplet.targets if t in keep)
            if triplet.reference in keep and targets:
                triplets.append(Triplet(triplet.reference, triplet.text, targets, triplet.kind))
        images = {i: p for i, p in self.images.items() if i in keep}
        return TripletSet(images, tuple(triplets), self.fingerprint)

    def texts(self) -> list[str]:
        """The distinct modification texts, sorted (stable feature-cache keys)."""
        return sorted({t.text for t in self.triplets})


def mine_triplets(
    catalog: Catalog,
    exclude: Collection[str] = (),
    columns: Sequence[str] = DEFAULT_COLUMNS,
    seed: int = 0,
) -> TripletSet:
    """Every one-attribute change between products of `catalog` outside `exclude`, one phrasing each.

    Changes to a blank value ("make it ") are skipped: no shopper asks for them.
    """
    rng = random.Random(seed)
    excluded = set(exclude)
    allowed = [pid for pid in catalog.ids if pid not in excluded]
    keys = attribute_keys(catalog, allowed, columns)
    by_key = group_by_key(keys)
    triplets = [
        Triplet(change.reference, rng.choice(TRAINING_PHRASINGS[column]).format(v=change.value.lower()),
                tuple(by_key[change.target_key]), column)
        for column, changes in one_changes(keys, columns).items()
        for change in changes
        if change.value.strip()
    ]
    logger.info("Mined %d triplets from %d products (%d excluded)", len(triplets), len(allowed), len(catalog) - len(allowed))
    images = {pid: catalog.image_path(pid) for pid in allowed}
    return TripletSet(images, tuple(triplets), catalog.fingerprint())


def split_items(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation) ids: a seeded random `fraction` of the items is held out for validation.

    Splitting items rather than triplets keeps every validation photo unseen in training.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"The validation fraction must be between 0 and 1, got {fraction}")
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * fraction))
    return sorted(shuffled[n_val:]), sorted(shuffled[:n_val])


def rank_gallery(queries: np.ndarray, references: Sequence[str], gallery_ids: Sequence[str], gallery: np.ndarray, k: int = TOP_K) -> list[list[str]]:
    """The top `k` gallery ids for each query row, its own reference left out (exact search)."""
    store = VectorStore(gallery, list(gallery_ids), kind="flat")
    # One extra hit stands in for the reference, which is dropped afterwards: exact, and one batched search.
    hits = store.search(queries, k + 1)
    return [[h.id for h in row if h.id != reference][:k] for row, reference in zip(hits, references)]


def score_triplets(
    compose: ComposeFunction,
    triplets: Sequence[Triplet],
    image_vectors: Callable[[Sequence[str]], np.ndarray],
    text_vectors: Callable[[Sequence[str]], np.ndarray],
    gallery_ids: Sequence[str],
) -> dict:
    """Recall@K of `compose` on `triplets`, searching `gallery_ids`, overall and by kind of change.

    `image_vectors` / `text_vectors` map a list of ids / texts to their (n, d) vectors (a
    `offline.features.FeatureTable.take`).
    """
    queries = compose(image_vectors([t.reference for t in triplets]), text_vectors([t.text for t in triplets]))
    rankings = rank_gallery(queries, [t.reference for t in triplets], gallery_ids, image_vectors(list(gallery_ids)))
    targets = [set(t.targets) for t in triplets]
    result: dict = {"queries": len(triplets), **recall_at_k(rankings, targets)}
    kinds = sorted({t.kind for t in triplets})
    if len(kinds) > 1:
        rows = {kind: [i for i, t in enumerate(triplets) if t.kind == kind] for kind in kinds}
        result["by_change"] = {
            kind: recall_at_k([rankings[i] for i in members], [targets[i] for i in members]) for kind, members in rows.items()
        }
    return result
