"""Image-encoding speed of open_clip encoders per precision, stage by stage, and the index build end to end.

For each encoder, on the first `--images` photos of the gallery (batches of `--batch-size`):
decode + preprocess alone; the model alone on decoded pixels in fp32 and bf16 autocast, each
with and without channels-last; how far bf16 vectors are from fp32 ones (cosine, top-10
neighbours); the whole `encode_images` pipeline (decoding overlapped with the model) in fp32
and `auto`; and single-query latency (one uploaded photo, one text) per precision. Then
`python -m retrieval.build_index` on the gallery, timed as a whole command (model loading and
the FAISS build included), once with --precision fp32 and once with auto, into fresh folders.
A bare architecture name (`ViT-B-32`) builds random weights: fine for speed, and agreement
between precisions still means something for the same weights. One JSON object a line.

    HF_HUB_OFFLINE=1 python -m benchmarks.bench_encoder --catalog ../shared/data/fashion-products \\
        --encoders local-dir:../shared/models/tiny-fashion-clip ViT-B-32 --gallery eval/test_ids.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from retrieval.catalog import load_gallery
from retrieval.encoder import BF16, FP32, Encoder, choose_precision, has_native_bf16, load_encoder

QUERY_TEXT = "like this but in navy blue, for women"


def _rate(items: int, seconds: float) -> float:
    return round(items / seconds, 1)


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def decode_row(encoder: Encoder, paths: Sequence[Path], batch_size: int) -> dict:
    """Decode + preprocess on one thread: what one decoding worker sustains."""
    seconds, _ = _timed(lambda: [encoder.pixels(batch) for batch in _batches(paths, batch_size)])
    return {"stage": "decode+preprocess", "threads": 1, "images_per_s": _rate(len(paths), seconds)}


def forward_rows(encoder: Encoder, pixels: Sequence[torch.Tensor]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The model alone on decoded batches, per mode; also the vectors, to compare precisions."""
    rows, vectors = [], {}
    for mode in (dataclasses.replace(FP32, channels_last=False), FP32, dataclasses.replace(BF16, channels_last=False), BF16):
        encoder.set_mode(mode)
        encoder.encode_pixels(pixels[0])  # warm-up: oneDNN picks its kernels on the first call
        seconds, out = _timed(lambda: np.concatenate([encoder.encode_pixels(batch) for batch in pixels]))
        vectors[f"{mode.name}{'+cl' if mode.channels_last else ''}"] = out
        rows.append({"stage": "model", "precision": mode.name, "channels_last": mode.channels_last,
                     "images_per_s": _rate(len(out), seconds)})
    return rows, vectors


def agreement_row(full: np.ndarray, half: np.ndarray, k: int = 10) -> dict:
    """bf16 against fp32 vectors of the same photos: cosine, and how many top-k neighbours stay."""
    cosine = np.sum(full * half, axis=1)
    same = []
    for a, b in ((full, full), (half, half)):
        scores = a @ b.T
        np.fill_diagonal(scores, -np.inf)
        same.append(np.argsort(-scores, axis=1)[:, :k])
    overlap = np.mean([len(set(x) & set(y)) / k for x, y in zip(*same)])
    return {"stage": "bf16 vs fp32", "images": len(full), "cosine_min": round(float(cosine.min()), 4),
            "cosine_mean": round(float(cosine.mean()), 4), f"top{k}_same": round(float(overlap), 4)}


def pipeline_rows(encoder: Encoder, paths: Sequence[Path], batch_size: int, native_bf16: bool) -> list[dict]:
    """`encode_images` from JPEG paths, decoding overlapped with the model, as the index build runs it."""
    rows = []
    for precision in ("fp32", "auto"):
        encoder.set_mode(choose_precision(precision, encoder.device.type, native_bf16))
        encoder.encode_images(paths[:batch_size], batch_size=batch_size)  # warm-up
        seconds, _ = _timed(lambda: encoder.encode_images(paths, batch_size=batch_size))
        rows.append({"stage": "pipeline", "precision": precision, "resolved": encoder.mode.name,
                     "images_per_s": _rate(len(paths), seconds)})
    return rows


def query_rows(encoder: Encoder, paths: Sequence[Path], repeats: int) -> list[dict]:
    """Median latency of one uploaded photo and one text, per mode: what a shopper waits for."""
    rows = []
    for mode in (FP32, BF16):
        encoder.set_mode(mode)
        for kind, encode in (("image", lambda i: encoder.encode_images([paths[i % len(paths)]])),
                             ("text", lambda i: encoder.encode_texts([f"{QUERY_TEXT} {i}"]))):
            encode(0)
            seconds = [_timed(lambda i=i, encode=encode: encode(i))[0] for i in range(1, repeats + 1)]
            rows.append({"stage": f"query {kind}", "precision": mode.name,
                         "median_ms": round(1000 * statistics.median(seconds), 2)})
    return rows


def encoder_rows(spec: str, paths: Sequence[Path], batch_size: int, repeats: int) -> list[dict]:
    encoder = load_encoder(spec, precision="fp32")
    native_bf16 = has_native_bf16(encoder.device)
    rows = [decode_row(encoder, paths, batch_size)]
    pixels = [encoder.pixels(batch) for batch in _batches(paths, batch_size)]
    forward, vectors = forward_rows(encoder, pixels)
    rows += forward + [agreement_row(vectors["fp32+cl"], vectors["bf16+cl"])]
    rows += pipeline_rows(encoder, paths, batch_size, native_bf16) + query_rows(encoder, paths, repeats)
    common = {"encoder": spec, "device": str(encoder.device), "native_bf16": native_bf16}
    return [{**common, **row} for row in rows]


def build_rows(args: argparse.Namespace) -> list[dict]:
    """`python -m retrieval.build_index` on the gallery, the whole command timed, per precision."""
    rows = []
    for precision in ("fp32", "auto"):
        with tempfile.TemporaryDirectory(prefix="bench-index-") as index_dir:
            command = [sys.executable, "-m", "retrieval.build_index", "--catalog", args.catalog, "--encoder", args.build_encoder,
                       "--index-dir", index_dir, "--precision", precision]
            command += ["--gallery", args.gallery] if args.gallery else []
            env = {**os.environ, "HF_HUB_OFFLINE": "1"}
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"build_index failed:\n{done.stderr[-2000:]}")
        items = int(done.stdout.split("index ready: ")[1].split()[0])
        rows.append({"stage": "build_index command", "encoder": args.build_encoder, "precision": precision,
                     "items": items, "seconds": round(seconds, 1), "images_per_s": _rate(items, seconds)})
    return rows


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_encoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoders", nargs="+", required=True)
    parser.add_argument("--gallery", help="IDS.txt: the photos to time (default: the whole catalogue)")
    parser.add_argument("--images", type=int, default=512, help="photos per stage row (default: 512)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30, help="single queries per latency row")
    parser.add_argument("--build-encoder", help="encoder of the end-to-end build rows (default: the first of --encoders)")
    parser.add_argument("--skip-build", action="store_true", help="leave out the end-to-end build rows")
    args = parser.parse_args(argv)
    args.build_encoder = args.build_encoder or args.encoders[0]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    catalog = load_gallery(args.catalog, args.gallery)
    paths = [catalog.image_path(i) for i in catalog.ids[: args.images]]
    print(json.dumps({"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cores": os.cpu_count(),
                      "load_average": os.getloadavg()[0]}), flush=True)
    for spec in args.encoders:
        for row in encoder_rows(spec, paths, args.batch_size, args.repeats):
            print(json.dumps(row), flush=True)
    for row in [] if args.skip_build else build_rows(args):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
