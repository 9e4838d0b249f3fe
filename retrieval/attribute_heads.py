"""Trained attribute heads: what a photo shows, read from the encoder's frozen image vector.

One linear classifier per attribute column on the image vector (the index's own vectors, so
an upload costs one encoding), and for the colour column a second one on the product's own
pixels (`retrieval.colour`). Their log-probabilities and the photo's neighbours' votes are
pooled with weights learned on held-out development items (`retrieval.heads_learning`): a
log-linear pool, i.e. temperature scaling with one temperature per evidence source, so the
probabilities are calibrated and "sure enough to filter" versus "ask the shopper" is a number.

They also hold how the catalogue frames and lights its products (`retrieval.framing`,
`retrieval.backdrop`), learned from the same photos, so an upload can be framed and lit the
same way before it is read.

Heads are saved as plain arrays (npz) with a manifest naming the encoder, the catalogue and
the products they learned from; loading refuses heads made for anything else.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

from retrieval.backdrop import Backdrop
from retrieval.colour import Palette, ProductPixels
from retrieval.framing import Framing

logger = logging.getLogger(__name__)

FORMAT_VERSION = 4
MANIFEST = "manifest.json"
ARRAYS = "heads.npz"
SOURCES = ("heads", "neighbours", "colour")
VOTE_SMOOTHING = 0.05  # share of a vote spread over every value, so a value no neighbour has is unlikely, not impossible


@dataclass(frozen=True)
class LinearHead:
    """Multinomial logistic regression: classes, weights (k, d), biases (k,)."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray

    def log_proba(self, features: np.ndarray) -> np.ndarray:
        """(k,) log-probabilities of the classes for one (d,) feature vector."""
        return log_softmax(self.coef @ features + self.intercept, axis=-1)


@dataclass(frozen=True)
class ColumnModel:
    """One column's head and the weight of each evidence source in its pooled logits.

    `weights` apply when the photo's colours were read, `weights_without_colour` when they
    were not (every column but colour, and a colour photo the reading stepped aside for)."""

    head: LinearHead
    weights: Mapping[str, float]
    weights_without_colour: Mapping[str, float]


@dataclass(frozen=True)
class AttributeHeads:
    """Every column's model, the colour reading, the catalogue's framing and backdrop (None where
    its photos have no light backdrop), and the key of what they were learned from."""

    columns: Mapping[str, ColumnModel]
    key: Mapping[str, str]
    colour_column: str | None = None
    palette: Palette | None = None
    colour_head: LinearHead | None = None
    report: Mapping[str, object] = field(default_factory=dict)
    framing: Framing | None = None
    backdrop: Backdrop | None = None

    @property
    def reads_colour(self) -> bool:
        return self.palette is not None and self.colour_head is not None and self.colour_column in self.columns

    @property
    def weighs_colour(self) -> bool:
        """Whether a photo's colours count at all: a reading with no weight is not worth its milliseconds."""
        return self.reads_colour and self.columns[self.colour_column].weights.get("colour", 0.0) > 0

    def colour_log_proba(self, product: ProductPixels | None) -> np.ndarray | None:
        """(k,) log-probabilities of the colour head's classes, None when nothing was read."""
        if product is None or not self.reads_colour:
            return None
        return self.colour_head.log_proba(self.palette.features(product))

    def probabilities(self, vector: np.ndarray, votes: Mapping[str, Mapping[str, float]],
                      colour: np.ndarray | None = None) -> dict[str, list[tuple[str, float]]]:
        """Each column's (value, probability) pairs, likeliest first."""
        ranked = {}
        for column, model in self.columns.items():
            evidence = {"heads": model.head.log_proba(vector),
                        "neighbours": vote_log_proba(votes.get(column, {}), model.head.classes)}
            weights = model.weights_without_colour
            if column == self.colour_column and colour is not None:
                evidence["colour"] = align(colour, self.colour_head.classes, model.head.classes)
                weights = model.weights
            probs = np.exp(pool(evidence, weights))
            order = np.argsort(-probs)
            ranked[column] = [(model.head.classes[i], float(probs[i])) for i in order]
        return ranked


def pool(evidence: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Log-probabilities of the weighted log-linear pool of the sources present in both."""
    logits = sum(weights.get(s, 0.0) * lp for s, lp in evidence.items())
    return log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)


def vote_log_proba(votes: Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    """(k,) log of the neighbours' vote shares over `classes`, smoothed so no value is impossible."""
    shares = np.array([votes.get(c, 0.0) for c in classes], dtype=np.float64)
    shares = shares / shares.sum() if shares.sum() > 0 else np.full(len(classes), 1.0 / len(classes))
    return np.log((1 - VOTE_SMOOTHING) * shares + VOTE_SMOOTHING / len(classes))


def align(log_proba: np.ndarray, source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """`log_proba` over `source` classes re-indexed to `target` (a class the source lacks gets
    the source's smallest log-probability)."""
    index = {c: i for i, c in enumerate(source)}
    floor = float(log_proba.min())
    return np.array([log_proba[index[c]] if c in index else floor for c in target])


class HeadsMismatchError(RuntimeError):
    """Saved heads were learned for another encoder, catalogue or format: learn them again."""


def save_heads(heads: AttributeHeads, folder: Path) -> None:
    """Arrays first, the manifest last (an interrupted save leaves heads that `load_heads` refuses)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    arrays: dict[str, np.ndarray] = {}
    columns = {}
    for n, (column, model) in enumerate(heads.columns.items()):
        arrays[f"coef_{n}"], arrays[f"intercept_{n}"] = model.head.coef, model.head.intercept
        columns[column] = {"array": n, "classes": list(model.head.classes), "weights": dict(model.weights),
                           "weights_without_colour": dict(model.weights_without_colour)}
    colour = None
    if heads.reads_colour:
        arrays["palette"], arrays["colour_coef"], arrays["colour_intercept"] = (
            heads.palette.centres, heads.colour_head.coef, heads.colour_head.intercept)
        colour = {"column": heads.colour_column, "classes": list(heads.colour_head.classes)}
    np.savez(folder / ARRAYS, **arrays)
    manifest = {"format_version": FORMAT_VERSION, "key": dict(heads.key), "columns": columns, "colour": colour,
                "framing": heads.framing and heads.framing.to_dict(),
                "backdrop": heads.backdrop and heads.backdrop.to_dict(), "report": heads.report}
    partial = folder / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2))
    os.replace(partial, folder / MANIFEST)


def load_heads(folder: Path, key: Mapping[str, str]) -> AttributeHeads:
    """The heads saved in `folder`; HeadsMismatchError unless they were learned for `key`."""
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("key") != dict(key):
        raise HeadsMismatchError(f"The attribute heads in {folder} were learned for {manifest.get('key')}, "
                                 f"format {manifest.get('format_version')}; wanted {dict(key)}, format {FORMAT_VERSION}")
    with np.load(folder / ARRAYS) as arrays:
        columns = {column: ColumnModel(LinearHead(tuple(spec["classes"]), arrays[f"coef_{spec['array']}"],
                                                  arrays[f"intercept_{spec['array']}"]),
                                       spec["weights"], spec["weights_without_colour"])
                   for column, spec in manifest["columns"].items()}
        colour = manifest.get("colour")
        framing = manifest["framing"] and Framing.from_dict(manifest["framing"])
        backdrop = manifest["backdrop"] and Backdrop.from_dict(manifest["backdrop"])
        if colour is None:
            return AttributeHeads(columns, manifest["key"], report=manifest.get("report", {}), framing=framing,
                                  backdrop=backdrop)
        return AttributeHeads(columns, manifest["key"], colour["column"], Palette(arrays["palette"]),
                              LinearHead(tuple(colour["classes"]), arrays["colour_coef"], arrays["colour_intercept"]),
                              manifest.get("report", {}), framing, backdrop)
