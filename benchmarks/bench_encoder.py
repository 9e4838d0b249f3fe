"""Image-encoding throughput (images/s) of open_clip encoders, as indexing a catalogue sees it.

Photos are decoded and preprocessed inside the timed loop, like `retrieval.index build`.
A bare architecture name (`ViT-B-32`) builds random weights: fine for speed.

    python -m benchmarks.bench_encoder --catalog DIR --encoders local-dir:PATH ViT-B-32 [--images 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import torch

from retrieval.catalog import load_catalog
from retrieval.encoder import load_encoder


def throughput(spec: str, paths: Sequence, batch_size: int) -> dict:
    encoder = load_encoder(spec)
    encoder.encode_images(paths[:batch_size], batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    encoder.encode_images(paths, batch_size=batch_size)
    seconds = time.perf_counter() - started
    return {"encoder": spec, "device": str(encoder.device), "dim": encoder.dim, "images": len(paths),
            "images_per_s": round(len(paths) / seconds, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_encoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoders", nargs="+", required=True)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    catalog = load_catalog(args.catalog)
    paths = [catalog.image_path(i) for i in catalog.ids[: args.images]]
    rows = [throughput(spec, paths, args.batch_size) for spec in args.encoders]
    for row in rows:
        print(json.dumps(row) if args.json else f"{row['encoder']:<50} {row['device']:<5} {row['images_per_s']:>8} images/s")
    print(json.dumps({"torch_threads": torch.get_num_threads()}) if args.json else f"torch threads: {torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
