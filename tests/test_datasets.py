"""Fashion200K / FashionIQ loaders on tiny files in their exact formats, and the feature cache."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from offline.datasets import (
    DatasetError,
    join_captions,
    load_benchmark,
    load_fashion200k,
    load_fashioniq,
    load_training_set,
    replace_text,
)
from offline.features import FeatureTable, image_features, text_features

# path<TAB>detection score<TAB>description, as in Fashion200K's labels/<category>_<split>_detect_all.txt
F200K_TRAIN = {
    "women/dresses/casual/1/1_0.jpeg": "black floral mini dress",
    "women/dresses/casual/2/2_0.jpeg": "red floral mini dress",
    "women/dresses/casual/3/3_0.jpeg": "red floral mini dress",
    "women/dresses/casual/4/4_0.jpeg": "black floral maxi dress",
    "women/dresses/casual/5/5_0.jpeg": "white lace blouse",
}
F200K_TEST = {
    "women/skirts/mini/7/7_0.jpeg": "blue denim skirt",
    "women/skirts/mini/8/8_0.jpeg": "black denim skirt",
    "women/skirts/mini/9/9_0.jpeg": "black denim skirt",
    "women/skirts/mini/10/10_0.jpeg": "black leather skirt",
}


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (len(path.name) * 20 % 255, 90, 30)).save(path, format="PNG")


@pytest.fixture
def fashion200k(tmp_path) -> Path:
    root = tmp_path / "fashion200k"
    (root / "labels").mkdir(parents=True)
    for split, category, labels in (("train", "dress", F200K_TRAIN), ("test", "skirt", F200K_TEST)):
        lines = [f"{path}\t0.{i + 5}\t{description}" for i, (path, description) in enumerate(labels.items())]
        (root / "labels" / f"{category}_{split}_detect_all.txt").write_text("\n".join(lines) + "\n")
        for path in labels:
            _touch(root / path)
    (root / "test_queries.txt").write_text("women/skirts/mini/7/7_0.jpeg women/skirts/mini/8/8_0.jpeg\n"
                                           "women/skirts/mini/9/9_0.jpeg women/skirts/mini/10/10_0.jpeg\n")
    return root


def test_fashion200k_training_pairs_differ_in_one_word(fashion200k):
    data = load_fashion200k(fashion200k, "train")
    assert set(data.images) == set(F200K_TRAIN)
    by_text = {(t.reference, t.text): set(t.targets) for t in data.triplets}
    red = {"women/dresses/casual/2/2_0.jpeg", "women/dresses/casual/3/3_0.jpeg"}
    assert by_text[("women/dresses/casual/1/1_0.jpeg", "replace black with red")] == red
    assert by_text[("women/dresses/casual/1/1_0.jpeg", "replace mini with maxi")] == {"women/dresses/casual/4/4_0.jpeg"}
    assert not [t for t in data.triplets if "blouse" in F200K_TRAIN[t.reference]]  # no one-word sibling
    for triplet in data.triplets:
        source, target = F200K_TRAIN[triplet.reference].split(), F200K_TRAIN[triplet.targets[0]].split()
        assert len(source) == len(target) and sum(a != b for a, b in zip(source, target)) == 1
    assert {t.kind for t in data.triplets} == {"dress"}


def test_fashion200k_test_queries_accept_every_image_with_the_target_description(fashion200k):
    (name, data), = load_benchmark("fashion200k", fashion200k, "test").items()
    assert name == "fashion200k" and set(data.images) == set(F200K_TEST)
    first, second = data.triplets
    assert first.text == "replace blue with black"
    assert set(first.targets) == {"women/skirts/mini/8/8_0.jpeg", "women/skirts/mini/9/9_0.jpeg"}
    assert second.text == "replace denim with leather" and second.targets == ("women/skirts/mini/10/10_0.jpeg",)


def test_fashion200k_errors_name_the_file(fashion200k):
    (fashion200k / "women/skirts/mini/10/10_0.jpeg").unlink()
    with pytest.raises(DatasetError, match="missing"):
        load_fashion200k(fashion200k, "test")
    (fashion200k / "labels" / "skirt_test_detect_all.txt").write_text("no tabs here\n")
    with pytest.raises(DatasetError, match="skirt_test_detect_all.txt:1"):
        load_fashion200k(fashion200k, "test")
    with pytest.raises(DatasetError, match="No Fashion200K label files"):
        load_fashion200k(fashion200k, "val")


def test_replace_text_follows_tirg():
    assert replace_text("black biker jacket", "black leather jacket") == "replace biker with leather"


@pytest.fixture
def fashioniq(tmp_path) -> Path:
    root = tmp_path / "fashioniq"
    (root / "captions").mkdir(parents=True)
    (root / "image_splits").mkdir()
    rows = {
        ("dress", "train"): [{"target": "D2", "candidate": "D1", "captions": ["is red.", "has no sleeves"]},
                             {"target": "D3", "candidate": "D2", "captions": ["is longer", "more formal"]}],
        ("dress", "val"): [{"target": "D5", "candidate": "D4", "captions": ["is blue", "is shorter?"]}],
        ("shirt", "train"): [{"target": "S2", "candidate": "S1", "captions": ["has a collar", "is plaid"]}],
        ("shirt", "val"): [{"target": "S4", "candidate": "S3", "captions": ["is white", ""]}],
    }
    splits = {("dress", "train"): ["D1", "D2", "D3"], ("dress", "val"): ["D4", "D5", "D6"],
              ("shirt", "train"): ["S1", "S2"], ("shirt", "val"): ["S3", "S4"]}
    for (category, split), entries in rows.items():
        (root / "captions" / f"cap.{category}.{split}.json").write_text(json.dumps(entries))
        (root / "image_splits" / f"split.{category}.{split}.json").write_text(json.dumps(splits[(category, split)]))
        for name in splits[(category, split)]:
            _touch(root / "images" / f"{name}.png")
    return root


def test_fashioniq_loads_one_set_per_category(fashioniq):
    sets = load_fashioniq(fashioniq, "val", categories=("dress", "shirt"))
    assert list(sets) == ["dress", "shirt"]
    dress = sets["dress"]
    assert set(dress.images) == {"D4", "D5", "D6"}
    (triplet,) = dress.triplets
    assert (triplet.reference, triplet.text, triplet.targets, triplet.kind) == ("D4", "Is blue and is shorter", ("D5",), "dress")
    assert sets["shirt"].triplets[0].text == "Is white"


def test_fashioniq_training_merges_categories_and_honours_exclusions(fashioniq):
    for category in ("toptee",):
        for split in ("train", "val"):
            (fashioniq / "captions" / f"cap.{category}.{split}.json").write_text("[]")
            (fashioniq / "image_splits" / f"split.{category}.{split}.json").write_text("[]")
    data = load_training_set("fashioniq", fashioniq, exclude={"D3"})
    assert {t.reference for t in data.triplets} == {"D1", "S1"}
    assert "D3" not in data.images


def test_fashioniq_without_targets_or_files_is_refused(fashioniq):
    (fashioniq / "captions" / "cap.dress.val.json").write_text(json.dumps([{"candidate": "D4", "captions": ["a", "b"]}]))
    with pytest.raises(DatasetError, match="lacks candidate / target / captions"):
        load_fashioniq(fashioniq, "val", categories=("dress",))
    with pytest.raises(DatasetError, match="No FashionIQ file"):
        load_fashioniq(fashioniq, "test", categories=("dress",))


def test_join_captions_matches_clip4cir():
    assert join_captions(["is red.", "has no sleeves?"]) == "Is red and has no sleeves"


def test_evaluate_runs_a_benchmark_protocol(fashioniq, tiny_encoder_spec, tmp_path, capsys, monkeypatch):
    from evaluation import retrieval as evaluate

    monkeypatch.setenv("SHOP_INDEX_DIR", str(tmp_path / "cache" / "indexes"))
    (fashioniq / "captions" / "cap.toptee.val.json").write_text(json.dumps([{"target": "S4", "candidate": "S3", "captions": ["x", "y"]}]))
    (fashioniq / "image_splits" / "split.toptee.val.json").write_text("[]")  # its gallery is then the photos its captions name
    assert evaluate.main(["--dataset", "fashioniq", "--catalog", str(fashioniq), "--encoder", tiny_encoder_spec, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["queries"] == 3 and result["split"] == "val" and result["method"] == "sum"
    assert set(result["by_set"]) == {"dress", "shirt", "toptee"} and 0 <= result["recall@10"] <= 100
    assert (tmp_path / "cache" / "features").is_dir()


@dataclass(frozen=True)
class _Spec:
    text: str


class CountingEncoder:
    """Stands in for retrieval.encoder.Encoder: counts what it is asked to encode."""

    spec = _Spec("fake-encoder")

    def __init__(self):
        self.images = self.texts = 0

    def encode_images(self, paths, progress=False):
        self.images += len(paths)
        return np.eye(len(paths), 4, dtype=np.float32)

    def encode_texts(self, texts):
        self.texts += len(texts)
        return np.eye(len(texts), 4, dtype=np.float32)[::-1].copy()


def test_features_are_encoded_once_and_again_when_the_source_changes(tmp_path):
    encoder, images = CountingEncoder(), {"b": Path("b.jpg"), "a": Path("a.jpg")}
    first = image_features(encoder, images, "fp1", tmp_path)
    again = image_features(encoder, images, "fp1", tmp_path)
    assert encoder.images == 2 and first.keys == again.keys == ("a", "b")
    np.testing.assert_array_equal(first.take(["b"]), again.take(["b"]))
    image_features(encoder, {**images, "c": Path("c.jpg")}, "fp1", tmp_path)
    assert encoder.images == 3  # only the new photo
    image_features(encoder, images, "fp2", tmp_path)
    assert encoder.images == 5
    text_features(encoder, ["make it red", "as shoes", "make it red"], tmp_path)
    text_features(encoder, ["as shoes", "make it red"], tmp_path)
    assert encoder.texts == 2


def test_feature_table_names_missing_keys():
    table = FeatureTable(("a", "b"), np.eye(2, dtype=np.float32))
    assert table.rows(["b", "a"]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="'c'"):
        table.take(["c"])
