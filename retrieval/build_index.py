"""Build a catalogue's photo index into the index cache, ahead of the app and the evaluations.

    python -m retrieval.build_index --catalog DIR --encoder SPEC [--gallery IDS.txt] --index-dir DIR
        [--precision fp32|bf16|auto] [--kind auto|flat|ivf|hnsw] [--ray-address local|ADDR] [--workers N]

It writes the very folder that `retrieval.index.cached_index` opens (the same cache key), so
whatever later opens this catalogue and encoder with the same --index-dir finds the index
ready instead of building it on first use. An up-to-date index is left as it is, whatever
precision it was built in. Encoding runs in this process, or with --ray-address as a Ray
Data job over a cluster (retrieval.distributed_embedding): `local` starts one on this machine
for the build and stops it afterwards. Either way the vectors are saved part by part in the
index folder until the index is saved, so a build that dies resumes when run again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from retrieval.catalog import Catalog, CatalogError, load_gallery
from retrieval.distributed_embedding import embed_with_ray
from retrieval.encoder import PRECISIONS, Encoder, EncoderUnavailableError, load_encoder
from retrieval.index import IndexMismatchError, build_index, cached_index, index_folder
from retrieval.ray_cluster import RayUnavailableError
from retrieval.vector_store import KINDS, VectorStore, VectorStoreError

logger = logging.getLogger(__name__)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m retrieval.build_index", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder with products.csv and images/")
    parser.add_argument("--encoder", required=True, help="open_clip spec: hf-hub:ORG/NAME, local-dir:PATH or MODEL/TAG")
    parser.add_argument("--gallery", help="IDS.txt: index only these product ids")
    parser.add_argument("--index-dir", required=True, type=Path,
                        help="index cache folder, the one given to the app and the evaluations")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="image encoding precision; auto takes bf16 where the hardware has it natively (default: auto)")
    parser.add_argument("--kind", default="auto", choices=KINDS, help="exact (flat) or approximate index (default: auto)")
    parser.add_argument("--ray-address", help="encode the photos as a Ray Data job, resumable: 'local' starts a cluster on "
                        "this machine and stops it at the end, HOST:PORT joins a running one (default: in this process)")
    parser.add_argument("--workers", type=int, help="with --ray-address: encoder workers (default: one per GPU, else one per CPU)")
    args = parser.parse_args(argv)
    if args.workers is not None and not args.ray_address:
        parser.error("--workers needs --ray-address")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def build(args: argparse.Namespace) -> tuple[VectorStore, Path]:
    """The index the arguments ask for, built (or found up to date) in the cache, and its folder."""
    catalog = load_gallery(args.catalog, args.gallery)
    encoder = load_encoder(args.encoder, precision=args.precision)
    folder = index_folder(catalog, encoder, args.index_dir)
    if args.ray_address:
        return _build_on_ray(args, catalog, encoder, folder), folder
    return cached_index(catalog, encoder, args.index_dir, progress=True, kind=args.kind), folder


def _build_on_ray(args: argparse.Namespace, catalog: Catalog, encoder: Encoder, folder: Path) -> VectorStore:
    """As `cached_index` (the same folder and manifest, so the app and the evaluations open this
    index as theirs), with the photos encoded by a Ray Data job whose finished parts wait in the
    index folder until `build_index` has saved the index, so a rerun after a crash resumes."""
    return build_index(catalog, encoder, folder, kind=args.kind, embed=lambda: embed_with_ray(
        catalog, args.encoder, args.ray_address, args.workers, folder, precision=args.precision))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        store, folder = build(args)
    except (CatalogError, EncoderUnavailableError, IndexMismatchError, VectorStoreError, RayUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"index ready: {len(store)} items, {store.dim}-d, kind={store.kind}, in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
