"""Build, cache and open the FAISS index of a catalogue's photos.

An index folder is a `VectorStore` plus a manifest that names what it was built from (the
encoder spec, the embedding size, the catalogue fingerprint, the gallery ids). Opening
checks the manifest, so an index built with another encoder or from an older catalogue is
refused with a rebuild hint instead of returning silently wrong results. Indexes live in a
cache folder, never next to the catalogue, which may be read-only.

    python -m retrieval.index build --catalog DIR --encoder SPEC --out DIR [--gallery IDS.txt]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.catalog import Catalog, CatalogError, load_gallery
from retrieval.encoder import Encoder, EncoderUnavailableError, load_encoder
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
                f"Rebuild it: python -m retrieval.index build --catalog DIR --encoder SPEC [--gallery IDS.txt] --out {folder}"
            )


def open_index(folder: Path, catalog: Catalog, encoder_spec: str) -> VectorStore:
    """Load an index and refuse it unless it was built from this catalogue with this encoder."""
    store, manifest = VectorStore.load(folder)
    _check_manifest(manifest, index_key(catalog, encoder_spec), folder)
    return store


def build_index(
    catalog: Catalog,
    encoder: Encoder,
    out: Path,
    kind: str = "auto",
    progress: bool = False,
    on_progress: ProgressCallback | None = None,
) -> VectorStore:
    """Encode every photo and save the index to `out`; an up-to-date index there is reused as is."""
    key = index_key(catalog, encoder.spec.text)
    if (out / "manifest.json").is_file():
        try:
            store = open_index(out, catalog, encoder.spec.text)
            logger.info("Index in %s is up to date (%d items): nothing to do", out, len(store))
            return store
        except (IndexMismatchError, VectorStoreError) as err:
            logger.info("Rebuilding the index in %s: %s", out, err)
    started = time.perf_counter()
    paths = [catalog.image_path(i) for i in catalog.ids]
    vectors = encoder.encode_images(paths, progress=progress, on_batch=on_progress)
    attributes = {c: catalog.column(c) for c in catalog.attribute_columns}
    store = VectorStore(vectors, catalog.ids, attributes, kind=kind)
    store.save(out, {**key.as_manifest(), "dim": encoder.dim, "items": len(catalog)})
    logger.info("Indexed %d photos in %.1f s into %s", len(catalog), time.perf_counter() - started, out)
    return store


def cached_index(
    catalog: Catalog,
    encoder: Encoder,
    index_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
) -> VectorStore:
    """The index of this catalogue and encoder from the cache, built there on first use."""
    folder = (index_dir or default_index_dir()) / index_key(catalog, encoder.spec.text).folder_name()
    return build_index(catalog, encoder, folder, progress=progress, on_progress=on_progress)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m retrieval.index", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="encode a catalogue's photos into an index folder")
    build.add_argument("--catalog", required=True, help="catalogue folder with products.csv and images/")
    build.add_argument("--encoder", required=True, help="open_clip spec: hf-hub:ORG/NAME, local-dir:PATH or MODEL/TAG")
    build.add_argument("--out", required=True, type=Path, help="index folder to write (reused when up to date)")
    build.add_argument("--gallery", help="IDS.txt: index only these product ids")
    build.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf", "hnsw"], help="exact (flat) or approximate index")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        catalog = load_gallery(args.catalog, args.gallery)
        encoder = load_encoder(args.encoder)
        store = build_index(catalog, encoder, args.out, kind=args.kind, progress=True)
    except (CatalogError, EncoderUnavailableError, IndexMismatchError, VectorStoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"index ready: {len(store)} items, {store.dim}-d, kind={store.kind}, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
