"""A trained composer: CLIP4Cir's Combiner on frozen encoder features, save and load.

The Combiner (Baldrati et al., 2022, "Effective conditioned and composed image retrieval
combining CLIP-based features") fuses a reference image vector and a modification text
vector into a query vector: both are projected, concatenated and mixed by an MLP whose
output is added to a learned, input-dependent convex mix of the raw text and image vectors
(the gated residual). The residual starts the model near the zero-shot sum, so little data
is enough to improve on it.

This module is what serving needs (the model, its file format, inference); the loss and
the training loop are in `training.composer`.

A saved composer is a folder with `composer.json` (format version, sizes, the encoder it was
trained on, training metadata) and `composer.safetensors`. `load_composer(folder)` returns
the callable `Retriever.compose` expects: (image vectors (n, d), text vectors (n, d)) float32
numpy -> unit query vectors (n, d).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ARCHITECTURE = "combiner"
CONFIG_FILE = "composer.json"
WEIGHTS_FILE = "composer.safetensors"
INFERENCE_BATCH = 4096


class ComposerError(ValueError):
    """A composer folder cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class CombinerConfig:
    """Sizes of the Combiner. CLIP4Cir uses 4x / 8x the feature size for projection / hidden."""

    feature_dim: int
    projection_dim: int = 1024
    hidden_dim: int = 2048
    dropout: float = 0.5  # CLIP4Cir's value: the model is large next to its few thousand images


class Combiner(nn.Module):
    """Gated residual fusion of an image and a text vector (CLIP4Cir's `combine_features`)."""

    def __init__(self, config: CombinerConfig):
        super().__init__()
        self.config = config
        d, p, h = config.feature_dim, config.projection_dim, config.hidden_dim
        self.text_projection = nn.Linear(d, p)
        self.image_projection = nn.Linear(d, p)
        self.mixer = nn.Linear(2 * p, h)
        self.output = nn.Linear(h, d)
        self.gate = nn.Sequential(nn.Linear(2 * p, h), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, 1), nn.Sigmoid())
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B, d) image and (B, d) text vectors -> (B, d) unit query vectors."""
        projected = torch.cat(
            [self.dropout(F.relu(self.text_projection(text))), self.dropout(F.relu(self.image_projection(image)))], dim=-1
        )  # (B, 2p)
        mixed = self.output(self.dropout(F.relu(self.mixer(projected))))  # (B, d)
        gate = self.gate(projected)  # (B, 1): how much of the residual is text rather than image
        return F.normalize(mixed + gate * text + (1 - gate) * image, dim=-1)


class Composer:
    """A trained Combiner as the numpy callable the retriever uses (eval mode, no gradients)."""

    def __init__(self, model: Combiner, metadata: Mapping[str, Any] | None = None):
        self.model = model.eval()
        self.metadata = dict(metadata or {})

    @property
    def dim(self) -> int:
        return self.model.config.feature_dim

    def __call__(self, image_vectors: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
        """(n, d) float32 image and text vectors -> (n, d) float32 unit query vectors."""
        image_vectors, text_vectors = np.array(image_vectors, np.float32), np.array(text_vectors, np.float32)  # writable copies for torch
        if image_vectors.ndim != 2 or image_vectors.shape != text_vectors.shape or image_vectors.shape[1] != self.dim:
            raise ValueError(
                f"The composer expects image and text vectors of shape (n, {self.dim}), "
                f"got {image_vectors.shape} and {text_vectors.shape}: was it trained with another encoder?"
            )
        with torch.inference_mode():
            parts = [
                self.model(torch.from_numpy(image_vectors[i:i + INFERENCE_BATCH]), torch.from_numpy(text_vectors[i:i + INFERENCE_BATCH]))
                for i in range(0, len(image_vectors), INFERENCE_BATCH)
            ]
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.dim), np.float32)


@dataclass(frozen=True)
class SavedComposer:
    """What `composer.json` holds next to the sizes: the encoder it needs and how it was trained."""

    config: CombinerConfig
    encoder: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def save_composer(model: Combiner, encoder_spec: str, folder: Path, metadata: Mapping[str, Any] | None = None) -> None:
    """Write weights and config to `folder`; `metadata` (JSON-able) records the training run."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": ARCHITECTURE,
        "combiner": asdict(model.config),
        "encoder": encoder_spec,
        "metadata": dict(metadata or {}),
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def read_composer_config(folder: Path) -> SavedComposer:
    """The parsed `composer.json`, refused when absent or of another format version."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ComposerError(f"No trained composer in {folder}: {CONFIG_FILE} is missing (train one with python -m training.composer)")
    try:
        raw = json.loads(path.read_text())
        if raw.get("format_version") != FORMAT_VERSION or raw.get("architecture") != ARCHITECTURE:
            raise ComposerError(
                f"{path} is format {raw.get('format_version')!r} / {raw.get('architecture')!r}; "
                f"this code reads format {FORMAT_VERSION} / {ARCHITECTURE!r}: retrain with python -m training.composer"
            )
        return SavedComposer(CombinerConfig(**raw["combiner"]), raw["encoder"], raw.get("metadata", {}))
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ComposerError(f"{path} is not a valid composer config: {err}") from err


def load_combiner(folder: str | Path) -> tuple[Combiner, SavedComposer]:
    """The Combiner module (eval mode) and its saved config."""
    folder = Path(folder)
    saved = read_composer_config(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ComposerError(f"{folder} has {CONFIG_FILE} but no {WEIGHTS_FILE}")
    model = Combiner(saved.config)
    try:
        model.load_state_dict(load_file(str(weights)))
    except (RuntimeError, OSError) as err:
        raise ComposerError(f"{weights} does not fit the sizes in {CONFIG_FILE}: {err}") from err
    return model.eval(), saved


def load_composer(folder: str | Path) -> Composer:
    """The one entry point for users of a trained composer: folder in, numpy callable out."""
    model, saved = load_combiner(folder)
    logger.info("Loaded a composer trained with encoder %s from %s", saved.encoder, folder)
    return Composer(model, {"encoder": saved.encoder, **saved.metadata})
