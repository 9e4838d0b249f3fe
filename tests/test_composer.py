"""The trained composer: loss and positives mask, a tiny training run, save/load, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from offline.features import FeatureTable
from offline.triplets import Triplet, TripletSet, split_items
from retrieval.composer import (
    Combiner,
    CombinerConfig,
    Composer,
    ComposerError,
    load_composer,
    save_composer,
)
from training.composer import EncodedTriplets, TrainConfig, fit, make_validation, multi_positive_info_nce, positives_mask


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared CPU: thread hand-offs cost far more than the arithmetic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = dict(epochs=4, batch_size=32, samples_per_epoch=512, learning_rate=3e-3, projection_dim=32, hidden_dim=64, dropout=0.1, val_fraction=0.25)


def test_positives_mask_counts_every_acceptable_target_in_the_batch():
    a, b, c = 7, 3, 11  # product ids
    accepted = [np.array([a, b]), np.array([b]), np.array([c]), np.array([b, c])]
    drawn = np.array([a, b, c, b])  # row 3 drew the same product as row 1
    expected = [
        [True, True, False, True],
        [False, True, False, True],
        [False, False, True, False],
        [False, True, True, True],
    ]
    assert positives_mask(accepted, drawn).tolist() == expected


def test_info_nce_on_a_hand_computed_example():
    eye = torch.eye(2)
    positives = torch.tensor([[True, False], [True, True]])
    # Row 0: log(e^1 + e^0) - log(e^1); row 1: both targets are positive, so nothing to push away.
    expected = (math.log(math.e + 1) - 1 + 0) / 2
    assert multi_positive_info_nce(eye, eye, positives, scale=1.0).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_treats_a_duplicate_target_as_positive_not_negative():
    queries = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    targets = torch.cat([queries[:1], queries[:1], queries[2:]])  # rows 0 and 1 drew the same product
    with_duplicate = positives_mask([np.array([1]), np.array([1]), np.array([3])], np.array([1, 1, 3]))
    assert with_duplicate[0, 1] and with_duplicate[1, 0]
    assert multi_positive_info_nce(queries, targets, with_duplicate, 10.0) < multi_positive_info_nce(queries, targets, torch.eye(3, dtype=torch.bool), 10.0)


def synthetic_features(dim: int = 16, seed: int = 0) -> tuple[TripletSet, FeatureTable, FeatureTable]:
    """Images made of a colour part and a type part; triplets change the colour or the type."""
    rng = np.random.default_rng(seed)
    colours, types = [f"c{i}" for i in range(4)], [f"t{i}" for i in range(3)]
    parts = {name: rng.normal(size=dim) for name in colours + types}
    items = {f"{c}-{t}-{n}": (c, t) for c in colours for t in types for n in range(4)}
    vectors = np.stack([parts[c] + parts[t] + 0.3 * rng.normal(size=dim) for c, t in items.values()])
    images = FeatureTable(tuple(items), (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32))
    triplets = []
    for pid, (c, t) in items.items():
        triplets += [Triplet(pid, f"make it {c2}", tuple(i for i, v in items.items() if v == (c2, t)), "colour") for c2 in colours if c2 != c]
        triplets += [Triplet(pid, f"as {t2}", tuple(i for i, v in items.items() if v == (c, t2)), "type") for t2 in types if t2 != t]
    names = sorted({t.text for t in triplets})
    texts = FeatureTable(tuple(names), np.stack([torch.nn.functional.normalize(torch.randn(dim), dim=0).numpy() for _ in names]))
    return TripletSet({i: Path(i) for i in items}, tuple(triplets), "synthetic"), images, texts


def tiny_fit(seed: int = 0):
    torch.manual_seed(0)
    triplets, images, texts = synthetic_features()
    config = TrainConfig("", "", "", seed=seed, **TINY)
    train_ids, val_ids = split_items(sorted(triplets.images), config.val_fraction, seed)
    train = EncodedTriplets.build(triplets.restricted(train_ids), images, texts)
    validation = make_validation(triplets.restricted(val_ids), images, texts, config)
    return fit(config, train, validation, images, texts), images, texts


def test_a_tiny_training_run_lowers_the_loss_and_is_deterministic():
    (model, history), _, _ = tiny_fit()
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    (again, _), _, _ = tiny_fit()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name


def test_save_and_load_give_identical_outputs(tmp_path):
    model = Combiner(CombinerConfig(feature_dim=8, projection_dim=16, hidden_dim=32)).eval()
    save_composer(model, "local-dir:some-encoder", tmp_path / "composer", {"note": "test"})
    loaded = load_composer(tmp_path / "composer")
    images, texts = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    expected = Composer(model)(images, texts)
    np.testing.assert_array_equal(loaded(images, texts), expected)
    np.testing.assert_allclose(np.linalg.norm(expected, axis=1), 1.0, rtol=1e-5)
    assert loaded.metadata == {"encoder": "local-dir:some-encoder", "note": "test"}


def test_composer_refuses_vectors_of_another_encoder(tmp_path):
    composer = Composer(Combiner(CombinerConfig(feature_dim=8, projection_dim=4, hidden_dim=4)))
    with pytest.raises(ValueError, match="another encoder"):
        composer(np.zeros((1, 16), np.float32), np.zeros((1, 16), np.float32))


def test_loading_a_missing_or_foreign_folder_says_what_is_wrong(tmp_path):
    with pytest.raises(ComposerError, match="training.composer"):
        load_composer(tmp_path)
    model = Combiner(CombinerConfig(feature_dim=8, projection_dim=4, hidden_dim=4))
    save_composer(model, "spec", tmp_path)
    config = json.loads((tmp_path / "composer.json").read_text())
    (tmp_path / "composer.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ComposerError, match="format 99"):
        load_composer(tmp_path)


def test_train_cli_writes_a_composer_that_evaluate_uses(tiny_catalog, tiny_encoder_spec, tmp_path, capsys):
    from evaluation import retrieval as evaluate
    from evaluation.queries import make_queries
    from retrieval.catalog import load_catalog
    from training import composer as train

    ids = load_catalog(tiny_catalog).ids
    gallery = tmp_path / "gallery.txt"
    gallery.write_text("\n".join(ids[::3]))
    out, cache = tmp_path / "composer", tmp_path / "cache"
    args = ["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--exclude", str(gallery), "--out", str(out),
            "--cache-dir", str(cache), "--epochs", "2", "--samples-per-epoch", "128", "--batch-size", "32",
            "--projection-dim", "16", "--hidden-dim", "32", "--val-fraction", "0.3"]
    assert train.main(args) == 0
    assert {"composer.json", "composer.safetensors", "history.json", "curves.png"} <= {p.name for p in out.iterdir()}
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["images", "texts"]
    assert not [p for p in tiny_catalog.rglob("*") if p.is_file() and p.suffix not in {".jpg", ".csv"}]  # nothing beside the catalogue

    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in make_queries(load_catalog(tiny_catalog, ids[::3]), 6, 0)))
    capsys.readouterr()
    assert evaluate.main(["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--gallery", str(gallery),
                          "--queries", str(queries), "--composer", str(out), "--index-dir", str(tmp_path / "idx"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["method"] == "trained" and result["queries"] == 6 and 0 <= result["recall@10"] <= 100
