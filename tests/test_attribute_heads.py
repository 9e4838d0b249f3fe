"""Attribute heads: what an uploaded photo is read as. Learned once per encoder and catalogue,
kept beside the index and reused, calibrated into probabilities, learned in the background
while the web app already serves; and the product's own colours, read only where the photo
has a light backdrop to tell the product from."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from retrieval.attribute_heads import pool
from retrieval.colour import lab_image, product_mask
from retrieval.heads_learning import HeadsPlan, calibration_figures, fit_weights
from retrieval.retriever import open_retriever
from shop.loader import Loader
from shop.session import Session, Shop
from shop.settings import AppSettings
from tests.conftest import write_catalog, write_tiny_clip

STUDIO_COLOURS = {"Red": (200, 30, 30), "Blue": (30, 40, 190), "Green": (40, 150, 40), "Yellow": (230, 210, 40)}


def studio_catalog(root, per_colour: int = 12):
    """Products photographed as a shop does: a coloured garment with a grey outline, on white."""
    rows = [{"id": str(2000 + n), "gender": ("Men", "Women")[n % 2], "articleType": ("Tshirts", "Shoes")[n // 2 % 2],
             "baseColour": colour, "title": f"{colour} {n}"}
            for n, colour in enumerate(c for c in STUDIO_COLOURS for _ in range(per_colour))]
    write_catalog(root, rows, images=False)
    rng = np.random.default_rng(0)
    for row in rows:
        photo = Image.new("RGB", (60, 80), (250, 250, 250))
        x, y = rng.integers(8, 16, size=2)
        ImageDraw.Draw(photo).rectangle([x, y, 60 - x, 80 - y], fill=STUDIO_COLOURS[row["baseColour"]], outline=(90, 90, 90), width=2)
        photo.save(root / "images" / f"{row['id']}.jpg", quality=95)
    return root


def studio_retriever(root, encoder_spec: str):
    """A retriever over `studio_catalog`, its heads learned on first use: what a photo's
    preparation (framing, backdrop) is learned with."""
    return open_retriever(studio_catalog(root / "studio"), encoder_spec, index_dir=root / "index")


@pytest.fixture
def other_encoder_spec(tmp_path_factory) -> str:
    """A second tiny CLIP with other weights: another encoder, as --encoder of another model gives."""
    return write_tiny_clip(tmp_path_factory.mktemp("other-clip"), seed=1)


def test_heads_are_learned_on_first_use_kept_beside_the_index_and_reused(tiny_catalog, tiny_encoder_spec, tmp_path, monkeypatch):
    first = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    assert first.heads is not None
    folder = first.heads_plan.folder
    assert folder.parent.parent == tmp_path and (folder.parent / "manifest.json").is_file(), "beside the index"
    assert json.loads((folder / "manifest.json").read_text())["key"]["encoder"] == tiny_encoder_spec

    def no_learning(*_args, **_kwargs):
        raise AssertionError("cached heads must be reused, not learned again")

    monkeypatch.setattr(HeadsPlan, "learn", no_learning)
    again = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    assert again.heads is not None and again.heads.key == first.heads.key


def test_another_encoder_gets_heads_of_its_own(tiny_catalog, tiny_encoder_spec, other_encoder_spec, tmp_path):
    one = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    other = open_retriever(tiny_catalog, other_encoder_spec, index_dir=tmp_path)
    assert one.heads_plan.folder != other.heads_plan.folder
    assert (one.heads.key["encoder"], other.heads.key["encoder"]) == (tiny_encoder_spec, other_encoder_spec)
    assert one.heads_plan.cached().key == one.heads.key, "the first encoder's heads are still there"


def test_a_changed_catalogue_learns_its_heads_again(tiny_catalog, tiny_encoder_spec, tmp_path):
    before = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path).heads
    table = tiny_catalog / "products.csv"
    table.write_text(table.read_text().replace("Men Red Tshirts 0", "Men Red Tshirts zero"))
    after = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path).heads
    assert after.key["catalog_fingerprint"] != before.key["catalog_fingerprint"]


def test_an_uploaded_photo_gets_probabilities(tiny_catalog, tiny_encoder_spec, tmp_path):
    retriever = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    product = retriever.catalog.ids[3]
    vector = retriever.encoder.encode_images([retriever.catalog.image_path(product)])[0]
    for column, ranked in retriever.heads.probabilities(vector, {}).items():
        probabilities = [p for _, p in ranked]
        assert all(0 <= p <= 1 for p in probabilities) and probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1, abs=1e-6), column
    upload = retriever.reference_from_image(retriever.catalog.image_path(product), exclude_ids=[product])
    assert set(upload.ranked) == set(retriever.catalog.attribute_columns)
    assert all(c in upload.ranked and upload.ranked[c][0][1] >= 0.35 for c in upload.attributes)


def test_calibration_turns_an_overconfident_head_into_honest_probabilities():
    """A head that says 99% where it is right 70% of the time is cooled until it says about 70%."""
    rng = np.random.default_rng(0)
    n = 4000
    truth = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 4, n))  # class 0 is right 70% of the time
    logits = np.tile([6.0, 0.0, 0.0, 0.0], (n, 1))  # softmax: 0.993 on class 0
    overconfident = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    weights = fit_weights({"heads": overconfident}, truth)
    calibrated = pool({"heads": overconfident}, weights)
    assert weights["heads"] < 1
    assert np.exp(calibrated[0, 0]) == pytest.approx(0.7, abs=0.02)
    before, after = calibration_figures(overconfident, truth), calibration_figures(calibrated, truth)
    assert before["accuracy"] == after["accuracy"] and after["ece"] < 2 < 25 < before["ece"]
    assert after["nll"] < before["nll"]


def test_the_colour_reading_steps_aside_for_photos_without_a_light_backdrop(tiny_catalog, tiny_encoder_spec, tmp_path):
    """Flat swatches have no backdrop to tell the product from: no colour is read, the heads answer."""
    assert product_mask(lab_image(tiny_catalog / "images" / "1000.jpg")) is None
    retriever = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    assert not retriever.heads.reads_colour and "stepped aside" in retriever.heads.report["colour_reading"]
    upload = retriever.reference_from_image(tiny_catalog / "images" / "1000.jpg")
    assert "baseColour" in upload.ranked


def test_the_product_is_told_from_a_light_backdrop_and_a_white_product_stays_whole(tmp_path):
    photo = Image.new("RGB", (60, 80), (255, 255, 255))
    ImageDraw.Draw(photo).rectangle([15, 20, 45, 60], fill=(252, 252, 250), outline=(120, 120, 120), width=2)
    photo.save(tmp_path / "white-shirt.png")
    mask = product_mask(lab_image(tmp_path / "white-shirt.png"))
    assert mask is not None and mask[mask.shape[0] // 2, mask.shape[1] // 2], "the white inside is product"
    assert not mask[1, 1] and not mask[-2, -2], "the backdrop is not"


def test_the_products_own_colours_are_read_on_studio_photos(tmp_path, tiny_encoder_spec):
    catalog = studio_catalog(tmp_path / "studio")
    retriever = open_retriever(catalog, tiny_encoder_spec, index_dir=tmp_path / "index")
    heads = retriever.heads
    assert heads.reads_colour and heads.colour_column == "baseColour"
    from retrieval.colour import read_product

    for product in retriever.catalog.ids[::7]:
        reading = heads.colour_log_proba(read_product(retriever.catalog.image_path(product)))
        assert heads.colour_head.classes[int(np.argmax(reading))] == retriever.catalog.attributes(product)["baseColour"]


def test_the_shop_serves_while_its_heads_are_learned(tiny_catalog, tiny_encoder_spec, tmp_path, monkeypatch):
    learning, go_on = threading.Event(), threading.Event()
    learn = HeadsPlan.learn

    def slow_learning(self, *args, **kwargs):
        learning.set()
        go_on.wait(60)
        return learn(self, *args, **kwargs)

    monkeypatch.setattr(HeadsPlan, "learn", slow_learning)
    loader = Loader(AppSettings(catalog=str(tiny_catalog), encoder=tiny_encoder_spec, llm="rules", index_dir=tmp_path)).start()
    try:
        assert learning.wait(60), loader.error
        deadline = time.monotonic() + 10
        while not loader.searchable and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(loader.shop, Shop) and not loader.ready
        assert loader.status().startswith("Learning to read uploaded photos")
        retriever = loader.shop.assistant.retriever
        assert retriever.heads is None
        upload = retriever.reference_from_image(tiny_catalog / "images" / "1000.jpg")
        assert upload.ranked, "photos are read the zero-shot way meanwhile"
        assert loader.shop.send(Session(), "red tshirts").cards
    finally:
        go_on.set()
    assert loader.wait_until_ready(timeout=60), loader.error
    assert loader.shop.assistant.retriever.heads is not None
