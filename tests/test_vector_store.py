"""VectorStore behaviour: exact and approximate search, filters, exclusions, persistence, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retrieval.vector_store as vector_store
from retrieval.vector_store import SearchHit, SearchRequest, VectorStore, VectorStoreError

N, DIM, CLUSTERS = 3000, 32, 30
KINDS = ["flat", "ivf", "hnsw"]


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _clustered(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, DIM) unit vectors around CLUSTERS centres, like embeddings of product photos."""
    centres = rng.standard_normal((CLUSTERS, DIM))
    return _normalise(centres[rng.integers(CLUSTERS, size=n)] + 0.4 * rng.standard_normal((n, DIM)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    vectors = _clustered(N, rng)
    ids = [f"p{i}" for i in range(N)]
    colour = ["Rare" if i % 100 == 7 else ("red", "blue", "green")[i % 3] for i in range(N)]  # Rare: 1%
    gender = ["women" if i % 2 else "men" for i in range(N)]
    queries = _clustered(20, rng)
    return vectors, ids, {"colour": colour, "gender": gender}, queries


@pytest.fixture(scope="module")
def stores(data):
    vectors, ids, attributes, _ = data
    return {kind: VectorStore(vectors, ids, attributes, kind=kind) for kind in KINDS}


def _brute_force(vectors: np.ndarray, query: np.ndarray, k: int, keep: np.ndarray | None = None) -> list[int]:
    scores = vectors @ query
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    return np.argsort(-scores, kind="stable")[:k].tolist()


def _rows(hits: list[SearchHit]) -> list[int]:
    return [int(h.id[1:]) for h in hits]


def test_exact_top_k_equals_brute_force(data, stores):
    vectors, _, _, queries = data
    results = stores["flat"].search(queries, 10)
    assert len(results) == len(queries)
    for query, hits in zip(queries, results):
        assert _rows(hits) == _brute_force(vectors, query, 10)
        np.testing.assert_allclose([h.score for h in hits], np.sort(vectors @ query)[::-1][:10], rtol=1e-5)


def test_single_query_vector_gives_one_list(data, stores):
    _, _, _, queries = data
    assert stores["flat"].search(queries[0], 5) == stores["flat"].search(queries[:1], 5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exact_subset_max", [vector_store.EXACT_SUBSET_MAX, 0], ids=["numpy-subset", "faiss-selector"])
def test_filter_keeping_one_percent_returns_k_passing_items(data, stores, kind, exact_subset_max, monkeypatch):
    monkeypatch.setattr(vector_store, "EXACT_SUBSET_MAX", exact_subset_max)
    vectors, _, attributes, queries = data
    rare = np.array(attributes["colour"]) == "Rare"
    for query, hits in zip(queries, stores[kind].search(queries, 10, filters={"colour": ["rare"]})):
        assert len(hits) == 10
        assert {stores[kind].attributes_of(h.id)["colour"] for h in hits} == {"Rare"}
        assert _rows(hits) == _brute_force(vectors, query, 10, rare)


@pytest.mark.parametrize("kind, effort", [("ivf", "IVF_NPROBE"), ("hnsw", "HNSW_EF_SEARCH")])
def test_approximate_search_short_of_k_falls_back_to_exact(data, stores, kind, effort, monkeypatch):
    monkeypatch.setattr(vector_store, "EXACT_SUBSET_MAX", 0)
    monkeypatch.setattr(vector_store, effort, 0.01)  # one list / a 10-candidate beam: too few Rare items in reach
    vectors, _, attributes, queries = data
    rare = np.array(attributes["colour"]) == "Rare"
    for query, hits in zip(queries, stores[kind].search(queries, 10, filters={"colour": ["Rare"]})):
        assert _rows(hits) == _brute_force(vectors, query, 10, rare)


def _mixed_requests(queries: np.ndarray) -> list[SearchRequest]:
    """Shoppers' searches of one moment: each its own k, exclusions and filters."""
    return [SearchRequest(queries[0], 10),
            SearchRequest(queries[1], 5, filters={"gender": "women"}),
            SearchRequest(queries[2], 12, exclude_ids=["p1", "p2"], filters={"colour": ["red", "blue"]}),
            SearchRequest(queries[3], 10, filters={"colour": "Rare"}),  # few enough for the exact subset path
            SearchRequest(queries[4], 7, exclude_ids={"p3"})]


@pytest.mark.parametrize("kind", KINDS)
def test_searches_asked_together_get_what_each_gets_alone(data, stores, kind):
    _, _, _, queries = data
    requests = _mixed_requests(queries)
    together = stores[kind].search_each(requests)
    alone = [stores[kind].search(r.query, r.k, r.exclude_ids, r.filters)[0] for r in requests]
    assert [_rows(hits) for hits in together] == [_rows(hits) for hits in alone]
    for hits, expected in zip(together, alone):
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], rtol=1e-5)


def test_a_bad_search_among_others_gets_its_own_error(data, stores):
    _, _, _, queries = data
    good = SearchRequest(queries[0], 10, filters={"gender": "men"})
    answers = stores["flat"].search_each([SearchRequest(queries[1], 10, filters={"size": "M"}), good,
                                          SearchRequest(queries[2], 0), SearchRequest(queries[:2], 10)])
    assert [type(a) for a in answers] == [ValueError, list, ValueError, ValueError]
    assert "unknown filter column 'size'" in str(answers[0])
    assert answers[1] == stores["flat"].search(queries[0], 10, filters={"gender": "men"})[0]


@pytest.mark.parametrize("kind", KINDS)
def test_k_larger_than_the_selection_returns_the_whole_selection(data, stores, kind):
    _, _, attributes, queries = data
    rare = attributes["colour"].count("Rare")
    assert [len(hits) for hits in stores[kind].search(queries, 100, filters={"colour": "Rare"})] == [rare] * len(queries)
    assert len(stores[kind].search(queries[0], N + 5)[0]) == N  # an approximate index alone would return fewer


@pytest.mark.parametrize("kind", KINDS)
def test_excluded_ids_never_come_back(data, stores, kind):
    vectors, ids, _, _ = data
    for row in (0, 1, 2):
        hits = stores[kind].search(vectors[row], 10, exclude_ids=[ids[row], "not-in-store"])[0]
        assert len(hits) == 10 and ids[row] not in {h.id for h in hits}
    assert ids[5] not in {h.id for h in stores[kind].search(vectors[5], 10, exclude_ids=ids[5])[0]}


def test_filters_and_across_columns_or_within_one_ignoring_case(data, stores):
    vectors, _, attributes, queries = data
    colour, gender = np.array(attributes["colour"]), np.array(attributes["gender"])
    keep = np.isin(colour, ["red", "Rare"]) & (gender == "women")
    filters = {"colour": ["RED", "rare"], "gender": {"Women"}}
    for query, hits in zip(queries, stores["flat"].search(queries, 20, filters=filters)):
        assert _rows(hits) == _brute_force(vectors, query, 20, keep)


def test_filter_matching_nothing_gives_empty_lists(data, stores):
    _, _, _, queries = data
    assert stores["flat"].search(queries[:2], 10, filters={"colour": ["purple"]}) == [[], []]
    assert stores["flat"].search(queries[:2], 10, filters={"colour": []}) == [[], []]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_at_10_against_exact(data, stores, kind):
    _, _, _, queries = data
    exact = stores["flat"].search(queries, 10)
    approximate = stores[kind].search(queries, 10)
    recall = np.mean([len({h.id for h in a} & {h.id for h in e}) / 10 for a, e in zip(approximate, exact)])
    assert recall >= 0.9


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_honour_filters_and_k(data, stores, kind):
    _, _, _, queries = data
    filters = {"colour": ["green"], "gender": ["men"]}
    for hits in stores[kind].search(queries, 25, exclude_ids=["p0"], filters=filters):
        assert len(hits) == 25
        assert all(stores[kind].attributes_of(h.id) == {"colour": "green", "gender": "men"} for h in hits)


def test_vector_and_attributes_of(data, stores):
    vectors, ids, _, _ = data
    store = stores["flat"]
    np.testing.assert_array_equal(store.vector(ids[7]), vectors[7])
    store.vector(ids[7])[:] = 0  # a copy: the store is unchanged
    np.testing.assert_array_equal(store.vector(ids[7]), vectors[7])
    assert store.attributes_of(ids[7]) == {"colour": "Rare", "gender": "women"}
    assert (len(store), store.dim, store.ids[:2], stores["ivf"].kind) == (N, DIM, ["p0", "p1"], "ivf")
    with pytest.raises(KeyError, match="unknown product id 'nope'"):
        store.vector("nope")


def test_auto_kind_is_exact_for_a_small_catalogue(data):
    vectors, ids, _, _ = data
    assert VectorStore(vectors[:100], ids[:100]).kind == "flat"


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(data, stores, kind, tmp_path):
    _, ids, _, queries = data
    stores[kind].save(tmp_path, {"encoder": "ViT-B-32/laion2b", "items": N})
    loaded, manifest = VectorStore.load(tmp_path)
    assert manifest == {"encoder": "ViT-B-32/laion2b", "items": N}
    assert (loaded.kind, loaded.ids, loaded.dim) == (kind, ids, DIM)
    assert loaded.attributes_of("p7") == stores[kind].attributes_of("p7")
    for args in [dict(), dict(exclude_ids=["p3"], filters={"colour": ["rare"]})]:
        assert loaded.search(queries, 10, **args) == stores[kind].search(queries, 10, **args)


def _corrupt_manifest(folder):
    (folder / "manifest.json").write_text("{not json")


def _truncate_vectors(folder):
    path = folder / "vectors.npy"
    path.write_bytes(path.read_bytes()[:1000])


def _garble_index(folder):
    (folder / "index.faiss").write_bytes(b"garbage")


def _drop_ids(folder):
    (folder / "ids.json").write_text(json.dumps(["p0", "p1"]))


def _other_version(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["vector_store"]["format_version"] = 0
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage", [_corrupt_manifest, _truncate_vectors, _garble_index, _drop_ids, _other_version])
def test_unusable_folder_asks_for_a_rebuild(stores, tmp_path, damage):
    stores["ivf"].save(tmp_path, {})
    damage(tmp_path)
    with pytest.raises(VectorStoreError, match="rebuild"):
        VectorStore.load(tmp_path)


def _swap_two_ids(folder):
    """Same length, same ids, valid JSON: only the checksum tells it from the saved file."""
    ids = json.loads((folder / "ids.json").read_text())
    ids[0], ids[1] = ids[1], ids[0]
    (folder / "ids.json").write_text(json.dumps(ids))


def _zero_some_vectors(folder):
    vectors = np.load(folder / "vectors.npy", mmap_mode="r+")
    vectors[10:15] = 0  # a valid array of the right shape: only the checksum tells
    vectors.flush()


def _forget_a_checksum(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["vector_store"]["checksums"]["attribute_codes.npy"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _delete_the_index(folder):
    (folder / "index.faiss").unlink()


@pytest.mark.parametrize(("damage", "message"), [
    (_swap_two_ids, "ids.json does not match the checksum written with it: the file changed after the index was saved"),
    (_zero_some_vectors, "vectors.npy does not match the checksum written with it"),
    (_forget_a_checksum, "attribute_codes.npy has no checksum in manifest.json"),
    (_delete_the_index, "index.faiss is missing"),
])
def test_a_file_changed_after_saving_is_named_and_refused(stores, tmp_path, damage, message):
    stores["ivf"].save(tmp_path, {})
    assert set(json.loads((tmp_path / "manifest.json").read_text())["vector_store"]["checksums"]) == {
        "vectors.npy", "ids.json", "attributes.json", "attribute_codes.npy", "index.faiss"}
    VectorStore.load(tmp_path)  # intact: accepted
    damage(tmp_path)
    with pytest.raises(VectorStoreError, match="rebuild") as refused:
        VectorStore.load(tmp_path)
    assert message in str(refused.value)


def test_a_store_saved_before_checksums_is_refused(stores, tmp_path):
    stores["flat"].save(tmp_path, {})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["vector_store"]["format_version"] = 1  # what stores without checksums say
    del manifest["vector_store"]["checksums"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VectorStoreError, match="format version 1, this code reads version 2"):
        VectorStore.load(tmp_path)


def test_missing_folder_gives_vector_store_error(tmp_path):
    with pytest.raises(VectorStoreError, match="build the index"):
        VectorStore.load(tmp_path / "absent")


def test_reserved_manifest_key_is_refused(stores, tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        stores["flat"].save(tmp_path, {"vector_store": 1})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda v, ids: VectorStore(v[:, :, None], ids), r"shape \(n, d\)"),
        (lambda v, ids: VectorStore(v.astype(np.int64), ids), "float32"),
        (lambda v, ids: VectorStore(v, ids[:-1]), "one id per vector"),
        (lambda v, ids: VectorStore(v, ids[:-1] + ids[:1]), r"unique; duplicated: \['p0'\]"),
        (lambda v, ids: VectorStore(np.full_like(v, np.nan), ids), "finite"),
        (lambda v, ids: VectorStore(v, ids, {"colour": ["red"]}), "one value per item"),
        (lambda v, ids: VectorStore(v, ids, {"colour": [None] * len(ids)}), "must be strings"),
        (lambda v, ids: VectorStore(v, ids, kind="lsh"), "choose one of auto, flat, ivf, hnsw"),
    ],
)
def test_bad_construction_says_what_was_expected(data, make, message):
    vectors, ids, _, _ = data
    with pytest.raises(ValueError, match=message):
        make(vectors[:50], ids[:50])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, q: s.search(q[:, :-1], 10), rf"\({DIM},\) or \(q, {DIM}\)"),
        (lambda s, q: s.search(np.full_like(q, np.nan), 10), "finite"),
        (lambda s, q: s.search(q, 0), "positive integer"),
        (lambda s, q: s.search(q, -3), "positive integer"),
        (lambda s, q: s.search(q, 2.5), "positive integer"),
        (lambda s, q: s.search(q, 10, filters={"size": ["M"]}), "unknown filter column 'size'"),
    ],
)
def test_bad_search_says_what_was_expected(data, stores, call, message):
    _, _, _, queries = data
    with pytest.raises(ValueError, match=message):
        call(stores["flat"], queries)
