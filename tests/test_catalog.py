"""Catalogue loading: the layout contract and one clear error per kind of broken folder."""

import pytest

from retrieval.catalog import CatalogError, load_catalog, load_gallery, read_ids
from tests.conftest import swatch_rows, write_catalog


def test_loads_products_attributes_and_vocabulary(tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    assert len(catalog) == 32
    product = catalog.product("1000")
    assert product.title == "Men Red Tshirts 0"
    assert product.image_path == tiny_catalog / "images" / "1000.jpg"
    assert set(catalog.attribute_columns) == {"gender", "articleType", "baseColour"}
    assert catalog.vocabulary()["baseColour"] == {"Red": 8, "Blue": 8, "Green": 8, "Black": 8}


def test_image_column_gives_relative_paths(tmp_path):
    rows = [dict(r, image=f"images/{r['id']}.jpg") for r in swatch_rows(1)]
    catalog = load_catalog(write_catalog(tmp_path, rows))
    assert catalog.image_path(rows[0]["id"]).is_file()
    assert "image" not in catalog.attribute_columns


def test_title_falls_back_to_product_display_name(tmp_path):
    rows = [{"id": r["id"], "productDisplayName": r["title"], "baseColour": r["baseColour"], "gender": r["gender"]} for r in swatch_rows(1)]
    assert load_catalog(write_catalog(tmp_path, rows)).title(rows[0]["id"]) == rows[0]["productDisplayName"]


def test_products_without_a_photo_are_skipped_with_a_counted_warning(tiny_catalog, tmp_path, caplog):
    for pid in ("1003", "1007", "1011"):
        (tiny_catalog / "images" / f"{pid}.jpg").unlink()
    catalog = load_catalog(tiny_catalog)
    assert len(catalog) == 29 and "1003" not in catalog and catalog.skipped == ("1003", "1007", "1011")
    assert "skipped 3 of 32 products whose photo is missing: 3 (images/1003.jpg" in caplog.text
    ids = tmp_path / "ids.txt"
    ids.write_text("1002\n1003\n1004\n")
    gallery = catalog.subset(read_ids(ids))  # a gallery naming a skipped product loses it too
    assert gallery.ids == ["1002", "1004"] and gallery.skipped == ("1003",)


def test_a_catalogue_without_any_photo_fails(tiny_catalog):
    for photo in (tiny_catalog / "images").iterdir():
        photo.unlink()
    with pytest.raises(CatalogError, match="no product has its photo"):
        load_catalog(tiny_catalog)


def test_duplicate_ids_are_named(tmp_path):
    rows = swatch_rows(1)
    rows[5]["id"] = rows[2]["id"]
    with pytest.raises(CatalogError, match=rf"duplicate ids: 1 \({rows[2]['id']}\)"):
        load_catalog(write_catalog(tmp_path, rows))


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "not a readable CSV"), ("name,colour\nshirt,red\n", "no 'id' column"), ("id,colour\n", "no products")],
)
def test_malformed_tables(tmp_path, content, message):
    (tmp_path / "products.csv").write_text(content)
    with pytest.raises(CatalogError, match=message):
        load_catalog(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nowhere")


def test_gallery_restricts_and_checks_ids(tiny_catalog, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("1001\n1002\n\n")
    assert load_gallery(tiny_catalog, ids).ids == ["1001", "1002"]
    ids.write_text("1001\n9999\n")
    with pytest.raises(CatalogError, match="gallery ids not in"):
        load_gallery(tiny_catalog, ids)
    ids.write_text("1001\n1001\n")
    with pytest.raises(CatalogError, match="duplicate ids"):
        read_ids(ids)


def test_fingerprint_changes_with_rows_and_photos(tiny_catalog):
    before = load_catalog(tiny_catalog).fingerprint()
    assert load_catalog(tiny_catalog).fingerprint() == before
    from PIL import Image

    Image.new("RGB", (30, 30), (1, 2, 3)).save(tiny_catalog / "images" / "1000.jpg")
    assert load_catalog(tiny_catalog).fingerprint() != before
