"""The per-session actions behind the UI and the API, on a generated catalogue and a tiny
random encoder (no shared data needed), plus the app's settings and start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from shop.demo_catalog import write_catalog_folder
from shop.session import ASK, SORRY, Session, Shop
from chat.factory import open_assistant
from retrieval.catalog import load_catalog
from shop.loader import Loader
from shop.settings import DEMO_CATALOG, AppSettings, SetupError, check_downloads, parse_settings


@pytest.fixture(scope="module")
def shop(tmp_path_factory, tiny_encoder_spec) -> Shop:
    from tests.conftest import swatch_rows, write_catalog

    work = tmp_path_factory.mktemp("session")
    catalog = write_catalog(work / "catalog", swatch_rows())
    settings = AppSettings(catalog=str(catalog), encoder=tiny_encoder_spec, llm="rules", index_dir=work / "indexes")
    return Shop(open_assistant(settings.assistant_config(load_catalog(catalog))))


def searched(shop: Shop, text: str = "red tshirts for women"):
    view = shop.send(Session(), text)
    assert view.cards, view.reply
    return view


def test_a_search_shows_numbered_cards_and_chips(shop):
    view = searched(shop)
    assert [c.number for c in view.cards] == list(range(1, len(view.cards) + 1))
    assert {c.label for c in view.chips} == {"Red", "Tshirts", "Women"}
    assert all(c.product.attributes["baseColour"] == "Red" for c in view.cards)
    assert view.cards[0].details == "Red · Tshirts · Women"
    assert view.refining is None and view.can_undo


def test_pick_refines_from_a_card_until_it_changes(shop):
    view = searched(shop)
    picked = shop.pick(view.session, 2)
    assert picked.refining.title == view.cards[1].product.title and picked.refining.number == 2
    assert [c.picked for c in picked.cards] == [n == 2 for n in range(1, len(view.cards) + 1)]
    assert shop.pick(view.session, 99).reply.startswith("There is no result #99")
    assert shop.pick(Session(), 1).reply.startswith("There are no results yet")


def test_feedback_like_is_remembered_and_dislike_hides(shop):
    view = searched(shop)
    first = view.cards[0].product.id
    liked = shop.feedback(view.session, 1, "like")
    assert liked.cards[0].liked and liked.session.dialogue.results == view.session.dialogue.results
    hidden = shop.feedback(liked.session, 1, "dislike")
    assert first not in {c.product.id for c in hidden.cards}
    again = shop.send(hidden.session, "red tshirts for women")
    assert first not in {c.product.id for c in again.cards}
    assert "not 'meh'" in shop.feedback(view.session, 1, "meh").reply


def test_release_a_chip_then_undo_brings_it_back(shop):
    view = searched(shop)
    released = shop.release(view.session, "red")
    assert "Red" not in {c.value for c in released.chips}
    assert {c.product.attributes["baseColour"] for c in released.cards} != {"Red"}
    undone = shop.undo(released.session)
    assert {c.value for c in undone.chips} == {c.value for c in view.chips}
    assert [c.product.id for c in undone.cards] == [c.product.id for c in view.cards]
    assert "not one of the active filters" in shop.release(view.session, "Purple").reply


def test_negatives_are_chips_too(shop):
    view = shop.send(Session(), "tshirts for women, not red")
    assert any(c.negative and c.value == "Red" for c in view.chips)
    assert all(c.product.attributes["baseColour"] != "Red" for c in view.cards)


def test_an_upload_is_shown_as_refining_your_photo(shop, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 80), (30, 30, 200)).save(photo)
    view = shop.send(Session(), "something like this", str(photo))
    assert view.refining.title == "your photo" and view.refining.image == str(photo)


def test_empty_messages_bad_files_and_failures_never_raise(shop, tmp_path, monkeypatch):
    assert shop.send(Session(), "   ").reply == ASK
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "isn't a photo" in shop.send(Session(), "this", str(text)).reply
    monkeypatch.setattr(shop.assistant, "step", lambda *a, **k: 1 / 0)
    view = shop.send(Session(), "red tshirts")
    assert view.reply == SORRY and view.session == Session()


def test_start_over_and_nothing_to_undo(shop):
    assert shop.start_over().session == Session()
    assert shop.undo(Session()).reply == "There is nothing to undo."


def test_flags_win_over_environment_over_demo_defaults():
    assert parse_settings([], {}) == AppSettings()
    env = {"SHOP_CATALOG": "/env/catalog", "SHOP_PORT": "9000", "SHOP_INDEX_DIR": "/env/idx"}
    settings = parse_settings(["--catalog", "/flag/catalog", "--llm", "rules"], env)
    assert (settings.catalog, settings.port, settings.llm) == ("/flag/catalog", 9000, "rules")
    assert settings.index_dir == Path("/env/idx")


def test_demo_defaults_offline_fail_fast_with_the_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(SetupError, match="--catalog .* --encoder .* --llm rules"):
        check_downloads(AppSettings())
    check_downloads(AppSettings(catalog=str(tmp_path), encoder="local-dir:x", llm="rules"))
    assert DEMO_CATALOG.startswith("hf-dataset:")


def test_loader_reports_a_bad_catalogue(tmp_path):
    loader = Loader(AppSettings(catalog=str(tmp_path / "missing"), encoder="local-dir:x", llm="rules")).start()
    assert loader.wait_until_ready(timeout=60) is None
    assert "does not exist" in loader.status()
    assert "does not exist" in loader.shop.send(None, "red dress").reply  # the stand-in shop answers every action


def test_demo_rows_become_a_catalogue_folder(tmp_path):
    import io

    from retrieval.catalog import load_catalog

    jpeg = io.BytesIO()
    Image.new("RGB", (30, 40), (200, 0, 0)).save(jpeg, format="JPEG")
    rows = [{"id": 7, "gender": "Men", "articleType": "Tshirts", "baseColour": "Red", "season": float("nan"),
             "productDisplayName": "Red tee", "image": {"bytes": jpeg.getvalue(), "path": None}},
            {"id": 8, "gender": "Women", "articleType": "Tops", "baseColour": "Blue", "season": None,
             "productDisplayName": "Blue top", "image": jpeg.getvalue()}]
    folder = write_catalog_folder(rows, tmp_path / "demo")
    catalog = load_catalog(folder)
    assert catalog.ids == ["7", "8"] and catalog.title("7") == "Red tee"
    assert Image.open(catalog.image_path("8")).size == (30, 40)
    assert not (tmp_path / "demo.partial").exists()
