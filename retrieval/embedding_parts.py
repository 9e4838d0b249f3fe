"""Finished parts of an embedding job on disk, so a job that dies resumes where it stopped.

Embedding a catalogue's photos takes minutes on a small CPU (hours for a large catalogue on
a cluster); losing all of it to a crash, a kill or a reboot is what this prevents. The rows
(one per product, in catalogue order) are cut into parts of `part_rows` consecutive rows;
each part is written as soon as all its rows are encoded, under a temporary name renamed
into place, so a part on disk is always whole. A later run with the same encoder, ids and
part size skips the parts on disk; parts from anything else are deleted first, as they would
mix two embeddings. Both the in-process build (`retrieval.index.build_index`) and the Ray
Data job (`retrieval.distributed_embedding`) keep their parts here, in the index folder, and
the parts are removed once the index is saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

PARTS_DIR = "embedding-parts"
PART_ROWS = 1024  # rows per file: at most this much work is redone after a crash
MANIFEST = "manifest.json"


def parts_dir(work_dir: Path) -> Path:
    """Where the parts of an index being built in `work_dir` wait until the index is saved."""
    return Path(work_dir) / PARTS_DIR


def remove_parts(work_dir: Path) -> None:
    """Delete the parts kept in `work_dir`, once the index they make is saved."""
    shutil.rmtree(parts_dir(work_dir), ignore_errors=True)


def parts_key(encoder: Mapping[str, object], ids: Sequence[str], part_rows: int) -> dict[str, object]:
    """What the parts on disk must have been computed from to be reused."""
    return {**encoder, "items": len(ids), "part_rows": part_rows,
            "ids_digest": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]}


class EmbeddingParts:
    """The parts folder of one embedding job: which parts are done, writing and reading them.

    `encoder` names what computes the vectors (spec, precision): parts computed by something
    else, for other ids or with another part size, are deleted when the folder is opened.
    """

    def __init__(self, work_dir: Path, encoder: Mapping[str, object], ids: Sequence[str], part_rows: int = PART_ROWS):
        if part_rows < 1:
            raise ValueError(f"part_rows must be positive, got {part_rows}")
        self.folder = parts_dir(work_dir)
        self.part_rows = part_rows
        self.items = len(ids)
        self.count = math.ceil(self.items / part_rows)  # number of parts
        self._prepare(parts_key(encoder, ids, part_rows))

    def _prepare(self, key: dict[str, object]) -> None:
        """Empty the folder unless its parts come from this key."""
        manifest = self.folder / MANIFEST
        try:
            same = json.loads(manifest.read_text()) == key
        except (OSError, ValueError):
            same = False
        if same:
            return
        if self.folder.exists():
            logger.info("Parts in %s come from another encoder or catalogue: starting over", self.folder)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        manifest.write_text(json.dumps(key, indent=2))

    def rows(self, part: int) -> range:
        """The rows (positions in the catalogue) that part `part` holds."""
        return range(part * self.part_rows, min(self.items, (part + 1) * self.part_rows))

    def path(self, part: int) -> Path:
        return self.folder / f"part-{part:07d}.npy"

    def is_done(self, part: int) -> bool:
        return self.path(part).is_file()

    def todo(self) -> list[int]:
        """The parts still to embed, in order."""
        return [p for p in range(self.count) if not self.is_done(p)]

    def write(self, part: int, vectors: np.ndarray) -> None:
        """Save one whole part: (rows, d) in row order. Written under a temporary name and
        renamed, so a crash never leaves half a part."""
        expected = len(self.rows(part))
        if vectors.ndim != 2 or len(vectors) != expected:
            raise ValueError(f"part {part} must hold {expected} rows, got {vectors.shape}")
        temporary = self.folder / f".part-{part:07d}.tmp.npy"
        np.save(temporary, np.ascontiguousarray(vectors, dtype=np.float32))
        os.replace(temporary, self.path(part))

    def read(self, part: int) -> np.ndarray:
        path = self.path(part)
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise RuntimeError(f"Embedding part {path} is unreadable ({err}): delete {self.folder} and run again") from err
        rows = len(self.rows(part))
        if vectors.ndim != 2 or len(vectors) != rows:
            raise RuntimeError(f"Embedding part {path} holds {vectors.shape}, expected {rows} rows: "
                               f"delete {self.folder} and run again")
        return vectors

    def read_all(self) -> np.ndarray:
        """(n, d): every part, in row order (all must be done)."""
        return np.concatenate([self.read(p) for p in range(self.count)])
