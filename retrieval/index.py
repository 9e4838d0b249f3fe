"""Build, cache and open the FAISS index of a catalogue's photos.

An index folder is a `VectorStore` plus a manifest that names what it was built from (the
encoder spec, the embedding size, the catalogue fingerprint, the gallery ids) and the
precision it was computed in. Opening checks the manifest, so an index built with another
encoder or from an older catalogue is refused with a rebuild hint instead of returning
silently wrong results. The precision is recorded but not part of the key: vectors are
float32 on disk either way and bf16 ones are within 0.996 cosine of fp32, so an index built in
one precision serves an encoder opened in the other. Indexes live in a cache folder, never
next to the catalogue, which may be read-only. The CLI that fills the cache is
`python -m retrieval.build_index`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.catalog import Catalog
from retrieval.encoder import Encoder
from retrieval.vector_store import VectorStore, VectorStoreError

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class IndexMismatchError(RuntimeError):
    """The index on disk was built from something else than what is asked for."""


@dataclass(frozen=True)
class IndexKey:
    """What an index is built from; equal keys mean the index on disk can be reused."""

    encoder: str
    catalog_fingerprint: str
    gallery_digest: str

    def as_manifest(self) -> dict[str, str]:
        return {"encoder": self.encoder, "catalog_fingerprint": self.catalog_fingerprint, "gallery_digest": self.gallery_digest}

    def folder_name(self) -> str:
        return hashlib.sha256("|".join(self.as_manifest().values()).encode()).hexdigest()[:16]


def default_index_dir() -> Path:
    """`$SHOP_INDEX_DIR`, else the user's cache folder (XDG), never the catalogue folder."""
    if os.environ.get("SHOP_INDEX_DIR"):
        return Path(os.environ["SHOP_INDEX_DIR"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "shopping-assistant" / "indexes"


def index_key(catalog: Catalog, encoder_spec: str) -> IndexKey:
    digest = hashlib.sha256("\n".join(catalog.ids).encode()).hexdigest()[:16]
    return IndexKey(encoder_spec, catalog.fingerprint(), digest)


def _check_manifest(manifest: dict, key: IndexKey, folder: Path) -> None:
    for field, wanted in key.as_manifest().items():
        if manifest.get(field) != wanted:
            raise IndexMismatchError(
                f"The index in {folder} was built with {field}={manifest.get(field)!r}, not {wanted!r}. "
                "Rebuild it: python -m retrieval.build_index --catalog DIR --encoder SPEC [--gallery IDS.txt] --index-dir DIR"
            )


def open_index(folder: Path, catalog: Catalog, encoder_spec: str) -> VectorStore:
    """Load an index and refuse it unless it was built from this catalogue with this encoder."""
    return _open_checked(folder, catalog, encoder_spec)[0]


def _open_checked(folder: Path, catalog: Catalog, encoder_spec: str) -> tuple[VectorStore, dict]:
    store, manifest = VectorStore.load(folder)
    _check_manifest(manifest, index_key(catalog, encoder_spec), folder)
    return store, manifest


def build_index(
    catalog: Catalog,
    encoder: Encoder,
    out: Path,
    kind: str = "auto",
    progress: bool = False,
    on_progress: ProgressCallback | None = None,
    embed: Callable[[], np.ndarray] | None = None,
) -> VectorStore:
    """Encode every photo and save the index to `out`; an up-to-date index there is reused as
    is, whatever precision it was built in. `embed` computes the (n, d) vectors in catalogue
    order another way (a Ray Data job); by default the encoder runs in this process."""
    key = index_key(catalog, encoder.spec.text)
    if (out / "manifest.json").is_file():
        try:
            store, manifest = _open_checked(out, catalog, encoder.spec.text)
            # Indexes from before the precision was recorded were computed in fp32.
            precision = manifest.get("precision", "fp32")
            logger.info("Index in %s is up to date (%d items, built in %s): nothing to do", out, len(store), precision)
            return store
        except (IndexMismatchError, VectorStoreError) as err:
            logger.info("Rebuilding the index in %s: %s", out, err)
    started = time.perf_counter()
    if embed is None:
        paths = [catalog.image_path(i) for i in catalog.ids]
        vectors = encoder.encode_images(paths, progress=progress, on_batch=on_progress)
    else:
        vectors = embed()
    attributes = {c: catalog.column(c) for c in catalog.attribute_columns}
    store = VectorStore(vectors, catalog.ids, attributes, kind=kind)
    store.save(out, {**key.as_manifest(), "dim": encoder.dim, "items": len(catalog), "precision": encoder.mode.name})
    logger.info("Indexed %d photos in %.1f s (%s) into %s", len(catalog), time.perf_counter() - started, encoder.mode.name, out)
    return store


def cached_index(
    catalog: Catalog,
    encoder: Encoder,
    index_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    kind: str = "auto",
) -> VectorStore:
    """The index of this catalogue and encoder from the cache, built there on first use."""
    return build_index(catalog, encoder, index_folder(catalog, encoder, index_dir), kind=kind,
                       progress=progress, on_progress=on_progress)


def index_folder(catalog: Catalog, encoder: Encoder, index_dir: Path | None = None) -> Path:
    """Where `cached_index` keeps the index of this catalogue and encoder."""
    return (index_dir or default_index_dir()) / index_key(catalog, encoder.spec.text).folder_name()
