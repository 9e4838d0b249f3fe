"""Train the compact encoder the repository ships beside its sample catalogue.

    python -m training.encoder --catalog ../shared/data/fashion-products --exclude eval/test_ids.txt \
        --encoder-out models/compact-fashion-clip [--teacher local-dir:../shared/models/tiny-fashion-clip] \
        [--epochs N] [--seed S]

A clone of the repository has no `../shared`, so no encoder to serve or test with; this one is
small enough to commit. It is an open_clip `CLIP` (a ResNet image tower, like the teacher's,
and a narrow text tower: the 49,408-token embedding table is most of its size), saved in
open_clip's local-dir layout (`open_clip_config.json` + `open_clip_model.safetensors`, fp16).

It learns the teacher's embedding space, not merely an embedding space: each photo's and each
text's vector is pulled to the teacher's (cosine), so the temperatures and weights tuned on
the teacher's similarities (attribute inference, composition) carry over. A CLIP contrastive
term on (photo, a text written from its attributes, e.g. "Red Tshirts for Men") keeps the two
towers aligned with each other where the student cannot copy the teacher exactly; texts that
name the same values are positives of one another, not negatives. Text-only batches (bare
attribute values, change requests such as "make it red") teach the text tower the words the
app encodes besides descriptions. Items in `--exclude` (the test split) are never seen, and a
seeded fraction of the rest is held out to report progress.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from offline.features import image_features, text_features
from retrieval.catalog import Catalog, CatalogError, load_catalog, read_ids
from retrieval.encoder import EncoderUnavailableError, load_encoder
from retrieval.photo import load_rgb

logger = logging.getLogger(__name__)

EXPECTED_ERRORS = (CatalogError, EncoderUnavailableError, ValueError, OSError)
MAX_SIZE_MB = 15  # what the repository may carry

# Texts written from a product's attributes (the retriever describes products as
# "<colour> <type> for <gender>", retrieval.compose.describe), plus its title.
TEMPLATES = ("{baseColour} {articleType} for {gender}", "{baseColour} {articleType}", "{articleType} for {gender}",
             "{usage} {articleType}", "{title}")
# Change requests the app encodes as they are typed ({v}: a value, lower case).
REQUESTS = ("make it {v}", "in {v}", "like this but {v}", "same but {v}", "something {v}", "not {v}")


@dataclass(frozen=True)
class EncoderTrainConfig:
    catalog: str
    encoder_out: str
    teacher: str = "local-dir:../shared/models/tiny-fashion-clip"
    exclude: str | None = None
    cache_dir: str | None = None
    epochs: int = 24
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    contrastive_weight: float = 0.5
    temperature: float = 0.05
    holdout: float = 0.05
    seed: int = 0
    threads: int = 2
    # The student: 96 px ResNet tower (1 block a stage) and a 4-layer, 64-wide text tower.
    image_size: int = 96
    vision_width: int = 16
    vision_layers: int = 1
    text_width: int = 64
    text_layers: int = 4
    text_heads: int = 4


def student_config(config: EncoderTrainConfig, teacher_config: Mapping) -> dict:
    """open_clip_config.json for the student: the teacher's embedding size, tokenizer and
    preprocessing (its mean, std and white padding), at the student's own image size."""
    teacher_model, teacher_text = teacher_config["model_cfg"], teacher_config["model_cfg"]["text_cfg"]
    preprocess = {**teacher_config.get("preprocess_cfg", {}), "size": config.image_size}
    return {
        "model_cfg": {
            "embed_dim": teacher_model["embed_dim"],
            "vision_cfg": {"image_size": config.image_size, "layers": [config.vision_layers] * 4, "width": config.vision_width},
            "text_cfg": {"context_length": teacher_text["context_length"], "vocab_size": teacher_text["vocab_size"],
                         "width": config.text_width, "heads": config.text_heads, "layers": config.text_layers},
        },
        "preprocess_cfg": preprocess,
    }


def describe_item(attributes: Mapping[str, str], title: str) -> list[str]:
    """The texts written from one product (templates whose values it has)."""
    values = {**attributes, "title": title}
    texts = []
    for template in TEMPLATES:
        names = [part.split("}")[0] for part in template.split("{")[1:]]
        if all(values.get(name) for name in names):
            texts.append(template.format(**values))
    return texts


def request_texts(vocabulary: Mapping[str, Mapping[str, int]], columns: Sequence[str] = ("baseColour", "articleType", "gender")) -> list[str]:
    """Bare attribute values (the zero-shot prototypes) and change requests naming them."""
    values = sorted({v for column in vocabulary.values() for v in column})
    requests = [r.format(v=v.lower()) for c in columns for v in vocabulary.get(c, {}) for r in REQUESTS]
    return values + sorted(set(requests))


def split_holdout(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held out): a seeded random `fraction` of the items is kept out of training."""
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    n = max(1, round(len(shuffled) * fraction))
    return sorted(shuffled[n:]), sorted(shuffled[:n])


def colour_kind_hits(image_vectors: np.ndarray, attributes: Sequence[Mapping[str, str]], encode_texts, k: int = 10) -> float:
    """Text->image hit@k for "<colour> <article type>" queries: the share of the gallery's
    (colour, type) pairs whose query finds at least one such product in its top k."""
    pairs = sorted({(a["baseColour"], a["articleType"]) for a in attributes if a.get("baseColour") and a.get("articleType")})
    if not pairs:
        return float("nan")
    queries = encode_texts([f"{colour} {kind}" for colour, kind in pairs])  # (q, d)
    top = np.argsort(-(queries @ image_vectors.T), axis=1)[:, :k]  # (q, k)
    found = [any((attributes[i].get("baseColour"), attributes[i].get("articleType")) == pair for i in row)
             for pair, row in zip(pairs, top)]
    return float(np.mean(found))


@dataclass
class TrainingData:
    """Everything training reads, in tensors: pixels at the student's size, the teacher's
    vectors, and each item's texts as indices into one text table."""

    pixels: torch.Tensor  # (n, 3, s, s) float16, the student's preprocessing
    image_targets: torch.Tensor  # (n, d) the teacher's image vectors
    item_texts: list[list[int]]  # per item, rows of `texts`
    texts: list[str]
    text_targets: torch.Tensor  # (t, d) the teacher's text vectors
    extra_texts: list[int]  # rows of `texts` trained text-only


def prepare(config: EncoderTrainConfig, catalog: Catalog, ids: Sequence[str], extra: Sequence[str], preprocess) -> TrainingData:
    """Decode every photo once at the student's size and encode what the teacher says."""
    teacher = load_encoder(config.teacher, precision="fp32")
    cache = Path(config.cache_dir) if config.cache_dir else None
    images = image_features(teacher, {i: catalog.image_path(i) for i in ids}, catalog.fingerprint(), cache, progress=True)
    titled = catalog.title_column is not None  # else title() is the id: no text to learn
    item_texts_str = [describe_item(catalog.attributes(i), catalog.title(i) if titled else "") for i in ids]
    texts = sorted({t for item in item_texts_str for t in item} | set(extra))
    row = {t: n for n, t in enumerate(texts)}
    vectors = text_features(teacher, texts, cache)
    pixels = torch.stack([preprocess(load_rgb(catalog.image_path(i))).half()
                          for i in tqdm(ids, desc="decoding photos", unit="photo")])
    return TrainingData(pixels, torch.from_numpy(images.take(list(ids))), [[row[t] for t in item] for item in item_texts_str],
                        texts, torch.from_numpy(vectors.take(texts)), [row[t] for t in extra])


def contrastive_loss(images: torch.Tensor, texts: torch.Tensor, text_rows: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE where every pair with the same text is a positive (many products are
    "Black Tshirts for Men": treating them as negatives would push apart what should match)."""
    logits = images @ texts.T / temperature  # (B, B)
    positives = text_rows[:, None] == text_rows[None, :]  # (B, B) bool, diagonal included
    log_p_image = logits.log_softmax(dim=1)
    log_p_text = logits.log_softmax(dim=0)
    per_image = -torch.logsumexp(log_p_image.masked_fill(~positives, -torch.inf), dim=1)
    per_text = -torch.logsumexp(log_p_text.masked_fill(~positives, -torch.inf), dim=0)
    return (per_image.mean() + per_text.mean()) / 2


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine to the teacher's unit vectors, averaged."""
    return (1 - (F.normalize(student, dim=-1) * teacher).sum(dim=-1)).mean()


def learning_rate(step: int, total: int, config: EncoderTrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train_step(model, tokenizer, data: TrainingData, batch: np.ndarray, rng: np.random.Generator, config: EncoderTrainConfig) -> dict[str, torch.Tensor]:
    """The losses of one batch of products (and as many text-only texts)."""
    pixels = data.pixels[batch].float()  # (B, 3, s, s)
    flip = torch.from_numpy(rng.random(len(batch)) < 0.5)
    pixels[flip] = pixels[flip].flip(-1)  # a mirrored product is the same product
    text_rows = torch.tensor([rng.choice(data.item_texts[i]) for i in batch])
    extra_rows = torch.from_numpy(rng.choice(data.extra_texts, size=len(batch)))
    rows = torch.cat([text_rows, extra_rows])
    image = model.encode_image(pixels)  # (B, d)
    text = model.encode_text(tokenizer([data.texts[r] for r in rows]))  # (2B, d)
    losses = {
        "image": distillation_loss(image, data.image_targets[batch]),
        "text": distillation_loss(text, data.text_targets[rows]),
        "contrastive": contrastive_loss(F.normalize(image, dim=-1), F.normalize(text[:len(batch)], dim=-1), text_rows, config.temperature),
    }
    losses["total"] = losses["image"] + losses["text"] + config.contrastive_weight * losses["contrastive"]
    return losses


@torch.inference_mode()
def validate(model, tokenizer, pixels: torch.Tensor, attributes: Sequence[Mapping[str, str]], teacher_vectors: torch.Tensor) -> dict[str, float]:
    """Held-out figures: colour + type hit@10, and the image vectors' cosine to the teacher's."""
    model.eval()
    vectors = torch.cat([F.normalize(model.encode_image(chunk.float()), dim=-1) for chunk in pixels.split(256)])

    def encode_texts(texts: Sequence[str]) -> np.ndarray:
        return F.normalize(model.encode_text(tokenizer(list(texts))), dim=-1).numpy()

    hits = colour_kind_hits(vectors.numpy(), attributes, encode_texts)
    model.train()
    return {"colour_kind_hit@10": round(hits, 4), "image_cosine": round(float((vectors * teacher_vectors).sum(1).mean()), 4)}


def build_student(folder: Path):
    """The student model (random weights), its tokenizer and its preprocessing, from the
    open_clip_config.json written in `folder`."""
    import open_clip
    from open_clip.model import CLIP
    from open_clip.transform import PreprocessCfg, image_transform_v2

    model_config = json.loads((folder / "open_clip_config.json").read_text())
    model = CLIP(**model_config["model_cfg"])
    preprocess = image_transform_v2(PreprocessCfg(**model_config["preprocess_cfg"]), is_train=False)
    return model, open_clip.get_tokenizer(f"local-dir:{folder}"), preprocess


def save_weights(model, folder: Path) -> int:
    """open_clip_model.safetensors in fp16 (open_clip casts them back on load); its size in bytes."""
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() if v.is_floating_point() else v.contiguous() for k, v in model.state_dict().items()}
    path = folder / "open_clip_model.safetensors"
    save_file(state, path)
    return path.stat().st_size


def fit(config: EncoderTrainConfig, model, tokenizer, data: TrainingData, validation) -> list[dict]:
    """AdamW over shuffled epochs; returns one record per epoch (losses, held-out figures)."""
    rng = np.random.default_rng(config.seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token_embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "token_embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=config.lr)
    steps_per_epoch = len(data.pixels) // config.batch_size
    total, step, history = steps_per_epoch * config.epochs, 0, []
    model.train()
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(data.pixels))
        sums: dict[str, float] = {}
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", unit="batch")
        for b in bar:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total, config)
            losses = train_step(model, tokenizer, data, order[b * config.batch_size:(b + 1) * config.batch_size], rng, config)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            step += 1
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + value.item()
            bar.set_postfix(loss=f"{sums['total'] / (b + 1):.3f}")
        record = {"epoch": epoch, **{k: round(v / steps_per_epoch, 4) for k, v in sums.items()}, **validation()}
        logger.info("%s", record)
        history.append(record)
    return history


def run(config: EncoderTrainConfig) -> dict:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    catalog = load_catalog(config.catalog)
    excluded = set(read_ids(config.exclude)) if config.exclude else set()
    train_ids, held_ids = split_holdout([i for i in catalog.ids if i not in excluded], config.holdout, config.seed)
    out = Path(config.encoder_out)
    out.mkdir(parents=True, exist_ok=True)
    teacher_config = json.loads((Path(config.teacher.removeprefix("local-dir:")) / "open_clip_config.json").read_text()) \
        if config.teacher.startswith("local-dir:") else None
    if teacher_config is None:
        raise ValueError(f"--teacher must be a local-dir: spec (its open_clip_config.json sets the student's), got {config.teacher}")
    (out / "open_clip_config.json").write_text(json.dumps(student_config(config, teacher_config), indent=2) + "\n")
    model, tokenizer, preprocess = build_student(out)
    data = prepare(config, catalog, train_ids + held_ids, request_texts(catalog.vocabulary()), preprocess)
    n = len(train_ids)
    train = TrainingData(data.pixels[:n], data.image_targets[:n], data.item_texts[:n], data.texts, data.text_targets, data.extra_texts)
    held_attributes = [catalog.attributes(i) for i in held_ids]
    started = time.perf_counter()
    history = fit(config, model, tokenizer, train,
                  lambda: validate(model, tokenizer, data.pixels[n:], held_attributes, data.image_targets[n:]))
    size = save_weights(model.eval(), out)
    summary = {"config": asdict(config), "train_items": len(train_ids), "held_out_items": len(held_ids),
               "training_seconds": round(time.perf_counter() - started, 1), "size_bytes": size,
               "parameters": sum(p.numel() for p in model.parameters()), "final": history[-1]}
    (out / "training.json").write_text(json.dumps({**summary, "history": history}, indent=2) + "\n")
    if size > MAX_SIZE_MB * 2**20:
        logger.warning("The weights take %.1f MB, over the %d MB the repository may carry", size / 2**20, MAX_SIZE_MB)
    return summary


def parse_args(argv: Sequence[str] | None = None) -> EncoderTrainConfig:
    parser = argparse.ArgumentParser(prog="python -m training.encoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (the layout of docs/design.md)")
    parser.add_argument("--encoder-out", dest="encoder_out", required=True, help="folder for the student (open_clip local-dir layout)")
    parser.add_argument("--exclude", help="IDS.txt: ids never used (the test split)")
    parser.add_argument("--cache-dir", dest="cache_dir", help="the teacher's feature cache (default: features/ beside the index cache)")
    defaults = EncoderTrainConfig("", "")
    for field in fields(EncoderTrainConfig):
        if field.name not in {"catalog", "encoder_out", "exclude", "cache_dir"}:
            default = getattr(defaults, field.name)
            parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=type(default), default=default,
                                help=f"default: {default}")
    return EncoderTrainConfig(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = run(config)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("training_seconds", "size_bytes", "parameters", "final")}))
    print(f"encoder written to {config.encoder_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
