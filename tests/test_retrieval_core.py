"""Encoder, index and composition on a tiny random open_clip model (no downloads)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.build_index import main as build_index_main
from retrieval.catalog import load_catalog
from retrieval.compose import FusionWeights, describe, fuse, normalise
from retrieval.encoder import EncoderUnavailableError, load_encoder, parse_spec
from retrieval.index import IndexMismatchError, build_index, cached_index, index_key, open_index


@pytest.fixture(scope="module")
def encoder(tiny_encoder_spec):
    return load_encoder(tiny_encoder_spec)


@pytest.mark.parametrize(
    ("spec", "name", "tag"),
    [
        ("hf-hub:Marqo/marqo-fashionSigLIP", "hf-hub:Marqo/marqo-fashionSigLIP", None),
        ("ViT-B-32/laion2b_s34b_b79k", "ViT-B-32", "laion2b_s34b_b79k"),
        ("ViT-B-32", "ViT-B-32", None),
    ],
)
def test_spec_strings_follow_open_clip(spec, name, tag):
    parsed = parse_spec(spec)
    assert (parsed.model_name, parsed.pretrained) == (name, tag)


def test_encoder_returns_unit_float32_rows(encoder, tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    paths = [catalog.image_path(i) for i in catalog.ids[:5]]
    images = encoder.encode_images(paths + [Image.new("RGBA", (40, 20))], batch_size=4)
    texts = encoder.encode_texts(["red shirt", "blue shoes"])
    assert images.shape == (6, 32) and texts.shape == (2, 32)
    assert images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_images(paths[:1]), images[:1], atol=1e-5)


@pytest.mark.parametrize("spec", ["hf-hub:nobody/no-such-model", "local-dir:/no/such/folder", "NoSuchModel/tag"])
def test_unavailable_models_say_how_to_supply_them(spec):
    with pytest.raises(EncoderUnavailableError, match="local-dir|open_clip_config"):
        load_encoder(spec)


def test_index_round_trip_and_no_work_when_unchanged(encoder, tiny_catalog, tmp_path, caplog):
    catalog = load_catalog(tiny_catalog)
    store = build_index(catalog, encoder, tmp_path / "idx")
    query = encoder.encode_images([catalog.image_path("1000")])
    before = store.search(query, 5)
    with caplog.at_level("INFO"):
        again = build_index(catalog, encoder, tmp_path / "idx")
    assert "up to date" in caplog.text
    assert again.search(query, 5) == before
    assert before[0][0].score == pytest.approx(1.0, abs=1e-4)  # identical swatches tie with 1000


def test_index_refuses_other_encoder_or_changed_catalogue(encoder, tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    build_index(catalog, encoder, tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="Rebuild it"):
        open_index(tmp_path / "idx", catalog, "local-dir:/another/model")
    Image.new("RGB", (30, 30), (9, 9, 9)).save(tiny_catalog / "images" / "1000.jpg")
    with pytest.raises(IndexMismatchError, match="catalog_fingerprint"):
        open_index(tmp_path / "idx", load_catalog(tiny_catalog), encoder.spec.text)


def test_cached_index_lives_in_the_cache_not_the_catalogue(encoder, tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    cached_index(catalog, encoder, tmp_path / "cache")
    assert (tmp_path / "cache" / index_key(catalog, encoder.spec.text).folder_name() / "manifest.json").is_file()
    assert sorted(p.name for p in tiny_catalog.iterdir()) == ["images", "products.csv"]


def test_filtered_search_returns_k_and_excludes_the_reference(encoder, tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    store = build_index(catalog, encoder, tmp_path / "idx")
    query = store.vector("1000")
    hits = store.search(query, 3, exclude_ids=["1000"], filters={"baseColour": ["Blue"], "gender": ["Women"]})[0]
    assert len(hits) == 3 and "1000" not in [h.id for h in hits]
    assert all(catalog.attributes(h.id)["baseColour"] == "Blue" and catalog.attributes(h.id)["gender"] == "Women" for h in hits)


def test_build_index_cli_fills_the_cache_that_cached_index_opens(encoder, tiny_encoder_spec, tiny_catalog, tmp_path, capsys, caplog):
    args = ["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--index-dir", str(tmp_path / "cache")]
    assert build_index_main(args) == 0
    assert build_index_main(args) == 0
    assert "32 items" in capsys.readouterr().out
    catalog = load_catalog(tiny_catalog)
    folder = tmp_path / "cache" / index_key(catalog, tiny_encoder_spec).folder_name()
    assert json.loads((folder / "manifest.json").read_text())["encoder"] == tiny_encoder_spec
    with caplog.at_level("INFO"):
        cached_index(catalog, encoder, tmp_path / "cache")
    assert "up to date" in caplog.text and "encoding" not in caplog.text


def test_an_encoder_folder_spelt_relative_shares_the_index_of_its_absolute_path(
        encoder, tiny_encoder_spec, tiny_catalog, tmp_path, monkeypatch, caplog):
    """The app started by a script (absolute path) and the CLIs run by hand (`../shared/...`)
    would otherwise each encode the catalogue, and learn its attribute heads, on their own."""
    folder = Path(tiny_encoder_spec.removeprefix("local-dir:"))
    monkeypatch.chdir(folder.parent)
    relative = f"local-dir:{folder.name}"
    assert build_index_main(["--catalog", str(tiny_catalog), "--encoder", relative, "--index-dir", str(tmp_path / "c")]) == 0
    with caplog.at_level("INFO"):
        cached_index(load_catalog(tiny_catalog), encoder, tmp_path / "c")
    assert "up to date" in caplog.text and "encoding" not in caplog.text


def test_build_index_cli_reports_a_bad_catalogue_without_traceback(tiny_encoder_spec, tmp_path, capsys):
    args = ["--catalog", str(tmp_path / "none"), "--encoder", tiny_encoder_spec, "--index-dir", str(tmp_path / "i")]
    assert build_index_main(args) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fuse_is_the_normalised_weighted_sum():
    image, text = np.array([1.0, 0, 0], np.float32), np.array([0, 2.0, 0], np.float32)
    np.testing.assert_allclose(fuse(FusionWeights(0.5, 0.5), image, text), [2**-0.5, 2**-0.5, 0], atol=1e-6)
    np.testing.assert_allclose(fuse(FusionWeights(0.5, 0.5), image=image), [1, 0, 0])


def test_fuse_subtracts_negatives_and_ignores_absent_parts():
    image = np.array([1.0, 1.0, 0], np.float32)
    negative = np.array([[0, 1.0, 0]], np.float32)
    query = fuse(FusionWeights(image=1, text=0.5, negative=1.0), image=image, negatives=negative)
    # (1,1,0)/sqrt2 - (0,1,0) = (0.707, -0.293, 0), normalised
    np.testing.assert_allclose(query, normalise(np.array([2**-0.5, 2**-0.5 - 1, 0])), atol=1e-6)
    with pytest.raises(ValueError, match="Nothing to search for"):
        fuse(FusionWeights())


def test_describe_reads_like_a_catalogue_phrase():
    attributes = {"baseColour": "Navy Blue", "articleType": "Tshirts", "gender": "Men", "season": "Fall"}
    assert describe(attributes, ["baseColour", "articleType", "gender"], ["gender"]) == "Navy Blue Tshirts for Men"
    assert describe({"gender": "Women"}, ["baseColour", "gender"], ["gender"]) == "for Women"


def test_feedback_moves_toward_likes_and_away_from_dislikes():
    from retrieval.compose import feedback

    query = np.array([1.0, 0, 0], np.float32)
    liked, disliked = np.array([[0, 1.0, 0]], np.float32), np.array([[0, 0, 1.0]], np.float32)
    moved = feedback(query, liked, disliked, beta=0.5, gamma=0.5)
    assert moved @ liked[0] > 0 > moved @ disliked[0]
    assert np.linalg.norm(moved) == pytest.approx(1.0)
    np.testing.assert_allclose(feedback(query), query)


def test_the_composition_method_is_checked_once_and_lists_the_choices():
    from retrieval.compose import composition
    from retrieval.retriever import RetrievalSettings, open_retriever

    with pytest.raises(ValueError, match="choose one of sum, edit, trained"):
        RetrievalSettings(method="magic")
    with pytest.raises(ValueError, match="needs a trained composer"):
        composition("trained")
    with pytest.raises(ValueError, match="--composer DIR"):
        open_retriever("unused", "unused", method="trained")


def test_sum_is_the_plain_sum_whatever_else_is_known():
    from retrieval.compose import SUM_WEIGHTS, QueryParts, composition

    image, text, description = np.eye(3, dtype=np.float32)
    plain = fuse(SUM_WEIGHTS, image, text)
    with_description = composition("sum")(QueryParts(image, text, description, np.stack([description])))
    assert np.allclose(with_description, plain)


def test_shoppers_searching_at_once_each_get_their_own_results(tiny_encoder_spec, tiny_catalog, tmp_path):
    """Concurrent turns' text encodings and searches are batched; each turn still gets what it
    gets alone."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from retrieval.retriever import open_retriever

    retriever = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path)
    turns = [(f"a {colour.lower()} one", {"baseColour": [colour], "gender": [gender]})
             for colour in ("Red", "Blue", "Green", "Black") for gender in ("Men", "Women")]
    reference = retriever.reference_from_catalog("1000")
    ready = Barrier(len(turns))

    def search(turn: tuple[str, dict]) -> list[str]:
        text, filters = turn
        ready.wait()
        query = retriever.compose(reference, text)
        return [h.id for h in retriever.search(query, 3, exclude_ids=["1000"], filters=filters)]

    with ThreadPoolExecutor(len(turns)) as pool:
        together = list(pool.map(search, turns))
    alone = [[h.id for h in retriever.store.search(retriever.compose(reference, text), 3, ["1000"], filters)[0]]
             for text, filters in turns]
    assert together == alone and all(len(ids) == 3 for ids in together)
    catalog = load_catalog(tiny_catalog)
    for ids, (_, filters) in zip(together, turns):
        assert all(catalog.attributes(i)["baseColour"] == filters["baseColour"][0] for i in ids)
