"""Text->image hit@10 for "<colour> <article type>" queries, for one or more encoders side by side.

    python -m benchmarks.text_to_image --catalog ../shared/data/fashion-products --gallery eval/test_ids.txt \
        --encoder local-dir:models/compact-fashion-clip --encoder local-dir:../shared/models/tiny-fashion-clip

Every (colour, type) pair present in the gallery is one query; it is a hit when any of its top
10 photos has that colour and type (`training.encoder.colour_kind_hits`, the figure the compact
encoder's training reports on its held-out items). The last line of stdout is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from retrieval.catalog import load_gallery
from retrieval.encoder import load_encoder
from training.encoder import colour_kind_hits


def measure(catalog_dir: str, gallery: str | None, spec: str, k: int) -> dict[str, float]:
    """hit@k and the seconds the gallery took to encode, for one encoder."""
    catalog = load_gallery(catalog_dir, gallery)
    encoder = load_encoder(spec)
    started = time.perf_counter()
    vectors = encoder.encode_images([catalog.image_path(i) for i in catalog.ids], progress=True)
    seconds = time.perf_counter() - started
    hits = colour_kind_hits(vectors, [catalog.attributes(i) for i in catalog.ids], encoder.encode_texts, k)
    return {f"hit@{k}": round(hits, 4), "images": len(catalog), "encode_seconds": round(seconds, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.text_to_image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--gallery", help="IDS.txt: the gallery (default: the whole catalogue)")
    parser.add_argument("--encoder", action="append", required=True, help="open_clip spec; repeat to compare")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    results = {spec: measure(args.catalog, args.gallery, spec, args.k) for spec in args.encoder}
    for spec, figures in results.items():
        print(f"{spec}: {figures}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
