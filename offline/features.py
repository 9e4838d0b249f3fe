"""Frozen encoder features for training, computed once and cached.

Training a composer on frozen features only needs each photo and each modification text
encoded once; encoding ~10k photos takes minutes on a CPU while an epoch over the features
takes seconds, so the vectors are cached. A cache entry is keyed by the encoder spec and the
fingerprint of the source (a catalogue's, which changes with any row or photo), holds the
vectors of every id encoded so far, and lives in a cache folder (next to the index cache by
default), never next to the catalogue, which may be read-only. Text vectors are cached per
encoder, keyed by the text itself. The manifest carries a format version and the key; an
entry that does not match is recomputed, not trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from retrieval.encoder import Encoder
from retrieval.index import default_index_dir

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
KEYS = "keys.json"


@dataclass(frozen=True)
class FeatureTable:
    """Unit vectors (n, d) float32, one per key (an image id or a text)."""

    keys: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.keys):
            raise ValueError(f"Expected ({len(self.keys)}, d) vectors, got shape {self.vectors.shape}")

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {key: row for row, key in enumerate(self.keys)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def rows(self, keys: Sequence[str]) -> np.ndarray:
        """(len(keys),) int64 row numbers; an unknown key raises KeyError naming it."""
        missing = [k for k in keys if k not in self._rows]
        if missing:
            raise KeyError(f"{len(missing)} keys have no features, e.g. {missing[0]!r}")
        return np.fromiter((self._rows[k] for k in keys), np.int64, len(keys))

    def take(self, keys: Sequence[str]) -> np.ndarray:
        """(len(keys), d) the vectors of `keys`, in that order."""
        return self.vectors[self.rows(keys)]


def default_cache_dir() -> Path:
    """`features/` beside the index cache (`$SHOP_INDEX_DIR`'s parent or the user's cache)."""
    return default_index_dir().parent / "features"


def _entry_key(kind: str, encoder_spec: str, fingerprint: str) -> dict[str, object]:
    return {"version": FORMAT_VERSION, "kind": kind, "encoder": encoder_spec, "fingerprint": fingerprint}


def _entry_folder(cache_dir: Path, key: Mapping[str, object]) -> Path:
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{key['kind']}-{name}"


def _load_entry(folder: Path, key: Mapping[str, object]) -> FeatureTable | None:
    """The cached table, or None when absent, unreadable or made from something else."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if {k: manifest.get(k) for k in key} != dict(key):
            logger.info("Feature cache %s was made from something else: recomputing", folder)
            return None
        keys = tuple(json.loads((folder / KEYS).read_text()))
        return FeatureTable(keys, np.load(folder / VECTORS))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        logger.warning("Ignoring the unreadable feature cache %s: %s", folder, err)
        return None


def _save_entry(folder: Path, key: Mapping[str, object], table: FeatureTable) -> None:
    """Written to a temporary folder and renamed, so a reader never sees half an entry."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        np.save(staging / VECTORS, table.vectors)
        (staging / KEYS).write_text(json.dumps(list(table.keys)))
        (staging / MANIFEST).write_text(json.dumps({**key, "count": len(table.keys), "dim": table.dim}, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _cached(
    kind: str,
    encoder: Encoder,
    fingerprint: str,
    keys: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    cache_dir: Path | None,
) -> FeatureTable:
    """The vectors of `keys`, encoding only those the cache entry lacks and adding them to it.

    One entry per (kind, encoder, fingerprint) grows with use, so training with another
    exclusion list or validation split reuses every photo already encoded.
    """
    entry_key = _entry_key(kind, encoder.spec.text, fingerprint)
    folder = _entry_folder(cache_dir or default_cache_dir(), entry_key)
    cached = _load_entry(folder, entry_key) or FeatureTable((), np.zeros((0, 0), np.float32))
    wanted = sorted(set(keys))
    missing = sorted(set(wanted) - set(cached.keys))
    if missing:
        logger.info("Encoding %d %s (%d already cached in %s)", len(missing), kind, len(wanted) - len(missing), folder)
        fresh = encode(missing)
        merged_vectors = np.concatenate([cached.vectors, fresh]) if cached.keys else fresh
        cached = FeatureTable(cached.keys + tuple(missing), merged_vectors)
        _save_entry(folder, entry_key, cached)
    return FeatureTable(tuple(wanted), cached.take(wanted))


def image_features(
    encoder: Encoder,
    images: Mapping[str, Path],
    fingerprint: str,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> FeatureTable:
    """The image vector of every id in `images` (id -> photo path), sorted by id, cached.

    `fingerprint` must change whenever a photo does (a catalogue's `fingerprint()`).
    """

    def encode(ids: list[str]) -> np.ndarray:
        return encoder.encode_images([images[i] for i in ids], progress=progress)

    return _cached("images", encoder, fingerprint, list(images), encode, cache_dir)


def text_features(encoder: Encoder, texts: Sequence[str], cache_dir: Path | None = None) -> FeatureTable:
    """The text vector of every distinct text, sorted, cached per encoder."""
    return _cached("texts", encoder, "", texts, encoder.encode_texts, cache_dir)
