"""Build, cache and open the FAISS index of a catalogue's photos.

An index folder is a `VectorStore` plus a manifest that names what it was built from (the
encoder spec, the embedding size, the catalogue fingerprint, the gallery ids) and the
precision it was computed in. Opening checks the manifest, so an index built with another
encoder or from an older catalogue is refused with a rebuild hint instead of returning
silently wrong results. The precision is recorded but not part of the key: vectors are
float32 on disk either way and bf16 ones are within 0.9999 cosine of fp32, so an index built in
one precision serves an encoder opened in the other. Indexes live in a cache folder, never
next to the catalogue, which may be read-only. The CLI that fills the cache is
`python -m retrieval.build_index`.

A first build encodes the photos part by part into the index folder
(`retrieval.embedding_parts`): a build that is killed resumes from the parts on disk, and
`on_partial` hears a searchable store of what is encoded so far after each part, so a shop
can answer from the first part on instead of waiting minutes for the whole catalogue.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from retrieval import embedding_parts
from retrieval.catalog import Catalog
from retrieval.embedding_parts import EmbeddingParts, remove_parts
from retrieval.encoder import Encoder, spec_key
from retrieval.vector_store import VectorStore, VectorStoreError

logger = logging.getLogger(__name__)

BUILD_LOCK = ".build.lock"  # in the index folder: held while an index is checked or built there

ProgressCallback = Callable[[int, int], None]
PartialCallback = Callable[[VectorStore], None]  # a store of the first rows of the catalogue


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
    return IndexKey(spec_key(encoder_spec), catalog.fingerprint(), digest)


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
    on_partial: PartialCallback | None = None,
    part_rows: int | None = None,
) -> VectorStore:
    """Encode every photo and save the index to `out`; an up-to-date index there is reused as
    is, whatever precision it was built in, and a damaged one is rebuilt with a warning.

    By default the encoder runs in this process, `part_rows` photos at a time (default
    `embedding_parts.PART_ROWS`), each part saved in `out` as it is done, so a killed build
    resumes; after each part `on_partial` gets an exact store of the catalogue's first rows
    (a prefix of `catalog.ids`). `embed` computes the (n, d) vectors in catalogue order
    another way instead (a Ray Data job keeping its own parts in `out`). The parts are
    removed once the index is saved. Builds into the same `out` take turns (a file lock):
    two first runs at once (an evaluation and the app) build it once, not over each other.
    """
    with _building(Path(out)):
        reused = _reusable(out, catalog, encoder.spec.text)
        if reused is not None:
            return reused
        started = time.perf_counter()
        if embed is None:
            vectors = _embed_in_parts(catalog, encoder, out, part_rows or embedding_parts.PART_ROWS,
                                      progress, on_progress, on_partial)
        else:
            vectors = embed()
        store = VectorStore(vectors, catalog.ids, catalog_attributes(catalog), kind=kind)
        key = index_key(catalog, encoder.spec.text)
        store.save(out, {**key.as_manifest(), "dim": encoder.dim, "items": len(catalog), "precision": encoder.mode.name})
        remove_parts(out)
    logger.info("Indexed %d photos in %.1f s (%s) into %s", len(catalog), time.perf_counter() - started, encoder.mode.name, out)
    return store


@contextmanager
def _building(out: Path) -> Iterator[None]:
    """Hold `out`'s build lock, saying so when another process holds it first."""
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out / BUILD_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("Another process is building the index in %s: waiting for it", out)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _reusable(out: Path, catalog: Catalog, encoder_spec: str) -> VectorStore | None:
    """The index saved in `out` when it is whole and built from this catalogue and encoder.

    Anything else there is said as a warning: an operator must learn that a saved index was
    refused (a file changed after it was saved, another encoder) and is being rebuilt.
    """
    if not (out / "manifest.json").is_file():
        return None
    try:
        store, manifest = _open_checked(out, catalog, encoder_spec)
    except (IndexMismatchError, VectorStoreError) as err:
        logger.warning("Rebuilding the index in %s, because the saved one cannot be used: %s", out, err)
        return None
    missing = sorted(set(catalog_attributes(catalog, 1)) - set(store.columns))
    if missing:  # saved before numeric columns were filterable
        logger.warning("Rebuilding the index in %s, because it cannot filter on %s", out, ", ".join(missing))
        return None
    # Indexes from before the precision was recorded were computed in fp32.
    precision = manifest.get("precision", "fp32")
    logger.info("Index in %s is up to date (%d items, built in %s): nothing to do", out, len(store), precision)
    return store


def catalog_attributes(catalog: Catalog, rows: int | None = None) -> dict[str, list[str]]:
    """Each filterable column's values (attributes and numbers such as a price) for the
    catalogue's first `rows` products (all by default)."""
    return {c: catalog.column(c)[:rows] for c in (*catalog.attribute_columns, *catalog.numeric_columns)}


def partial_store(vectors: np.ndarray, catalog: Catalog) -> VectorStore:
    """An exact store of the catalogue's first len(vectors) products: searchable at once (no
    training), and small next to the whole index it stands in for while that is built."""
    rows = len(vectors)
    return VectorStore(vectors, catalog.ids[:rows], catalog_attributes(catalog, rows), kind="flat")


def _embed_in_parts(catalog: Catalog, encoder: Encoder, out: Path, part_rows: int, progress: bool,
                    on_progress: ProgressCallback | None, on_partial: PartialCallback | None) -> np.ndarray:
    """(n, d) vectors of the catalogue's photos, encoded part by part into `out`'s parts folder;
    the parts already there (from a build that died) are read back instead of encoded."""
    parts = EmbeddingParts(out, {"encoder": encoder.spec.text, "precision": encoder.mode.name}, catalog.ids, part_rows)
    n = len(catalog)
    done = {p: parts.read(p) for p in range(parts.count) if parts.is_done(p)}
    resumed = sum(len(v) for v in done.values())
    if resumed:
        logger.info("Resuming the index in %s: %d of %d photos already encoded", out, resumed, n)
        if on_progress:
            on_progress(resumed, n)  # progress > 0 at once: the page shows the work kept
    paths = [catalog.image_path(i) for i in catalog.ids]
    offered = _offer_prefix(done, parts.count, catalog, on_partial, offered=0)
    encoded = resumed
    with tqdm(total=n, initial=resumed, desc=f"encoding images ({encoder.mode.name})", unit="img", disable=not progress) as bar:
        for part in parts.todo():
            rows = parts.rows(part)

            def on_batch(finished: int, _total: int, before: int = encoded) -> None:
                bar.update(before + finished - bar.n)
                if on_progress:
                    on_progress(before + finished, n)

            done[part] = encoder.encode_images(paths[rows.start:rows.stop], on_batch=on_batch)
            parts.write(part, done[part])
            encoded += len(rows)
            offered = _offer_prefix(done, parts.count, catalog, on_partial, offered)
    return np.concatenate([done[p] for p in range(parts.count)])


def _offer_prefix(done: dict[int, np.ndarray], count: int, catalog: Catalog,
                  on_partial: PartialCallback | None, offered: int) -> int:
    """Give `on_partial` a store of the finished parts at the start of the catalogue while
    some parts remain (after the last one the whole index follows at once), whenever that
    prefix has doubled since the `offered` parts of the last store; returns the parts offered.
    A store costs its size to build, so one at every part would cost the square of the
    catalogue; doubling keeps all of them under twice the catalogue."""
    prefix = leading_parts(done)
    if not (on_partial and 0 < prefix < count and prefix >= 2 * offered):
        return offered
    on_partial(partial_store(np.concatenate([done[p] for p in range(prefix)]), catalog))
    return prefix


def leading_parts(finished: Iterable[int]) -> int:
    """How many parts from the first one on are finished without a gap."""
    finished = set(finished)
    count = 0
    while count in finished:
        count += 1
    return count


def cached_index(
    catalog: Catalog,
    encoder: Encoder,
    index_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    kind: str = "auto",
    on_partial: PartialCallback | None = None,
) -> VectorStore:
    """The index of this catalogue and encoder from the cache, built there on first use
    (resumably, with `on_partial` hearing what can be searched so far: see `build_index`)."""
    return build_index(catalog, encoder, index_folder(catalog, encoder, index_dir), kind=kind,
                       progress=progress, on_progress=on_progress, on_partial=on_partial)


def index_folder(catalog: Catalog, encoder: Encoder, index_dir: Path | None = None) -> Path:
    """Where `cached_index` keeps the index of this catalogue and encoder."""
    return (index_dir or default_index_dir()) / index_key(catalog, encoder.spec.text).folder_name()


def heads_folder(catalog: Catalog, encoder: Encoder, index_dir: Path | None = None) -> Path:
    """Where the attribute heads that serve this index are kept: beside it, in its folder
    (`retrieval.heads_learning`), so another encoder or gallery has heads of its own."""
    return index_folder(catalog, encoder, index_dir) / "attribute_heads"
