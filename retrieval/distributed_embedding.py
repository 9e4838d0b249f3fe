"""Embed a catalogue's photos as a Ray Data batch job, resumable after a crash.

The photos are a dataset of (row, path); `map_batches` runs the encoder in a fixed pool
of actor workers (one GPU each where the cluster has GPUs), each loading the model once.
The driver collects vectors into parts of `part_rows` consecutive rows and writes each
finished part to `work_dir/embedding-parts/` at once (`retrieval.embedding_parts`, shared
with the in-process build), so a run that dies (driver, worker, node) restarts where it
stopped: parts on disk are skipped. The result is what the in-process build gives,
`load_encoder(spec).encode_images(paths)`, up to float rounding.

Every node reads the photos from the same paths: on one machine that is a given; on a
cluster the catalogue must sit on a shared mount.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retrieval.catalog import Catalog
from retrieval.embedding_parts import PART_ROWS, EmbeddingParts
from retrieval.ray_cluster import import_ray, ray_session

logger = logging.getLogger(__name__)

BATCH_SIZE = 64  # images per encoder call in a worker, as the in-process build


class _EncodeBatch:
    """A Ray Data worker: loads the encoder once, then encodes batches of photo paths."""

    def __init__(self, spec: str, precision: str):
        from retrieval.encoder import load_encoder

        self._encoder = load_encoder(spec, precision=precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        return {"row": batch["row"], "vector": self._encoder.encode_images(paths, batch_size=len(paths))}


def embed_with_ray(
    catalog: Catalog,
    encoder_spec: str,
    ray_address: str | None,
    workers: int | None,
    work_dir: Path,
    precision: str = "auto",
    part_rows: int = PART_ROWS,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(n, d) float32 unit vectors of the catalogue's photos, row i for `catalog.ids[i]`.

    `ray_address`: `local`, HOST:PORT, or None to use this process's Ray connection.
    `workers`: most encoder actors at once (one CPU, and one GPU where the cluster has
    GPUs, each); None means one per GPU, else one per CPU of the cluster. `precision` is
    the encoder's (fp32, bf16, auto), resolved on each worker's hardware.
    Parts already in `work_dir` from an interrupted run with the same encoder and ids are
    reused; parts from anything else are deleted first.
    """
    parts = EmbeddingParts(work_dir, {"encoder": encoder_spec, "precision": precision}, catalog.ids, part_rows)
    todo = parts.todo()
    if len(todo) < parts.count:
        logger.info("%d of %d parts already embedded in %s: skipping them", parts.count - len(todo), parts.count, parts.folder)
    if todo:
        paths = [str(catalog.image_path(i).resolve()) for i in catalog.ids]
        rows = [r for p in todo for r in parts.rows(p)]
        with ray_session(ray_address):
            _embed_rows(parts, {"spec": encoder_spec, "precision": precision}, paths, rows, workers, progress, on_progress)
    return parts.read_all()


def _embed_rows(parts: EmbeddingParts, encoder: dict[str, str], paths: Sequence[str], rows: list[int], workers: int | None,
                progress: bool, on_progress: Callable[[int, int], None] | None) -> None:
    """Run the Ray Data job over `rows` and write each part as soon as all its rows are back."""
    import_ray()  # says how to install it when absent
    import ray
    import ray.data

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    workers = workers or gpus or cpus
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours below counts photos, Ray's counts blocks
    part_rows = parts.part_rows
    dataset = ray.data.from_items([{"row": r, "path": paths[r]} for r in rows],
                                  override_num_blocks=max(workers, math.ceil(len(rows) / part_rows)))
    encoded = dataset.map_batches(
        _EncodeBatch,
        fn_constructor_kwargs=encoder,
        batch_size=BATCH_SIZE,
        batch_format="numpy",
        # Up to `workers`, starting with what the cluster has free: a fixed size beyond its
        # free CPUs/GPUs would wait forever. One CPU each fits any node.
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
        num_gpus=1 if gpus else 0,
        num_cpus=1,
    )
    logger.info("Embedding %d photos on %d %s workers", len(rows), workers, "GPU" if gpus else "CPU")
    expected = {}  # part -> rows it still waits for
    for r in rows:
        expected[r // part_rows] = expected.get(r // part_rows, 0) + 1
    pending: dict[int, dict[int, np.ndarray]] = {}
    done = 0
    with tqdm(total=len(rows), desc="embedding photos (ray)", unit="img", disable=not progress) as bar:
        for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
            for row, vector in zip(batch["row"].tolist(), batch["vector"]):
                part = row // part_rows
                pending.setdefault(part, {})[row] = vector
                if len(pending[part]) == expected[part]:
                    finished = pending.pop(part)
                    parts.write(part, np.stack([finished[r] for r in sorted(finished)]))
            done += len(batch["row"])
            bar.update(len(batch["row"]))
            if on_progress:
                on_progress(done, len(rows))
