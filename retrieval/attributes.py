"""Attribute inference: what colour, article type, gender... an unlabelled photo shows.

An uploaded photo has no catalogue record, yet "this in blue" needs to know what "this" is.
With trained heads (`retrieval.attribute_heads`: linear classifiers on the image vector, the
product's own colours, calibrated on held-out products) their pooled probabilities answer,
the photo's neighbours voting with a learned weight. Until heads are learned (a first start)
two zero-shot signals are blended: the votes of the photo's nearest labelled neighbours in
the index (strong when the catalogue has look-alikes), and the similarity of the photo to
each value's text vector (CLIP zero-shot classification, which still works for values with
few neighbours). Each guess carries a confidence so that callers can ignore weak ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import softmax

from retrieval.colour import try_read_product
from retrieval.photo import ImageInput
from retrieval.vector_store import VectorStore

if TYPE_CHECKING:
    from retrieval.attribute_heads import AttributeHeads

RANKED_VALUES = 3  # a guess and its two runners-up


@dataclass(frozen=True)
class ValuePrototypes:
    """The text vector of every attribute value: zero-shot classifiers, one per column."""

    columns: tuple[str, ...]
    values: tuple[str, ...]
    vectors: np.ndarray  # (n_values, d), unit rows


@dataclass(frozen=True)
class AttributeGuess:
    value: str
    confidence: float  # probability in [0, 1]
    # The next likeliest (value, probability) pairs: what to offer when the guess is too
    # unsure to act on ("Is this a dress or a kurta?").
    runners_up: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class InferenceSettings:
    """Picked on 800 non-test items, leave-one-out (benchmarks/tune_composition.py): a
    softer neighbour vote (0.05) beat a sharp one, and a little zero-shot evidence (0.15)
    helps colour, while more of it hurts season and gender."""

    neighbours: int = 10
    neighbour_temperature: float = 0.05
    prompt_temperature: float = 0.02
    prompt_weight: float = 0.15


def neighbour_votes(scores: np.ndarray, records: Sequence[Mapping[str, str]], columns: Iterable[str],
                    temperature: float) -> dict[str, dict[str, float]]:
    """Each column's values weighted by the softmax of the neighbours' similarity `scores`
    (one record of attribute values per neighbour, best first)."""
    weights = softmax(np.asarray(scores, dtype=np.float64) / temperature)
    votes: dict[str, dict[str, float]] = {c: defaultdict(float) for c in columns}
    for record, weight in zip(records, weights):
        for column, value in record.items():
            if column in votes and value:
                votes[column][value] += float(weight)
    return votes


class AttributeInferrer:
    """Guesses each attribute column of a photo from its vector (and its pixels, with heads)."""

    def __init__(self, store: VectorStore, prototypes: ValuePrototypes, settings: InferenceSettings = InferenceSettings(),
                 heads: AttributeHeads | None = None):
        self.store = store
        self.prototypes = prototypes
        self.settings = settings
        self.heads = heads
        self.columns = tuple(dict.fromkeys(prototypes.columns))

    def _neighbour_votes(self, vector: np.ndarray, exclude_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        hits = self.store.search(vector, self.settings.neighbours, exclude_ids=exclude_ids)[0]
        if not hits:
            return {}
        return neighbour_votes(np.array([h.score for h in hits]), [self.store.attributes_of(h.id) for h in hits],
                               self.columns, self.settings.neighbour_temperature)

    def _prompt_probabilities(self, vector: np.ndarray, column: str) -> dict[str, float]:
        rows = [i for i, c in enumerate(self.prototypes.columns) if c == column]
        scores = self.prototypes.vectors[rows] @ vector
        probs = softmax(scores / self.settings.prompt_temperature)
        return {self.prototypes.values[i]: float(p) for i, p in zip(rows, probs)}

    def _zero_shot(self, vector: np.ndarray, column: str, votes: Mapping[str, Mapping[str, float]]) -> list[tuple[str, float]]:
        """The blend used before heads are learned: prompts and neighbour votes."""
        w = self.settings.prompt_weight
        blended: dict[str, float] = defaultdict(float)
        for value, p in self._prompt_probabilities(vector, column).items():
            blended[value] += w * p
        for value, p in votes.get(column, {}).items():
            blended[value] += (1 - w) * p
        return sorted(blended.items(), key=lambda item: -item[1])

    def infer(self, vector: np.ndarray, exclude_ids: Sequence[str] = (), image: ImageInput | None = None) -> dict[str, AttributeGuess]:
        """The most likely value of each column, with its probability and runners-up.

        `exclude_ids` keeps a product from voting for itself (evaluation of uploads); `image`,
        the photo's pixels, lets the heads read the product's own colours.
        """
        votes = self._neighbour_votes(vector, exclude_ids)
        heads = self.heads
        pooled = {}
        if heads is not None:
            colour = heads.colour_log_proba(try_read_product(image)) if image is not None and heads.weighs_colour else None
            pooled = heads.probabilities(vector, votes, colour)
        guesses = {}
        for column in self.columns:
            ranked = pooled.get(column) or self._zero_shot(vector, column, votes)
            (value, p), rest = ranked[0], ranked[1:RANKED_VALUES]
            guesses[column] = AttributeGuess(value, round(p, 3), tuple((v, round(q, 3)) for v, q in rest))
        return guesses
