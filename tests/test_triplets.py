"""Triplet mining from catalogue attributes, item splits, and scoring a composition function."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.queries import make_queries
from offline.triplets import DEFAULT_COLUMNS, Triplet, TripletSet, mine_triplets, score_triplets, split_items
from retrieval.catalog import load_catalog


@pytest.fixture
def catalog(tiny_catalog):
    return load_catalog(tiny_catalog)


def _changed_columns(catalog, a: str, b: str) -> list[str]:
    return [c for c in DEFAULT_COLUMNS if catalog.attributes(a)[c] != catalog.attributes(b)[c]]


def test_mining_never_uses_excluded_items(catalog):
    excluded = set(catalog.ids[::3])
    mined = mine_triplets(catalog, excluded, seed=0)
    used = {t.reference for t in mined.triplets} | {i for t in mined.triplets for i in t.targets}
    assert mined.triplets and not used & excluded
    assert set(mined.images) == set(catalog.ids) - excluded


def test_every_target_differs_from_its_reference_in_exactly_one_attribute(catalog):
    mined = mine_triplets(catalog, seed=0)
    for triplet in mined.triplets:
        for target in triplet.targets:
            assert _changed_columns(catalog, triplet.reference, target) == [triplet.kind]


def test_targets_are_every_matching_item_and_texts_name_the_new_value(catalog):
    mined = mine_triplets(catalog, seed=0)
    assert all(len(t.targets) >= 2 for t in mined.triplets)  # the swatch catalogue has 2 items per combination
    for triplet in mined.triplets:
        new_value = catalog.attributes(triplet.targets[0])[triplet.kind].lower()
        assert new_value in triplet.text
    assert {t.kind for t in mined.triplets} == set(DEFAULT_COLUMNS)


def test_mining_is_deterministic_and_phrasings_vary(catalog):
    first, again = mine_triplets(catalog, seed=3), mine_triplets(catalog, seed=3)
    assert first.triplets == again.triplets
    colour_texts = {t.text.replace(catalog.attributes(t.targets[0])["baseColour"].lower(), "{v}") for t in first.triplets if t.kind == "baseColour"}
    assert len(colour_texts) > 1


def test_blank_values_are_never_asked_for(tmp_path):
    from tests.conftest import swatch_rows, write_catalog

    rows = swatch_rows()
    rows[0]["baseColour"] = rows[1]["baseColour"] = ""
    mined = mine_triplets(load_catalog(write_catalog(tmp_path / "blank", rows)), seed=0)
    assert mined.triplets
    assert all(t.text == t.text.strip() and "  " not in t.text for t in mined.triplets)


def test_make_queries_still_balances_one_attribute_changes(catalog):
    queries = make_queries(catalog, n=12, seed=0)
    assert [q["column"] for q in queries[:3]] == list(DEFAULT_COLUMNS)
    for query in queries:
        assert all(_changed_columns(catalog, query["reference"], t) == [query["column"]] for t in query["targets"])


def test_split_items_is_seeded_disjoint_and_complete():
    ids = [str(i) for i in range(100)]
    train, val = split_items(ids, 0.2, seed=1)
    assert len(val) == 20 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_items(ids, 0.2, seed=1) == (train, val)
    assert split_items(ids, 0.2, seed=2) != (train, val)
    with pytest.raises(ValueError):
        split_items(ids, 1.0, seed=0)


def test_restricted_keeps_no_outside_reference_or_target():
    triplets = TripletSet({i: None for i in "abcd"}, (Triplet("a", "t", ("b", "c")), Triplet("c", "t", ("d",))), "fp")
    kept = triplets.restricted({"a", "b"})
    assert kept.triplets == (Triplet("a", "t", ("b",)),)
    assert set(kept.images) == {"a", "b"}


def test_score_triplets_excludes_the_reference_and_counts_any_target():
    ids = ["r", "x", "y", "z"]
    vectors = np.eye(4, dtype=np.float32)
    table = dict(zip(ids, vectors))
    texts = {"to y": vectors[2], "to z": vectors[3]}
    triplets = [Triplet("r", "to y", ("y",), "a"), Triplet("r", "to z", ("x", "z"), "b"), Triplet("x", "to y", ("r",), "b")]

    def image_vectors(keys):
        return np.stack([table[k] for k in keys])

    def text_only(images, text_vectors):  # a "composer" that ignores the image
        return text_vectors

    result = score_triplets(text_only, triplets, image_vectors, lambda keys: np.stack([texts[k] for k in keys]), ids)
    assert result["queries"] == 3
    assert result["recall@1"] == pytest.approx(200 / 3, abs=0.01)  # the third query's target is not its text
    assert result["by_change"]["a"]["recall@1"] == 100.0
    assert result["by_change"]["b"]["recall@1"] == 50.0
