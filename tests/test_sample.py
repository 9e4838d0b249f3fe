"""The shipped sample catalogue and compact encoder, and the scripts that make them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from retrieval.catalog import load_catalog
from tests.conftest import COMPACT_ENCODER, REPO, SAMPLE_CATALOG, swatch_rows, write_catalog
from training.sample import SampleConfig, draw_sample, gender_budgets, run

COLUMNS = ["id", "gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "usage", "productDisplayName"]


def test_the_shipped_sample_holds_no_test_item_and_every_photo():
    table = pd.read_csv(SAMPLE_CATALOG / "products.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert not set(table["id"]) & set((REPO / "eval" / "test_ids.txt").read_text().split())
    catalog = load_catalog(SAMPLE_CATALOG)
    assert len(catalog) == len(table) and not catalog.skipped
    assert set(table["gender"]) == {"Men", "Women", "Unisex", "Boys", "Girls"}
    with Image.open(catalog.image_path(catalog.ids[0])) as photo:
        assert photo.width <= 150 and photo.height <= 200


def test_the_compact_encoder_fits_in_the_repository():
    weights = COMPACT_ENCODER / "open_clip_model.safetensors"
    assert weights.stat().st_size <= 15 * 2**20
    assert json.loads((COMPACT_ENCODER / "open_clip_config.json").read_text())["model_cfg"]["embed_dim"] == 256


def test_genders_share_the_sample_by_the_square_root_of_their_size():
    assert gender_budgets(pd.Series({"Men": 400, "Women": 100, "Boys": 4}), 32) == {"Men": 20, "Women": 10, "Boys": 2}


def test_a_drawn_sample_is_seeded_leaves_out_excluded_ids_and_keeps_groups_whole():
    table = pd.DataFrame(swatch_rows(n_per_combination=6))
    excluded = set(table["id"][::5])
    kept = table[~table["id"].isin(excluded)]
    first = draw_sample(kept, size=24, seed=0)
    assert first.equals(draw_sample(kept, size=24, seed=0))
    assert not set(first["id"]) & excluded and 0 < len(first) <= 24
    sizes = first.groupby(["gender", "articleType", "baseColour"]).size()
    assert sizes.min() >= 3, "a group enters with several products, so filtered searches find more than one"


def test_an_included_group_gets_a_few_products_on_top_and_an_unknown_one_is_refused():
    table = pd.DataFrame(swatch_rows(n_per_combination=8))
    plain = draw_sample(table, size=12, seed=0)
    more = draw_sample(table, size=12, seed=0, include=["Women/Shoes/Green"])
    assert set(plain["id"]) <= set(more["id"])
    added = more[more["id"].isin(set(more["id"]) - set(plain["id"]))]
    assert set(zip(added["gender"], added["articleType"], added["baseColour"])) == {("Women", "Shoes", "Green")}
    assert len(more[(more["gender"] == "Women") & (more["articleType"] == "Shoes") & (more["baseColour"] == "Green")]) == 6
    with pytest.raises(ValueError, match="Girls/Shoes/Green"):
        draw_sample(table, size=12, seed=0, include=["Girls/Shoes/Green"])


def test_the_script_writes_a_catalogue_of_thumbnails(tmp_path):
    source = write_catalog(tmp_path / "full", swatch_rows(n_per_combination=4))
    (tmp_path / "test.txt").write_text("1000\n1001\n")
    run(SampleConfig(catalog=str(source), out=str(tmp_path / "sample"), exclude=str(tmp_path / "test.txt"), size=20,
                     width=12, height=16))
    sample = load_catalog(tmp_path / "sample")
    assert 0 < len(sample) <= 20 and not {"1000", "1001"} & set(sample.ids)
    with Image.open(sample.image_path(sample.ids[0])) as photo:
        assert photo.size == (12, 16)


@pytest.mark.parametrize("texts", [["a", "a", "a"], ["a", "b", "c"]])
def test_the_contrastive_loss_counts_equal_texts_as_positives(texts):
    import torch

    from training.encoder import contrastive_loss

    torch.manual_seed(0)
    images, words = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1), torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    rows = torch.tensor([ord(t) for t in texts])
    loss = contrastive_loss(images, words, rows, temperature=0.1)
    if len(set(texts)) == 1:  # every pair is a positive: nothing to tell apart
        assert float(loss) == pytest.approx(0.0, abs=1e-6)
    else:
        assert float(loss) > 0


def test_a_compact_encoder_trains_and_loads_through_the_projects_loader(tiny_catalog, tiny_encoder_spec, tmp_path):
    from retrieval.encoder import load_encoder
    from training.encoder import main

    out = tmp_path / "student"
    (tmp_path / "test.txt").write_text("1000\n")
    code = main(["--catalog", str(tiny_catalog), "--encoder-out", str(out), "--teacher", tiny_encoder_spec,
                 "--exclude", str(tmp_path / "test.txt"), "--cache-dir", str(tmp_path / "cache"), "--epochs", "1",
                 "--batch-size", "8", "--image-size", "32", "--holdout", "0.25", "--text-layers", "1"])
    assert code == 0
    summary = json.loads((out / "training.json").read_text())
    assert summary["train_items"] + summary["held_out_items"] == 31 and len(summary["history"]) == 1
    encoder = load_encoder(f"local-dir:{out}", precision="fp32")
    vectors = encoder.encode_images([tiny_catalog / "images" / "1001.jpg"])
    assert vectors.shape == (1, 32) and encoder.encode_texts(["Red Tshirts for Men"]).shape == (1, 32)
