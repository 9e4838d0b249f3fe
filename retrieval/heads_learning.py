"""Learning the attribute heads from a catalogue's own labelled products, and caching them.

One product in five (chosen by a hash of its id, so reruns agree) is held out: the heads
learn from the others, and the held-out products, read as if uploaded, fit the pooling
weights (`retrieval.attribute_heads`) by minimising their negative log-likelihood. That is
what makes the probabilities calibrated. A product's neighbours for the held-out vote are
found among the products learned from, standing in for the index.

Heads live beside the index they serve (`attribute_heads/` in its folder), keyed by the
encoder, the catalogue's fingerprint and the products learned from; another encoder, or a
changed catalogue, gets heads of its own. This module is on the serving path (the web app
learns missing heads in the background); `python -m training.attributes` is its CLI.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.attribute_heads import (
    AttributeHeads,
    ColumnModel,
    HeadsMismatchError,
    LinearHead,
    align,
    load_heads,
    pool,
    save_heads,
    vote_log_proba,
)
from retrieval.attributes import InferenceSettings, neighbour_votes
from retrieval.backdrop import learn_backdrop
from retrieval.catalog import Catalog
from retrieval.colour import Palette, ProductPixels, learn_palette, try_read_product
from retrieval.encoder import Encoder, spec_key
from retrieval.framing import learn_framing
from retrieval.vocabulary import VocabularyMatcher

logger = logging.getLogger(__name__)

HEADS_FOLDER = "attribute_heads"
HELD_OUT_ONE_IN = 5  # products held out to fit the pooling weights
REGULARISATION = (1.0, 10.0)  # inverse L2 strengths tried per column; the held-out likelihood picks
MIN_HELD_OUT = 10  # fewer labelled held-out products: weights stay at their defaults, uncalibrated
MIN_LEARNED_FROM_OUTSIDE = 100  # a gallery leaving out fewer products than this learns from the whole catalogue
MIN_LIGHT_BACKDROP_SHARE = 0.5  # fewer catalogue photos with a light backdrop: no colour reading at all
MAX_PRODUCTS = 30_000  # a larger catalogue learns from a hashed sample: minutes, not hours
DEFAULT_WEIGHTS = {"heads": 1.0, "neighbours": 0.0, "colour": 0.0}

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)


@dataclass(frozen=True)
class Examples:
    """What the heads learn from: products, their image vectors, labels and product pixels."""

    ids: list[str]
    vectors: np.ndarray  # (n, d) unit rows
    labels: Mapping[str, list[str]]  # column -> one value per product ("" is unknown)
    products: list[ProductPixels | None]  # None: no light backdrop, no colour reading

    def rows(self, keep: np.ndarray) -> Examples:
        idx = np.flatnonzero(keep)
        return Examples([self.ids[i] for i in idx], self.vectors[idx],
                        {c: [v[i] for i in idx] for c, v in self.labels.items()}, [self.products[i] for i in idx])


def held_out(product_id: str) -> bool:
    return int(hashlib.sha1(product_id.encode()).hexdigest(), 16) % HELD_OUT_ONE_IN == 0


def training_ids(catalog: Catalog, gallery: Sequence[str] | None = None) -> list[str]:
    """The products the heads learn from: those outside the gallery when it leaves enough out
    (a gallery is how an evaluation holds products out, and they must stay unseen), else every
    product; at most MAX_PRODUCTS, chosen by hash."""
    outside = [] if gallery is None else sorted(set(catalog.ids) - set(gallery), key=catalog.ids.index)
    ids = outside if len(outside) >= MIN_LEARNED_FROM_OUTSIDE else catalog.ids
    if len(ids) > MAX_PRODUCTS:
        ids = sorted(ids, key=lambda i: hashlib.sha1(i.encode()).hexdigest())[:MAX_PRODUCTS]
    return ids


def heads_key(catalog: Catalog, encoder_spec: str, ids: Sequence[str]) -> dict[str, str]:
    """What heads are learned from: equal keys mean saved heads can be reused."""
    return {"encoder": spec_key(encoder_spec), "catalog_fingerprint": catalog.fingerprint(),
            "learned_from": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]}


def read_examples(catalog: Catalog, ids: Sequence[str], vectors: np.ndarray, on_progress: Progress | None = None) -> Examples:
    """Labels from the catalogue, product pixels from each photo (with progress)."""
    products = []
    for n, pid in enumerate(ids):
        products.append(try_read_product(catalog.image_path(pid)))
        if on_progress and (n % 64 == 0 or n == len(ids) - 1):
            on_progress("Reading the products' colours", n + 1, len(ids))
    labels = {c: catalog.column(c, ids) for c in catalog.attribute_columns}
    return Examples(list(ids), vectors, labels, products)


def fit_linear(features: np.ndarray, labels: Sequence[str], c: float) -> LinearHead:
    """Multinomial logistic regression (scikit-learn); one class only: always that class."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    if len(classes) == 1:
        return LinearHead(tuple(classes), np.zeros((1, features.shape[1])), np.zeros(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few more iterations change nothing we measure
        model = LogisticRegression(C=c, max_iter=500).fit(features, labels)
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: logit of the second
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearHead(tuple(str(c) for c in model.classes_), coef.astype(np.float32), intercept.astype(np.float32))


def held_out_votes(learn: Examples, held: Examples, settings: InferenceSettings = InferenceSettings()) -> list[dict[str, dict[str, float]]]:
    """Each held-out product's neighbours' votes, its neighbours found among `learn`."""
    k = min(settings.neighbours, len(learn.ids))
    if k == 0:
        return [{} for _ in held.ids]
    scores = held.vectors @ learn.vectors.T  # (h, n)
    nearest = np.argsort(-scores, axis=1)[:, :k]
    return [neighbour_votes(scores[r, nearest[r]], [{c: learn.labels[c][j] for c in learn.labels} for j in nearest[r]],
                            learn.labels, settings.neighbour_temperature) for r in range(len(held.ids))]


def fit_weights(evidence: Mapping[str, np.ndarray], truth: np.ndarray) -> dict[str, float]:
    """Non-negative source weights minimising the held-out negative log-likelihood.

    `evidence` maps a source to (n, k) log-probabilities, `truth` holds the right class of each row."""
    from scipy.optimize import minimize

    sources = list(evidence)

    def nll(w: np.ndarray) -> float:
        logp = pool(evidence, dict(zip(sources, w)))
        return -float(logp[np.arange(len(truth)), truth].mean())

    start = np.array([DEFAULT_WEIGHTS.get(s, 0.0) or 0.5 for s in sources])
    best = minimize(nll, start, method="L-BFGS-B", bounds=[(0.0, 50.0)] * len(sources))
    return {s: round(float(w), 4) for s, w in zip(sources, best.x)}


def calibration_figures(logp: np.ndarray, truth: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Accuracy, negative log-likelihood and expected calibration error of (n, k) log-probabilities."""
    probs = np.exp(logp)
    top = probs.max(1)
    right = probs.argmax(1) == truth
    edges = np.minimum((top * bins).astype(int), bins - 1)
    ece = sum(abs(right[edges == b].mean() - top[edges == b].mean()) * (edges == b).mean() for b in range(bins) if (edges == b).any())
    return {"accuracy": round(100 * float(right.mean()), 2), "nll": round(-float(logp[np.arange(len(truth)), truth].mean()), 4),
            "ece": round(100 * float(ece), 2)}


def learn_palette_of(learn: Examples) -> tuple[Palette | None, str]:
    """The palette of the products' own colours, or None (and why) when too few photos have a
    light backdrop for the product's pixels to be told apart."""
    share = float(np.mean([p is not None for p in learn.products])) if learn.products else 0.0
    if share < MIN_LIGHT_BACKDROP_SHARE:
        return None, f"stepped aside: {100 * share:.0f}% of the photos have a light backdrop"
    return learn_palette([p for p in learn.products if p is not None]), f"read on {100 * share:.0f}% of the photos"


def _colour_head(palette: Palette, learn: Examples, column: str, c: float) -> tuple[LinearHead, np.ndarray]:
    """The colour classifier on the products whose pixels were read, and which rows those are."""
    rows = np.array([p is not None and v != "" for p, v in zip(learn.products, learn.labels[column])])
    features = np.stack([palette.features(p) for p, r in zip(learn.products, rows) if r])
    return fit_linear(features, [v for v, r in zip(learn.labels[column], rows) if r], c), rows


def learn_column(column: str, learn: Examples, held: Examples, votes: list[dict], colour: dict | None) -> tuple[ColumnModel, dict]:
    """The column's head (regularisation picked on the held-out products) and its pooling weights.

    `colour`, for the colour column, holds the colour classifier's held-out log-probabilities
    ("logp", rows without a reading are None) and its classes."""
    labelled = np.array([v != "" for v in learn.labels[column]])
    best: tuple[float, ColumnModel, dict] | None = None
    for c in REGULARISATION:
        head = fit_linear(learn.vectors[labelled], [v for v, k in zip(learn.labels[column], labelled) if k], c)
        model, figures = _calibrate(column, head, held, votes, colour)
        score = figures.get("pooled", {}).get("nll", float("inf"))
        if best is None or score < best[0]:
            best = (score, model, {**figures, "regularisation_c": c})
    return best[1], best[2]


def _calibrate(column: str, head: LinearHead, held: Examples, votes: list[dict], colour: dict | None) -> tuple[ColumnModel, dict]:
    """Pooling weights fitted on the held-out products whose value the head knows."""
    index = {c: i for i, c in enumerate(head.classes)}
    rows = [r for r, v in enumerate(held.labels[column]) if v in index]
    defaults = {s: w for s, w in DEFAULT_WEIGHTS.items() if s != "colour"}
    if len(rows) < MIN_HELD_OUT:
        return ColumnModel(head, DEFAULT_WEIGHTS, defaults), {"held_out": len(rows)}
    truth = np.array([index[held.labels[column][r]] for r in rows])
    evidence = {"heads": np.stack([head.log_proba(held.vectors[r]) for r in rows]),
                "neighbours": np.stack([vote_log_proba(votes[r].get(column, {}), head.classes) for r in rows])}
    without = fit_weights(evidence, truth)
    figures = {"held_out": len(rows), "head_alone": calibration_figures(evidence["heads"], truth),
               "pooled": calibration_figures(pool(evidence, without), truth), "weights": without}
    weights = {**without, "colour": 0.0}
    if colour is not None:
        read = [i for i, r in enumerate(rows) if colour["logp"][r] is not None]
        if len(read) >= MIN_HELD_OUT:
            with_colour = {**{s: e[read] for s, e in evidence.items()},
                           "colour": np.stack([align(colour["logp"][rows[i]], colour["classes"], head.classes) for i in read])}
            weights = fit_weights(with_colour, truth[read])
            figures["colour_alone"] = calibration_figures(pool({"colour": with_colour["colour"]}, {"colour": 1.0}), truth[read])
            figures["pooled_with_colour"] = calibration_figures(pool(with_colour, weights), truth[read])
            figures["weights_with_colour"] = weights
    return ColumnModel(head, weights, without), figures


def learn_heads(examples: Examples, key: Mapping[str, str], colour_column: str | None,
                on_progress: Progress | None = None) -> AttributeHeads:
    """Heads for every attribute column of `examples`, calibrated on the held-out fifth."""
    out = np.array([held_out(i) for i in examples.ids])
    learn, held = examples.rows(~out), examples.rows(out)
    votes = held_out_votes(learn, held)
    palette, colour_note = learn_palette_of(learn) if colour_column else (None, "no colour column")
    colour, colour_head = None, None
    if palette is not None:
        colour_head, _ = _colour_head(palette, learn, colour_column, REGULARISATION[0])
        colour = {"classes": colour_head.classes,
                  "logp": [None if p is None else colour_head.log_proba(palette.features(p)) for p in held.products]}
    columns, report = {}, {"learned_from": len(learn.ids), "held_out": len(held.ids), "colour_reading": colour_note,
                           "columns": {}}
    for n, column in enumerate(examples.labels):
        if on_progress:
            on_progress("Learning what photos show", n, len(examples.labels))
        columns[column], report["columns"][column] = learn_column(
            column, learn, held, votes, colour if column == colour_column else None)
    if on_progress:
        on_progress("Learning what photos show", len(examples.labels), len(examples.labels))
    framing = learn_framing(examples.products)
    backdrop = learn_backdrop(examples.products)
    report["framing"] = framing.to_dict() if framing else "none: too few photos on a light backdrop"
    report["backdrop"] = backdrop.to_dict() if backdrop else "none: too few photos on a light backdrop"
    return AttributeHeads(columns, dict(key), colour_column if palette is not None else None, palette, colour_head, report,
                          framing, backdrop)


@dataclass(frozen=True)
class HeadsPlan:
    """Which heads serve an index, and how to learn them: the whole catalogue (labels, photos),
    the index's gallery (None: every product), the encoder and the index cache."""

    catalog: Catalog
    gallery: tuple[str, ...] | None
    encoder: Encoder
    folder: Path  # beside the index (retrieval.index.heads_folder)
    index_dir: Path | None = None

    def ids(self) -> list[str]:
        return training_ids(self.catalog, self.gallery)

    def key(self) -> dict[str, str]:
        return heads_key(self.catalog, self.encoder.spec.text, self.ids())

    def cached(self) -> AttributeHeads | None:
        """The saved heads when they were learned for this key, else None (said in the log)."""
        if not (self.folder / "manifest.json").is_file():
            return None
        try:
            return load_heads(self.folder, self.key())
        except (HeadsMismatchError, OSError, ValueError, KeyError) as err:
            logger.warning("Learning the attribute heads again: the saved ones cannot be used (%s)", err)
            return None

    def learn(self, progress: bool = False, on_progress: Progress | None = None) -> AttributeHeads:
        """Learn the heads now (their products' vectors come from the index cache, encoded there
        on first use) and save them beside the index."""
        from retrieval.index import cached_index

        ids = self.ids()
        colour_column = VocabularyMatcher(self.catalog.vocabulary()).colour_column

        def encoding(done: int, total: int) -> None:
            if on_progress:
                on_progress("Encoding the photos to learn from", done, total)

        store = cached_index(self.catalog.subset(ids), self.encoder, self.index_dir, on_progress=encoding, progress=progress)
        vectors = np.stack([store.vector(i) for i in ids])
        examples = read_examples(self.catalog, ids, vectors, on_progress)
        heads = learn_heads(examples, self.key(), colour_column, on_progress)
        save_heads(heads, self.folder)
        logger.info("Learned attribute heads from %d products into %s", len(ids), self.folder)
        return heads

    def cached_or_learned(self, progress: bool = False, on_progress: Progress | None = None) -> AttributeHeads:
        return self.cached() or self.learn(progress, on_progress)
