"""Shared fixtures, all from the repository itself, so a clone without ../shared tests in full:
a tiny random open_clip model and generated swatch catalogues (code paths), the shipped sample
catalogue and compact encoder (behaviour on real photos and a trained encoder), and the full
catalogue's vocabulary as JSON (readers). ../shared serves the full-catalogue benchmarks."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_CATALOG = SHARED / "data" / "fashion-products"
SHARED_ENCODER = SHARED / "models" / "tiny-fashion-clip"
# The repository's own: sample/catalog/README.md and models/compact-fashion-clip/README.md.
SAMPLE_CATALOG = REPO / "sample" / "catalog"
COMPACT_ENCODER = REPO / "models" / "compact-fashion-clip"
# The full catalogue's attribute vocabulary (tests/data/README.md says how it is made).
CATALOGUE_VOCABULARY = REPO / "tests" / "data" / "catalogue_vocabulary.json"

# A tiny CLIP: same open_clip code path as a real model, 2 MB of random weights.
TINY_CLIP_CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {"size": 32, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}

COLOURS = {"Red": (200, 30, 30), "Blue": (30, 30, 200), "Green": (30, 160, 30), "Black": (10, 10, 10)}
KINDS = ("Tshirts", "Shoes")
GENDERS = ("Men", "Women")


def write_tiny_clip(folder: Path, seed: int) -> str:
    """A tiny random open_clip CLIP saved as a local-dir encoder in `folder`; its spec. Another
    seed gives another encoder (other weights), as --encoder of another model does."""
    import torch
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    (folder / "open_clip_config.json").write_text(json.dumps(TINY_CLIP_CONFIG))
    torch.manual_seed(seed)
    model = CLIP(**TINY_CLIP_CONFIG["model_cfg"])
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return f"local-dir:{folder}"


@pytest.fixture(scope="session")
def tiny_encoder_spec(tmp_path_factory) -> str:
    return write_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), seed=0)


def write_catalog(root: Path, rows: list[dict], images: bool = True) -> Path:
    """A catalogue folder in the docs/design.md layout; each photo is a flat colour swatch."""
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    with open(root / "products.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if images:
        for row in rows:
            Image.new("RGB", (24, 32), COLOURS.get(row.get("baseColour"), (128, 128, 128))).save(root / "images" / f"{row['id']}.jpg")
    return root


def swatch_rows(n_per_combination: int = 2, genders: tuple[str, ...] = GENDERS) -> list[dict]:
    rows = []
    for colour in COLOURS:
        for kind in KINDS:
            for gender in genders:
                for i in range(n_per_combination):
                    pid = str(1000 + len(rows))
                    rows.append({"id": pid, "gender": gender, "articleType": kind, "baseColour": colour, "title": f"{gender} {colour} {kind} {i}"})
    return rows


@pytest.fixture(scope="session")
def sample_catalog() -> Path:
    """The shipped sample catalogue (read-only: indexes go to a temp folder, never beside it)."""
    return SAMPLE_CATALOG


@pytest.fixture(scope="session")
def compact_encoder_spec() -> str:
    """The shipped compact encoder, trained on non-test items (its card has its figures)."""
    return f"local-dir:{COMPACT_ENCODER}"


@pytest.fixture(scope="session")
def shared_vocabulary() -> dict[str, dict[str, int]]:
    """The real catalogue's attribute vocabulary (column -> value -> count, most common first),
    as `Catalog.vocabulary()` gives it: readers are tested against every value a shopper may
    name, including the rare ones a sample lacks."""
    return json.loads(CATALOGUE_VOCABULARY.read_text())


@pytest.fixture
def tiny_catalog(tmp_path) -> Path:
    return write_catalog(tmp_path / "catalog", swatch_rows())
