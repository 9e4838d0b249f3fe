"""The per-session actions behind the UI and the API, on a generated catalogue and a tiny
random encoder (no shared data needed), plus the app's settings and start-up checks; and the
shopper's experience: a photo keeps its kind or asks, text it cannot read is said so, likes
toggle, replies stream, and what a catalogue lacks is said at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from chat.factory import open_assistant
from chat.replies import SORRY
from retrieval.catalog import load_catalog
from retrieval.reference import Reference
from retrieval.vocabulary import VocabularyMatcher
from shop.demo_catalog import write_catalog_folder
from shop.loader import Loader, feature_notes
from shop.session import Session, Shop
from shop.settings import DEMO_CATALOG, AppSettings, SetupError, check_downloads, parse_settings
from shop.uploads import MAX_UPLOAD_BYTES, UploadError, check_upload, load_upload
from tests.conftest import swatch_rows, write_catalog


@pytest.fixture(scope="module")
def shop(tmp_path_factory, tiny_encoder_spec) -> Shop:
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
    assert not any(c.liked for c in picked.cards), "a click to refine is not a like"
    assert [c.picked for c in picked.cards] == [n == 2 for n in range(1, len(view.cards) + 1)]
    assert shop.pick(view.session, 99).reply.startswith("There is no result #99")
    assert shop.pick(Session(), 1).reply.startswith("There are no results yet")


def test_feedback_like_is_remembered_and_dislike_hides(shop):
    view = searched(shop)
    first = view.cards[0].product.id
    liked = shop.feedback(view.session, 1, "like")
    assert liked.cards[0].liked and liked.session.dialogue.results == view.session.dialogue.results
    unliked = shop.feedback(liked.session, 1, "unlike")  # the ♥ toggles
    assert not unliked.cards[0].liked and first not in unliked.session.dialogue.liked
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
    assert view.refining.title == "your photo" and view.refining.thumbnail.startswith("data:image/jpeg;base64,")
    assert str(tmp_path) not in repr(view.refining)  # the page never learns where uploads are kept


def test_empty_messages_bad_files_and_failures_never_raise(shop, tmp_path, monkeypatch):
    assert shop.send(Session(), "   ").reply == shop.assistant.replies.ask()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "isn't a photo" in shop.send(Session(), "this", str(text)).reply
    monkeypatch.setattr(shop.assistant, "read", lambda *a, **k: 1 / 0)
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
    with pytest.raises(SetupError, match="--catalog .* --encoder .* --llm smollm2-shop"):
        check_downloads(AppSettings())
    check_downloads(AppSettings(catalog=str(tmp_path), encoder="local-dir:x", llm="rules"))
    assert DEMO_CATALOG.startswith("hf-dataset:")


def test_the_public_default_reader_is_the_fine_tuned_one():
    assert AppSettings().llm == parse_settings([], {}).llm == "smollm2-shop"


def test_loader_reports_a_bad_catalogue(tmp_path):
    loader = Loader(AppSettings(catalog=str(tmp_path / "missing"), encoder="local-dir:x", llm="rules")).start()
    assert loader.wait_until_ready(timeout=60) is None
    assert "does not exist" in loader.status()
    assert "does not exist" in loader.shop.send(None, "red dress").reply  # the stand-in shop answers every action


def test_a_language_model_that_cannot_load_leaves_the_rules_reading_and_the_page_says_so(tmp_path, tiny_encoder_spec):
    write_catalog(tmp_path / "cat", swatch_rows())
    settings = AppSettings(catalog=str(tmp_path / "cat"), encoder=tiny_encoder_spec, llm=str(tmp_path / "missing.gguf"),
                           index_dir=tmp_path / "idx")
    loader = Loader(settings).start()
    shop = loader.wait_until_ready(timeout=120)
    assert shop is not None, loader.error  # the shop opens with the rules while the model loads
    assert shop.assistant.rewriter.wait(60)
    assert any("missing.gguf could not be loaded" in note and "the rules read" in note for note in loader.notes)
    assert shop.send(Session(), "red tshirts for women").cards


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

@pytest.fixture
def photo(tmp_path) -> str:
    path = tmp_path / "photo.png"
    Image.new("RGB", (64, 80), (10, 10, 10)).save(path)
    return str(path)


def upload_guessed_as(shop: Shop, monkeypatch, **ranked: tuple[tuple[str, float], ...]) -> None:
    """Make every uploaded photo a women's black shoe whose inference ranks values as given."""
    retriever = shop.assistant.retriever
    shoe = next(i for i in retriever.store.ids if retriever.catalog.attributes(i) ==
                {"gender": "Women", "articleType": "Shoes", "baseColour": "Black"})
    reference = Reference("upload", vector=retriever.store.vector(shoe), ranked=ranked)
    monkeypatch.setattr(retriever, "reference_from_image", lambda image, exclude_ids=(): reference)


def test_a_sure_photo_keeps_its_kind_and_gender_as_removable_chips(shop, monkeypatch, photo):
    upload_guessed_as(shop, monkeypatch, articleType=(("Shoes", 0.93), ("Tshirts", 0.05)),
                      gender=(("Women", 0.9), ("Men", 0.1)))
    view = shop.send(Session(), "same but in blue", photo)
    assert {c.value for c in view.chips} == {"Shoes", "Women", "Blue"} and view.question is None
    assert {(c.product.attributes["articleType"], c.product.attributes["gender"]) for c in view.cards} == {("Shoes", "Women")}
    assert "I took your photo for Shoes for Women" in view.reply
    wider = shop.release(view.session, "Shoes")
    assert "Shoes" not in {c.value for c in wider.chips} and wider.refining.title == "your photo"


def test_an_unsure_kind_is_asked_with_its_two_likeliest_answers(shop, monkeypatch, photo):
    upload_guessed_as(shop, monkeypatch, articleType=(("Shoes", 0.5), ("Tshirts", 0.45), ("Socks", 0.05)))
    view = shop.send(Session(), "same but in blue", photo)
    assert view.question.options == ("Shoes", "Tshirts") and view.reply.endswith("Is this a shoe or a tshirt?")
    assert view.cards and "Shoes" not in {c.value for c in view.chips}
    clicked = shop.choose(view.session, "Tshirts")
    assert {c.value for c in clicked.chips} == {"Tshirts", "Blue"} and clicked.question is None
    assert {c.product.attributes["articleType"] for c in clicked.cards} == {"Tshirts"}
    assert clicked.refining.title == "your photo", "answering keeps the photo as the reference"
    typed = shop.send(view.session, "a shoe")  # a short typed answer counts as the click
    assert {c.value for c in typed.chips} == {"Shoes", "Blue"}
    assert "no question" in shop.choose(clicked.session, "Shoes").reply
    assert "Please choose Shoes or Tshirts" in shop.choose(view.session, "hat").reply


@pytest.fixture(scope="module")
def family_shop(tmp_path_factory, tiny_encoder_spec) -> Shop:
    """A catalogue with boys' and girls' things and no one value for children."""
    work = tmp_path_factory.mktemp("family")
    catalog = write_catalog(work / "catalog", swatch_rows(genders=("Men", "Women", "Boys", "Girls")))
    settings = AppSettings(catalog=str(catalog), encoder=tiny_encoder_spec, llm="rules", index_dir=work / "indexes")
    return Shop(open_assistant(settings.assistant_config(load_catalog(catalog))))


def test_things_for_kids_are_asked_for_boys_or_girls(family_shop):
    view = family_shop.send(Session(), "red tshirts for the kids")
    assert view.question.options == ("Boys", "Girls") and view.reply.endswith("For boys or girls?")
    assert {c.value for c in view.chips} == {"Red", "Tshirts"} and view.cards
    clicked = family_shop.choose(view.session, "Girls")
    assert {c.product.attributes["gender"] for c in clicked.cards} == {"Girls"} and clicked.question is None
    typed = family_shop.send(view.session, "for my son")  # a short typed answer counts as the click
    assert {c.value for c in typed.chips} == {"Red", "Tshirts", "Boys"}
    assert family_shop.send(Session(), "red tshirts for my daughter").question is None


def test_kids_is_a_value_where_the_catalogue_has_one():
    assert VocabularyMatcher({"gender": {"Men": 3, "Boys": 1, "Girls": 1}}).children == ("Boys", "Girls")
    with_kids = VocabularyMatcher({"gender": {"Men": 3, "Kids": 2, "Boys": 1, "Girls": 1}})
    assert with_kids.children == () and not with_kids.names_children("socks for kids")
    assert [m.value for m in with_kids.find("socks for kids")] == ["Kids"]


def test_text_in_a_script_it_cannot_read_is_not_searched(shop):
    before = shop.send(Session(), "red tshirts for women")
    view = shop.send(before.session, "красное платье для женщин")
    assert "English only" in view.reply
    assert [c.product.id for c in view.cards] == [c.product.id for c in before.cards]
    assert view.chips == before.chips
    mixed = shop.send(Session(), "красное платье for women")
    assert 'I read English only, so I left out "красное платье"' in mixed.reply
    assert {c.value for c in mixed.chips} == {"Women"}


def test_words_naming_nothing_known_are_searched_as_they_are_and_the_filters_said(shop):
    before = shop.send(Session(), "red tshirts for women")
    view = shop.send(before.session, "something comfy")
    assert "I didn't find a colour, type or person I know in \"comfy\"" in view.reply
    assert "keeping your filters (Red, Tshirts, Women)" in view.reply


def test_a_click_to_refine_is_no_like_and_the_heart_toggles(shop):
    view = shop.send(Session(), "red tshirts for women")
    picked = shop.pick(view.session, 1)
    assert not picked.cards[0].liked and picked.cards[0].picked
    liked = shop.feedback(picked.session, 1, "like")
    assert liked.cards[0].liked
    assert not shop.feedback(liked.session, 1, "unlike").cards[0].liked


def test_a_reply_streams_what_it_looks_for_then_the_results(shop, photo):
    views = list(shop.stream(Session(), "red tshirts for women"))
    assert [v.pending for v in views] == [True, False]
    assert views[0].reply == "Looking for Red Tshirts for Women…" and not views[0].cards and views[-1].cards
    with_photo = list(shop.stream(Session(), "this in red", photo))
    assert with_photo[0].reply == "Looking at your photo…" and with_photo[-1].cards
    assert [v.pending for v in shop.stream(Session(), "thanks!")] == [False]


def test_a_photo_over_the_limits_is_called_too_large_with_the_limit(tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(huge)  # 400 megapixels: PIL will not even open it
    with pytest.raises(UploadError, match="too large: 400 megapixels; the limit is 40 megapixels"):
        load_upload(huge)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(UploadError, match="10.0 MB; the limit is 10 MB"):
        check_upload(big)


def test_a_catalogue_without_colour_or_gender_says_so_at_start(tmp_path):
    rows = [{"id": r["id"], "articleType": r["articleType"], "title": r["title"]} for r in swatch_rows(1)]
    folder = write_catalog(tmp_path / "plain", rows)
    (folder / "images" / f"{rows[0]['id']}.jpg").unlink()
    catalog = load_catalog(folder)
    notes = feature_notes(catalog, VocabularyMatcher(catalog.vocabulary()))
    assert any(n.startswith("Colour words") and "searched columns: articleType" in n for n in notes)
    assert any(n.startswith("Words for who it is for") for n in notes)
    assert any(n.startswith("1 product is left out because its photo is missing") for n in notes)
    full = load_catalog(write_catalog(tmp_path / "full", swatch_rows(1)))
    assert feature_notes(full, VocabularyMatcher(full.vocabulary())) == []


def test_the_upload_thumbnail_is_small(shop, photo):
    thumbnail = shop.send(Session(), "this in red", photo).refining.thumbnail
    assert thumbnail.startswith("data:image/jpeg;base64,") and len(thumbnail) < 8_000


def test_a_filter_the_results_could_not_follow_is_shown_as_such(shop):
    view = searched(shop)  # red t-shirts for women: two in this catalogue
    rejected = shop.send(view.session, "none of these")
    chips = {c.value: c for c in rejected.chips}
    assert chips["Red"].relaxed and chips["Red"].label == "Red (none found)"
    assert not chips["Tshirts"].relaxed and not chips["Women"].relaxed
    assert rejected.cards and all(c.product.attributes["baseColour"] != "Red" for c in rejected.cards)
    assert rejected.reply.startswith("Nothing matched Red, so I left that out.")
    again = shop.send(rejected.session, "for men")
    assert not any(c.relaxed for c in again.chips), "a new search that finds Red clears the mark"


def test_typed_undo_and_the_undo_button_say_the_same(shop):
    view = searched(shop)
    changed = shop.send(view.session, "in blue")
    typed, clicked = shop.send(changed.session, "undo"), shop.undo(changed.session)
    assert typed.reply == clicked.reply and typed.reply.startswith("Undone: back to 2 Red Tshirts for Women")
    assert [c.product.id for c in typed.cards] == [c.product.id for c in view.cards]
