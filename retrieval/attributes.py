"""Attribute inference: what colour, article type, gender... an unlabelled photo shows.

An uploaded photo has no catalogue record, yet "this in blue" needs to know what "this" is.
Two zero-shot signals are blended: the votes of the photo's nearest labelled neighbours in
the index (strong when the catalogue has look-alikes), and the similarity of the photo to
each value's text vector (CLIP zero-shot classification, which still works for values with
few neighbours). Each guess carries a confidence so that callers can ignore weak ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.vector_store import VectorStore

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


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = (scores - scores.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


class AttributeInferrer:
    """Guesses each attribute column of a photo from its vector."""

    def __init__(self, store: VectorStore, prototypes: ValuePrototypes, settings: InferenceSettings = InferenceSettings()):
        self.store = store
        self.prototypes = prototypes
        self.settings = settings
        self.columns = tuple(dict.fromkeys(prototypes.columns))

    def _neighbour_votes(self, vector: np.ndarray, exclude_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        hits = self.store.search(vector, self.settings.neighbours, exclude_ids=exclude_ids)[0]
        if not hits:
            return {}
        weights = _softmax(np.array([h.score for h in hits]), self.settings.neighbour_temperature)
        votes: dict[str, dict[str, float]] = {c: defaultdict(float) for c in self.columns}
        for hit, weight in zip(hits, weights):
            for column, value in self.store.attributes_of(hit.id).items():
                if column in votes and value:
                    votes[column][value] += float(weight)
        return votes

    def _prompt_probabilities(self, vector: np.ndarray, column: str) -> dict[str, float]:
        rows = [i for i, c in enumerate(self.prototypes.columns) if c == column]
        scores = self.prototypes.vectors[rows] @ vector
        probs = _softmax(scores, self.settings.prompt_temperature)
        return {self.prototypes.values[i]: float(p) for i, p in zip(rows, probs)}

    def infer(self, vector: np.ndarray, exclude_ids: Sequence[str] = ()) -> dict[str, AttributeGuess]:
        """The most likely value of each column, with its blended probability.

        `exclude_ids` keeps a product from voting for itself (evaluation of uploads).
        """
        votes = self._neighbour_votes(vector, exclude_ids)
        w = self.settings.prompt_weight
        guesses = {}
        for column in self.columns:
            blended = defaultdict(float)
            for value, p in self._prompt_probabilities(vector, column).items():
                blended[value] += w * p
            for value, p in votes.get(column, {}).items():
                blended[value] += (1 - w) * p
            ranked = sorted(blended.items(), key=lambda item: -item[1])[:RANKED_VALUES]
            (value, p), rest = ranked[0], ranked[1:]
            guesses[column] = AttributeGuess(value, round(p, 3), tuple((v, round(q, 3)) for v, q in rest))
        return guesses
