"""Train a composer (CLIP4Cir Combiner) on frozen encoder features of composed-retrieval triplets.

    python -m training.composer --catalog DIR --encoder SPEC --exclude IDS.txt --out DIR \
        [--dataset catalog|fashion200k|fashioniq] [--epochs N] [--seed S]

With `--dataset catalog` (default) triplets are mined from the catalogue's attributes
(`offline.triplets`); with fashion200k / fashioniq, `--catalog` is the dataset folder and
its training split is used (`offline.datasets`). Items listed in `--exclude` (the test
gallery) are never used. A seeded fraction of the remaining photos is held out: triplets
among them give the validation loss and recall@K after each epoch, and the epoch with the
best validation recall@10 is the one saved. Features are encoded once and cached
(`offline.features`). `--out` receives composer.safetensors + composer.json (what
`evaluation.retrieval --composer` loads), history.json and curves.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from offline.datasets import DATASETS, DatasetError, load_training_set
from offline.features import FeatureTable, image_features, text_features
from offline.triplets import TripletSet, score_triplets, split_items
from retrieval.catalog import CatalogError, read_ids
from retrieval.composer import Combiner, CombinerConfig, Composer, save_composer
from retrieval.encoder import EncoderUnavailableError, load_encoder

logger = logging.getLogger(__name__)

EXPECTED_ERRORS = (CatalogError, DatasetError, EncoderUnavailableError, ValueError, OSError)


# The loss: in-batch negatives, where any batch target that satisfies a query counts as a
# positive, not a negative (a query has several correct products, and two queries may draw
# the same one).


def positives_mask(query_targets: Sequence[np.ndarray], batch_targets: np.ndarray) -> torch.Tensor:
    """(B, B) bool: [i, j] is True when the target drawn for row j is a correct answer to query i.

    `query_targets[i]` holds the ids (ints) query i accepts; `batch_targets[j]` is the id drawn
    for row j. Row i's own target is always a positive; so are other rows' targets that query
    i also accepts, including the same product drawn twice. Vectorised as one `np.isin` over
    (row, id) pairs: a Python double loop costs more than a training step at B = 512.
    """
    batch_targets = np.asarray(batch_targets, np.int64)  # (B,)
    accepted_ids = [np.asarray(t, np.int64) for t in query_targets]  # each non-empty
    span = 1 + max(int(batch_targets.max()), *(int(t.max()) for t in accepted_ids))
    rows = np.repeat(np.arange(len(accepted_ids)), [len(t) for t in accepted_ids])
    accepted = rows * span + np.concatenate(accepted_ids)  # every (query, accepted id) pair as one int
    pairs = np.arange(len(accepted_ids))[:, None] * span + batch_targets[None, :]  # (B, B)
    return torch.from_numpy(np.isin(pairs, accepted))


def multi_positive_info_nce(queries: torch.Tensor, targets: torch.Tensor, positives: torch.Tensor, scale: float) -> torch.Tensor:
    """Mean over queries of -log(softmax mass on the positives) for logits `scale` * cosine.

    Summing the positives' probabilities (rather than averaging their log-probabilities)
    asks for *a* correct product on top, which is what recall@K rewards.
    """
    logits = scale * queries @ targets.T  # (B, B)
    log_all = torch.logsumexp(logits, dim=1)  # (B,)
    log_positive = torch.logsumexp(logits.masked_fill(~positives, float("-inf")), dim=1)  # (B,)
    return (log_all - log_positive).mean()



@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; saved with the weights so a run can be repeated."""

    catalog: str
    encoder: str
    out: str
    exclude: str | None = None
    dataset: str = "catalog"
    epochs: int = 10
    seed: int = 0
    batch_size: int = 512  # in-batch negatives: more is better until a step gets slow on a CPU
    samples_per_epoch: int = 51_200  # triplets drawn per epoch, balanced over kinds of change
    learning_rate: float = 5e-4
    weight_decay: float = 1e-4
    temperature: float = 0.05  # logits = cosine / temperature; 0.05 beat 0.02 on held-out dev items (CLIP4Cir fixes 0.01)
    val_fraction: float = 0.1
    val_queries: int = 1500  # validation triplets scored each epoch, balanced over kinds of change
    projection_dim: int = 512
    hidden_dim: int = 1024
    dropout: float = 0.5
    cache_dir: str | None = None
    threads: int = 0  # torch CPU threads; 0 keeps torch's default. 1 is faster for small models on a busy machine


@dataclass(frozen=True)
class EncodedTriplets:
    """Triplets as rows of the feature tables: what a training step needs, without strings."""

    references: np.ndarray  # (n,) image rows
    texts: np.ndarray  # (n,) text rows
    targets: tuple[np.ndarray, ...]  # n arrays of image rows, each non-empty
    kinds: np.ndarray  # (n,) int, for sampling each kind of change equally often

    @classmethod
    def build(cls, triplets: TripletSet, images: FeatureTable, texts: FeatureTable) -> EncodedTriplets:
        items = triplets.triplets
        targets = tuple(images.rows(t.targets) for t in items)
        kind_names = sorted({t.kind for t in items})
        return cls(
            references=images.rows([t.reference for t in items]),
            texts=texts.rows([t.text for t in items]),
            targets=targets,
            kinds=np.array([kind_names.index(t.kind) for t in items]),
        )

    def __len__(self) -> int:
        return len(self.references)


def balanced_sample(kinds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` triplet indices, each kind of change equally likely (the evaluation queries are balanced)."""
    counts = np.bincount(kinds)
    weights = 1.0 / counts[kinds]
    return rng.choice(len(kinds), size=n, replace=True, p=weights / weights.sum())


def balanced_subset(kinds: Sequence[str], n: int, rng: np.random.Generator) -> list[int]:
    """Up to `n` distinct indices, the same number of each kind where it has enough, in order."""
    members: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        members.setdefault(kind, []).append(i)
    share = max(1, n // len(members)) if members else 0
    return sorted(i for rows in members.values() for i in rng.permutation(rows)[:share].tolist())


def draw_targets(data: EncodedTriplets, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One target image row per triplet of the batch, uniformly among its targets."""
    return np.array([data.targets[i][rng.integers(len(data.targets[i]))] for i in batch])


def batch_loss(
    model: Combiner, data: EncodedTriplets, batch: np.ndarray, targets: np.ndarray, images: torch.Tensor, texts: torch.Tensor, temperature: float
) -> torch.Tensor:
    """In-batch multi-positive InfoNCE: the other rows' drawn targets are the negatives."""
    queries = model(images[data.references[batch]], texts[data.texts[batch]])  # (B, d)
    positives = positives_mask([data.targets[i] for i in batch], targets)  # (B, B)
    return multi_positive_info_nce(queries, images[targets], positives, 1.0 / temperature)


def batches(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive slices of `size` (the last one shorter)."""
    for start in range(0, len(indices), size):
        yield indices[start:start + size]


@dataclass(frozen=True)
class Validation:
    """A fixed validation sample, so epochs are compared on the same triplets and targets."""

    data: EncodedTriplets
    loss_batches: tuple[tuple[np.ndarray, np.ndarray], ...]
    triplets: TripletSet
    images: FeatureTable
    texts: FeatureTable


def make_validation(val: TripletSet, images: FeatureTable, texts: FeatureTable, config: TrainConfig) -> Validation:
    """Up to `val_queries` validation triplets (balanced by kind) with their drawn targets fixed by the seed."""
    rng = np.random.default_rng(config.seed + 1)
    scored = [val.triplets[i] for i in balanced_subset([t.kind for t in val.triplets], config.val_queries, rng)]
    val = TripletSet(val.images, tuple(scored), val.fingerprint)
    data = EncodedTriplets.build(val, images, texts)
    order = rng.permutation(len(data))
    loss_batches = tuple((b, draw_targets(data, b, rng)) for b in batches(order, config.batch_size) if len(b) > 1)
    return Validation(data, loss_batches, val, images, texts)


def validate(model: Combiner, validation: Validation, images: torch.Tensor, texts: torch.Tensor, temperature: float) -> dict:
    """Validation loss (same in-batch loss as training) and recall@K over the held-out photos."""
    model.eval()
    with torch.inference_mode():
        losses = [batch_loss(model, validation.data, b, t, images, texts, temperature).item() for b, t in validation.loss_batches]
    recall = score_triplets(
        Composer(model), validation.triplets.triplets, validation.images.take, validation.texts.take, sorted(validation.triplets.images)
    )
    model.train()
    return {"loss": float(np.mean(losses)), **{k: v for k, v in recall.items() if k.startswith("recall@")}}


def train_epoch(
    model: Combiner, optimiser: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler,
    train: EncodedTriplets, images: torch.Tensor, texts: torch.Tensor, config: TrainConfig, rng: np.random.Generator, bar: tqdm,
) -> float:
    """One epoch of `samples_per_epoch` balanced triplets; returns the mean training loss."""
    losses = []
    for batch in batches(balanced_sample(train.kinds, config.samples_per_epoch, rng), config.batch_size):
        loss = batch_loss(model, train, batch, draw_targets(train, batch, rng), images, texts, config.temperature)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return float(np.mean(losses))


def fit(config: TrainConfig, train: EncodedTriplets, validation: Validation, images: FeatureTable, texts: FeatureTable) -> tuple[Combiner, list[dict]]:
    """The model of the epoch with the best validation recall@10, and every epoch's figures."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    image_tensor, text_tensor = torch.from_numpy(images.vectors), torch.from_numpy(texts.vectors)
    model = Combiner(CombinerConfig(images.dim, config.projection_dim, config.hidden_dim, config.dropout)).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = config.epochs * -(-config.samples_per_epoch // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=steps, pct_start=0.1)
    history, best, best_state = [], -1.0, None
    with tqdm(total=steps, desc="training", unit="step") as bar:
        for epoch in range(1, config.epochs + 1):
            train_loss = train_epoch(model, optimiser, schedule, train, image_tensor, text_tensor, config, rng, bar)
            val = validate(model, validation, image_tensor, text_tensor, config.temperature)
            history.append({"epoch": epoch, "train_loss": train_loss, **{f"val_{k}": v for k, v in val.items()}})
            logger.info("epoch %d: %s", epoch, history[-1])
            if val["recall@10"] > best:
                best, best_state = val["recall@10"], {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model.eval(), history


def plot_history(history: Sequence[dict], path: Path) -> None:
    """Train/validation loss and validation recall@K by epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: the plot is a file
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h["train_loss"] for h in history], label="train")
    left.plot(epochs, [h["val_loss"] for h in history], label="validation")
    left.set(xlabel="epoch", ylabel="InfoNCE loss", title="loss")
    left.legend()
    for k in ("recall@1", "recall@10", "recall@50"):
        right.plot(epochs, [h[f"val_{k}"] for h in history], label=k)
    right.set(xlabel="epoch", ylabel="%", title="validation recall")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def prepare(config: TrainConfig) -> tuple[TripletSet, TripletSet, FeatureTable, FeatureTable]:
    """(train triplets, validation triplets, image features, text features), features from the cache."""
    exclude = read_ids(config.exclude) if config.exclude else []
    triplets = load_training_set(config.dataset, config.catalog, exclude, config.seed)
    train_ids, val_ids = split_items(sorted(triplets.images), config.val_fraction, config.seed)
    train, val = triplets.restricted(train_ids), triplets.restricted(val_ids)
    if not train.triplets or not val.triplets:
        raise ValueError(f"Too few triplets to train: {len(train.triplets)} for training, {len(val.triplets)} for validation")
    encoder = load_encoder(config.encoder)
    cache = Path(config.cache_dir) if config.cache_dir else None
    images = image_features(encoder, triplets.images, triplets.fingerprint, cache, progress=True)
    texts = text_features(encoder, triplets.texts(), cache)
    logger.info("%d training / %d validation triplets", len(train.triplets), len(val.triplets))
    return train, val, images, texts


def run(config: TrainConfig) -> dict:
    """Train and write the composer folder; returns the summary that is also saved."""
    if config.threads:
        torch.set_num_threads(config.threads)
    train, val, images, texts = prepare(config)
    started = time.perf_counter()
    model, history = fit(config, EncodedTriplets.build(train, images, texts), make_validation(val, images, texts, config), images, texts)
    seconds = time.perf_counter() - started
    best = max(history, key=lambda h: h["val_recall@10"])
    summary = {
        "config": asdict(config),
        "train_triplets": len(train.triplets),
        "val_triplets": len(val.triplets),
        "training_seconds": round(seconds, 1),
        "best_epoch": best["epoch"],
        "best_validation": {k: v for k, v in best.items() if k.startswith("val_")},
    }
    out = Path(config.out)
    save_composer(model, config.encoder, out, summary)
    (out / "history.json").write_text(json.dumps(history, indent=2))
    plot_history(history, out / "curves.png")
    return summary


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m training.composer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder, or the dataset folder with --dataset fashion200k|fashioniq")
    parser.add_argument("--encoder", required=True, help="open_clip spec: local-dir:PATH, hf-hub:ORG/NAME or MODEL/TAG")
    parser.add_argument("--out", required=True, help="folder for the trained composer")
    parser.add_argument("--exclude", help="IDS.txt: ids never used (the test gallery)")
    parser.add_argument("--dataset", choices=DATASETS, default="catalog")
    parser.add_argument("--cache-dir", dest="cache_dir", help="feature cache folder (default: features/ beside the index cache)")
    defaults = TrainConfig("", "", "")
    for field in fields(TrainConfig):
        if field.name not in {"catalog", "encoder", "out", "exclude", "dataset", "cache_dir"}:
            default = getattr(defaults, field.name)
            parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=type(default), default=default, help=f"default: {default}")
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = run(config)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("training_seconds", "best_epoch", "best_validation")}))
    print(f"composer written to {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
