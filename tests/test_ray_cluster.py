"""The Ray backend on a real cluster: two raylets on the loopback interface of this machine.

One cluster for the module (starting it is most of the time), joined by address from a
second process too: the sharded store must give the single store's ids and scores, with and
without filters, and a retriever on top of it the same results; a killed or silent shard
must give a partial answer that says so; distributed embedding must give the in-process
vectors and pick up where an interrupted run stopped.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray backend needs ray[data] (pip install -r requirements-dev.txt)")

from retrieval import ray_cluster, sharded_store  # noqa: E402 - after the skip: these need ray at run time
from retrieval.sharded_store import ShardedStore, ShardUnavailableError, serve_store, shard_of, shard_store  # noqa: E402
from retrieval.vector_store import VectorStore  # noqa: E402
from tests.conftest import REPO  # noqa: E402

N, DIM, SHARDS = 3000, 32, 3
FILTERS = [None, {"colour": "red"}, {"colour": ["blue", "Rare"], "gender": "women"}]


@pytest.fixture(scope="module")
def cluster():
    started = ray_cluster.start_or_join(ray_cluster.LOCAL)
    yield
    if started:
        ray_cluster.stop()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((30, DIM))
    vectors = centres[rng.integers(30, size=N)] + 0.4 * rng.standard_normal((N, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"p{i}" for i in range(N)]
    attributes = {
        "colour": ["Rare" if i % 100 == 7 else ("red", "blue", "green")[i % 3] for i in range(N)],
        "gender": ["women" if i % 2 else "men" for i in range(N)],
    }
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    return VectorStore(vectors, ids, attributes, kind="flat"), queries


@pytest.fixture(scope="module")
def sharded(cluster, data):
    chunk = sharded_store.CHUNK_BYTES
    sharded_store.CHUNK_BYTES = 100 * DIM * 4  # ten chunks a shard, several in flight: order must not matter
    try:
        store = shard_store(data[0], SHARDS)
    finally:
        sharded_store.CHUNK_BYTES = chunk
    yield store
    store.close()


def _assert_same(expected, got):
    assert [[h.id for h in hits] for hits in got] == [[h.id for h in hits] for hits in expected]
    np.testing.assert_allclose([h.score for hits in got for h in hits], [h.score for hits in expected for h in hits], rtol=1e-6)


def test_cluster_has_two_loopback_nodes_and_shards_use_both(sharded):
    import ray

    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"] * 2
    assert len({info["node"] for info in sharded.shard_info}) == 2
    assert sum(info["items"] for info in sharded.shard_info) == N


def test_an_address_joins_the_running_cluster_and_leaves_it_running(cluster):
    import ray

    script = ("from retrieval.ray_cluster import ray_session\n"
              f"with ray_session({ray.get_runtime_context().gcs_address!r}):\n"
              "    import ray; print(sum(n['Alive'] for n in ray.nodes()))\n")
    joined = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90, cwd=REPO)
    assert joined.returncode == 0, joined.stderr[-2000:]
    assert joined.stdout.split()[-1] == "2"
    assert sum(n["Alive"] for n in ray.nodes()) == 2  # leaving did not stop it


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "one-column", "two-columns"])
def test_sharded_search_equals_the_single_store(data, sharded, filters):
    single, queries = data
    exclude = ["p1", "p2", "p17"]
    expected = single.search(queries, 10, exclude_ids=exclude, filters=filters)
    got = sharded.search(queries, 10, exclude_ids=exclude, filters=filters)
    _assert_same(expected, got)
    assert not got.coverage.partial and got[0].coverage.message == ""


def test_tight_filter_returns_every_selected_item(data, sharded):
    single, queries = data
    filters = {"colour": "rare"}  # 30 items, case-insensitive like VectorStore
    got = sharded.search(queries[:3], 50, filters=filters)
    assert [len(hits) for hits in got] == [30] * 3
    _assert_same(single.search(queries[:3], 50, filters=filters), got)
    assert sharded.search(queries[:3], 50, filters={**filters, "gender": "men"}) == [[], [], []]  # every Rare item is women's


def test_items_are_looked_up_on_their_shard(data, sharded):
    single, _ = data
    assert (len(sharded), sharded.dim, sharded.ids[:2]) == (N, DIM, ["p0", "p1"])
    np.testing.assert_array_equal(sharded.vector("p42"), single.vector("p42"))
    assert sharded.attributes_of("p7") == single.attributes_of("p7") == {"colour": "Rare", "gender": "women"}
    with pytest.raises(KeyError, match="unknown product id"):
        sharded.vector("nope")
    with pytest.raises(ValueError, match="unknown filter column"):
        sharded.search(single.vector("p0"), 5, filters={"size": "M"})


def test_backend_choice_serves_the_store_itself_or_one_shard_per_node(data, cluster):
    single, queries = data
    assert serve_store(single, "faiss") is single
    with pytest.raises(ValueError, match="--backend ray"):
        serve_store(single, "faiss", shards=2)
    store = serve_store(single, "ray")
    try:
        assert isinstance(store, ShardedStore) and store.shards == 2 and len({i["node"] for i in store.shard_info}) == 2
        _assert_same(single.search(queries[:2], 5), store.search(queries[:2], 5))
    finally:
        store.close()


def test_the_retriever_cannot_tell_a_sharded_store_from_the_local_one(cluster, tiny_catalog, tiny_encoder_spec, tmp_path):
    from retrieval.retriever import Retriever, default_description_columns, open_retriever

    local = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    store = serve_store(local.store, "ray", shards=2)
    try:
        remote = Retriever(local.catalog, local.encoder, store, default_description_columns(local.catalog))
        photo = local.catalog.image_path(local.catalog.ids[3])
        uploaded = [r.reference_from_image(photo) for r in (local, remote)]
        assert uploaded[0].attributes == uploaded[1].attributes
        picked = [r.reference_from_catalog(local.catalog.ids[5]) for r in (local, remote)]
        queries = [r.compose(ref, "make it red") for r, ref in zip((local, remote), picked)]
        hits = [r.search(q, 5, exclude_ids=[local.catalog.ids[5]], filters={"gender": "Women"}) for r, q in zip((local, remote), queries)]
        # The swatch photos repeat (one per colour), so scores tie: compare scores, not the order of tied ids.
        np.testing.assert_allclose([h.score for h in hits[1]], [h.score for h in hits[0]], rtol=1e-6)
        assert len(hits[1]) == 5 and hits[1].coverage.message == ""
    finally:
        store.close()


def test_killed_shard_gives_a_partial_answer_from_the_others(data, cluster, caplog):
    import ray

    single, queries = data
    store = shard_store(single, SHARDS)
    try:
        ray.kill(store._actors[1])
        lost = [i for i in single.ids if shard_of(i, SHARDS) == 1]
        with caplog.at_level(logging.WARNING, logger="retrieval.sharded_store"):
            got = store.search(queries, 10, filters={"colour": "red"})
        assert got.coverage.message == got[0].coverage.message == "searched 2 of 3 shards"
        assert "searched 2 of 3 shards" in caplog.text
        _assert_same(single.search(queries, 10, exclude_ids=lost, filters={"colour": "red"}), got)
        with pytest.raises(ShardUnavailableError):
            store.vector(lost[0])
    finally:
        store.close()


def test_shards_that_do_not_answer_in_time_are_reported_not_waited_for(data, sharded):
    single, queries = data
    patient = sharded.timeout_s
    sharded.timeout_s = 0.0
    try:
        got = sharded.search(queries[:2], 10)
    finally:
        sharded.timeout_s = patient
    assert got.coverage.searched < SHARDS and got.coverage.message.endswith(f"of {SHARDS} shards")
    assert all(len(hits) <= 10 for hits in got)


def test_distributed_embedding_matches_the_in_process_encoder_and_resumes(cluster, tiny_catalog, tiny_encoder_spec, tmp_path):
    from retrieval.catalog import load_catalog
    from retrieval.distributed_embedding import embed_with_ray
    from retrieval.embedding_parts import parts_dir
    from retrieval.encoder import load_encoder

    catalog = load_catalog(tiny_catalog)
    expected = load_encoder(tiny_encoder_spec).encode_images([catalog.image_path(i) for i in catalog.ids])
    vectors = embed_with_ray(catalog, tiny_encoder_spec, None, workers=2, work_dir=tmp_path, part_rows=8, progress=False)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)

    parts = sorted(parts_dir(tmp_path).glob("part-*.npy"))
    assert len(parts) == len(catalog) // 8
    parts[1].unlink()  # as if the run had died before writing it
    kept = {p: p.stat().st_mtime_ns for p in parts if p != parts[1]}
    again = embed_with_ray(catalog, tiny_encoder_spec, None, workers=1, work_dir=tmp_path, part_rows=8, progress=False)
    np.testing.assert_allclose(again, expected, atol=1e-5)
    assert parts[1].is_file() and {p: p.stat().st_mtime_ns for p in kept} == kept


def test_build_index_on_ray_writes_the_index_the_app_opens(cluster, tiny_catalog, tiny_encoder_spec, tmp_path):
    import ray

    from retrieval.build_index import main
    from retrieval.catalog import load_catalog
    from retrieval.embedding_parts import parts_dir
    from retrieval.encoder import load_encoder
    from retrieval.index import cached_index, index_folder, open_index

    address = ray.get_runtime_context().gcs_address  # joined, so the build leaves the cluster running
    flags = ["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--index-dir", str(tmp_path / "ray")]
    assert main([*flags, "--ray-address", address, "--workers", "2"]) == 0
    catalog, encoder = load_catalog(tiny_catalog), load_encoder(tiny_encoder_spec)
    folder = index_folder(catalog, encoder, tmp_path / "ray")
    built = open_index(folder, catalog, tiny_encoder_spec)
    assert not parts_dir(folder).exists()  # removed once the index is saved
    local = cached_index(catalog, encoder, tmp_path / "local")
    np.testing.assert_allclose(np.stack([built.vector(i) for i in catalog.ids]),
                               np.stack([local.vector(i) for i in catalog.ids]), atol=1e-5)
