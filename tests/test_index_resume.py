"""The first start, as faults hit it: a build killed mid-way resumes from its parts, the
shopper searches what is indexed so far while the rest is built, and an index whose files
changed after it was saved is rebuilt with a warning instead of served (issue 11, items 8
and 11). On a generated catalogue and a tiny random encoder, with parts of a few photos."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from retrieval import embedding_parts
from retrieval.catalog import load_catalog
from retrieval.embedding_parts import EmbeddingParts, parts_dir
from retrieval.encoder import Encoder, load_encoder
from retrieval.index import build_index, cached_index, index_folder, leading_parts
from retrieval.vector_store import VectorStore
from shop.loader import Loader, partial_status
from shop.session import Session
from shop.settings import AppSettings
from tests.conftest import REPO

PART = 8  # photos a part: the 32-photo catalogue is built in 4 parts

# A build in its own process that stops for good after its first part: the test kills it there.
KILLED_BUILD = """
import sys, time
from pathlib import Path
from retrieval.catalog import load_catalog
from retrieval.encoder import load_encoder
from retrieval.index import build_index

def stall(store):
    print(f"searchable {len(store)}", flush=True)
    time.sleep(600)

build_index(load_catalog(sys.argv[1]), load_encoder(sys.argv[2]), Path(sys.argv[3]), on_partial=stall, part_rows=int(sys.argv[4]))
"""


# A build in its own process that pauses after its first part, then finishes.
PAUSED_BUILD = KILLED_BUILD.replace("time.sleep(600)", "time.sleep(2)")


@pytest.fixture(scope="module")
def encoder(tiny_encoder_spec) -> Encoder:
    return load_encoder(tiny_encoder_spec)


def all_vectors(store: VectorStore, ids: list[str]) -> np.ndarray:
    return np.stack([store.vector(i) for i in ids])


def counting(monkeypatch) -> list[int]:
    """Photos given to the encoder from now on, one entry a call."""
    calls: list[int] = []
    encode = Encoder.encode_images

    def counted(self, images, *args, **kwargs):
        calls.append(len(images))
        return encode(self, images, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_images", counted)
    return calls


def test_leading_parts_counts_the_finished_parts_before_the_first_gap():
    assert [leading_parts(done) for done in ([], [1, 2], [0, 1, 3], [2, 0, 1])] == [0, 0, 2, 3]


def test_parts_from_another_encoder_or_part_size_are_deleted(tmp_path):
    ids = [str(i) for i in range(10)]
    parts = EmbeddingParts(tmp_path, {"encoder": "a"}, ids, part_rows=4)
    assert (parts.count, [list(parts.rows(p)) for p in range(parts.count)][-1]) == (3, [8, 9])
    parts.write(0, np.ones((4, 2), np.float32))
    assert EmbeddingParts(tmp_path, {"encoder": "a"}, ids, part_rows=4).todo() == [1, 2]
    assert EmbeddingParts(tmp_path, {"encoder": "b"}, ids, part_rows=4).todo() == [0, 1, 2]
    with pytest.raises(ValueError, match="must hold 4 rows"):
        parts.write(1, np.ones((3, 2), np.float32))


def test_a_build_killed_after_its_first_part_resumes_and_equals_a_clean_build(
        encoder, tiny_encoder_spec, tiny_catalog, tmp_path, monkeypatch):
    out = tmp_path / "index"
    build = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(tiny_catalog), tiny_encoder_spec, str(out), str(PART)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = build.stdout.readline()  # blocks until the first part is on disk
    finally:
        build.kill()
        build.wait()
    assert said.strip() == f"searchable {PART}", build.stderr.read()
    assert [p.name for p in sorted(parts_dir(out).glob("part-*.npy"))] == ["part-0000000.npy"]
    assert not (out / "manifest.json").exists()  # no index yet: the next start must build

    catalog = load_catalog(tiny_catalog)
    encoded = counting(monkeypatch)
    progress: list[tuple[int, int]] = []
    resumed = build_index(catalog, encoder, out, part_rows=PART, on_progress=lambda done, total: progress.append((done, total)))
    assert progress[0] == (PART, len(catalog)) and progress[-1] == (len(catalog), len(catalog))
    assert sum(encoded) == len(catalog) - PART  # the killed run's part was read back, not encoded again
    assert not parts_dir(out).exists()  # removed once the index is saved

    clean = build_index(catalog, encoder, tmp_path / "clean")
    np.testing.assert_allclose(all_vectors(resumed, catalog.ids), all_vectors(clean, catalog.ids), atol=1e-5)
    assert resumed.ids == clean.ids


def test_two_builds_of_one_index_at_once_take_turns_and_encode_once(
        encoder, tiny_encoder_spec, tiny_catalog, tmp_path, monkeypatch):
    """An evaluation and the app started together on a new catalogue: the second waits for
    the first and reuses its index (they used to write the same parts and one crashed)."""
    out = tmp_path / "index"
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSED_BUILD, str(tiny_catalog), tiny_encoder_spec, str(out), str(PART)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == f"searchable {PART}", first.stderr.read()  # mid-build now
    encoded = counting(monkeypatch)
    second = build_index(load_catalog(tiny_catalog), encoder, out, part_rows=PART)
    assert first.wait(60) == 0, first.stderr.read()
    assert sum(encoded) == 0  # waited, then reused the first one's index
    assert len(second) == len(load_catalog(tiny_catalog)) and not parts_dir(out).exists()


def test_each_finished_part_is_searchable_before_the_build_ends(encoder, tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    seen: list[VectorStore] = []
    whole = build_index(catalog, encoder, tmp_path, part_rows=PART, on_partial=seen.append)
    # Offered as the prefix doubles (1, 2 of 4 parts), not at every part: each store costs
    # its size, and the whole index follows the last part.
    assert [len(s) for s in seen] == [8, 16]
    assert seen[1].ids == catalog.ids[:16]
    assert seen[1].attributes_of("1015") == whole.attributes_of("1015")
    hits = seen[0].search(whole.vector("1020"), 5)[0]
    assert len(hits) == 5 and {h.id for h in hits} <= set(catalog.ids[:8])


def test_the_loader_serves_the_indexed_part_until_the_whole_index_is_ready(tiny_encoder_spec, tiny_catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_parts, "PART_ROWS", PART)
    second_part, go_on = threading.Event(), threading.Event()
    encode = Encoder.encode_images

    def slow_after_the_first_part(self, images, *args, **kwargs):
        if second_part.is_set():
            go_on.wait(60)  # the build halts here until the test has searched
        second_part.set()
        return encode(self, images, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_images", slow_after_the_first_part)
    loader = Loader(AppSettings(catalog=str(tiny_catalog), encoder=tiny_encoder_spec, llm="rules",
                                index_dir=tmp_path)).start()
    try:
        deadline = time.monotonic() + 60
        while not loader.searchable and not loader.error and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loader.searchable and not loader.ready, loader.error
        assert loader.status() == partial_status(PART, 32) == "Searching 8 of 32 products; indexing continues…"
        view = loader.shop.send(Session(), "red tshirts for women")
        first_part = set(load_catalog(tiny_catalog).ids[:PART])
        assert view.cards and {c.product.id for c in view.cards} <= first_part, view.reply
    finally:
        go_on.set()
    assert loader.wait_until_ready(timeout=60), loader.error
    assert len(loader.shop.assistant.retriever.store) == 32 and loader.searchable
    assert {c.product.id for c in loader.shop.send(Session(), "green shoes for men").cards} - first_part


def test_zeros_written_into_the_vectors_file_are_caught_and_the_index_rebuilt(encoder, tiny_catalog, tmp_path, caplog):
    catalog = load_catalog(tiny_catalog)
    expected = all_vectors(cached_index(catalog, encoder, tmp_path), catalog.ids)
    vectors = np.load(index_folder(catalog, encoder, tmp_path) / "vectors.npy", mmap_mode="r+")
    vectors[3:13] = 0  # as in the bug report: a valid file, ten rows of zeros
    vectors.flush()
    del vectors
    with caplog.at_level(logging.INFO, logger="retrieval"):
        store = cached_index(catalog, encoder, tmp_path)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "Rebuilding the index" in r.getMessage()]
    assert warned and "vectors.npy does not match the checksum written with it" in warned[0].getMessage()
    np.testing.assert_allclose(all_vectors(store, catalog.ids), expected, atol=1e-5)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="retrieval"):
        cached_index(catalog, encoder, tmp_path)
    assert "up to date" in caplog.text and "Rebuilding" not in caplog.text  # the rebuilt files check out


def test_the_loader_says_on_the_page_that_a_damaged_index_was_rebuilt(encoder, tiny_encoder_spec, tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    cached_index(catalog, encoder, tmp_path)
    ids = index_folder(catalog, encoder, tmp_path) / "ids.json"
    ids.write_text(ids.read_text().replace('"1000"', '"1000 "'))
    loader = Loader(AppSettings(catalog=str(tiny_catalog), encoder=tiny_encoder_spec, llm="rules", index_dir=tmp_path)).start()
    assert loader.wait_until_ready(timeout=60), loader.error
    assert any("Rebuilding the index" in note and "ids.json does not match the checksum" in note for note in loader.notes)

