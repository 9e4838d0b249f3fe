"""Uploads framed as the catalogue frames its products: learned from the catalogue's own photos,
applied only to photos framed unlike them, and stepping aside where no product can be told apart."""

from __future__ import annotations

from PIL import Image, ImageDraw

from retrieval.colour import read_product
from retrieval.framing import framed_views, learn_framing, placement
from retrieval.photo import load_rgb

WHITE = (255, 255, 255)


def studio_photo(size=(60, 80), box=(10, 8, 50, 72), colour=(180, 30, 40), backdrop=WHITE) -> Image.Image:
    """A product (a filled box) on a backdrop, as catalogue photos show it."""
    photo = Image.new("RGB", size, backdrop)
    photo.paste(colour, box)
    return photo


def only(views: list) -> Image.Image:
    """The one way a photo is to be read (a small product within the usual range has two)."""
    assert len(views) == 1, views
    return views[0]


def catalogue_framing():
    """The framing of a catalogue of 3:4 photos, tall products spanning 80% of the height and
    wide ones 75% of the width, centred (with a little spread, as real photos have)."""
    photos = [studio_photo(box=(12 + d, 8 + d, 48 + d, 72 + d)) for d in (-2, -1, 0, 1, 2)] * 3
    photos += [studio_photo(box=(8 + d, 25, 53 + d, 55)) for d in (-1, 0, 1)] * 3
    photos += [studio_photo(box=(20, 23, 40, 57))]  # a small product (a wallet)
    return learn_framing([read_product(p) for p in photos])


def test_the_catalogues_framing_is_learned_from_its_photos():
    framing = catalogue_framing()
    assert framing.typical.aspect == 0.75
    assert abs(framing.typical.height_fill - 0.8) < 0.03 and abs(framing.typical.width_fill - 0.75) < 0.03
    assert abs(framing.typical.centre_x - 0.5) < 0.03 and abs(framing.typical.centre_y - 0.5) < 0.03


def test_a_photo_framed_like_the_catalogues_is_left_as_it_is():
    photo = studio_photo(box=(12, 8, 48, 72))
    assert only(framed_views(photo, catalogue_framing())) is photo


def test_a_small_product_on_a_wide_photo_is_cropped_to_the_catalogues_framing():
    photo = studio_photo(size=(300, 160), box=(200, 20, 236, 84), backdrop=(240, 240, 238))
    framed = only(framed_views(photo, catalogue_framing()))
    assert abs(framed.width / framed.height - 0.75) < 0.02
    placed = placement(read_product(framed).mask)
    assert abs(placed.height_fill - 0.8) < 0.05
    assert abs(placed.centre_x - 0.5) < 0.05 and abs(placed.centre_y - 0.5) < 0.05
    assert framed.getpixel((1, 1)) == (240, 240, 238), "padded with the photo's own backdrop"


def test_a_small_product_within_the_usual_range_is_read_as_it_is_and_enlarged_to_the_typical_framing():
    photo = studio_photo(box=(20, 20, 40, 60))  # half the height: as small as few of the catalogue's
    framing = catalogue_framing()
    assert framing.usual(placement(read_product(photo).mask)) and framing.is_small(placement(read_product(photo).mask))
    as_it_is, enlarged = framed_views(photo, framing)
    assert as_it_is is photo
    assert abs(placement(read_product(enlarged).mask).height_fill - 0.8) < 0.05
    catalogue_framed = studio_photo(box=(12, 8, 48, 72))
    assert only(framed_views(catalogue_framed, framing)) is catalogue_framed


def test_a_product_on_a_hundredth_of_the_photo_is_still_found_and_framed():
    """A shoe photographed from standing height: too few pixels to read its colours from, but
    still the product to frame."""
    photo = studio_photo(size=(600, 800), box=(80, 560, 140, 640), backdrop=(246, 246, 246))  # 1% of the photo
    assert read_product(photo) is None, "too small for the colour reading"
    framed = only(framed_views(photo, catalogue_framing()))
    assert abs(framed.width / framed.height - 0.75) < 0.02
    assert read_product(framed).mask.mean() > 0.4, "the product now fills the frame as the catalogue's do"


def test_a_product_cropped_to_its_edges_gets_the_catalogues_margins_back():
    photo = Image.new("RGB", (40, 64), WHITE)
    ImageDraw.Draw(photo).ellipse((0, 0, 39, 63), fill=(30, 40, 190))  # touching every edge, backdrop in the corners
    framed = only(framed_views(photo, catalogue_framing()))
    assert framed.height > photo.height and framed.getpixel((0, framed.height // 2)) == WHITE


def test_a_photo_without_a_light_backdrop_is_not_reframed():
    street = studio_photo(size=(300, 160), box=(200, 20, 236, 84), backdrop=(40, 60, 50))
    assert only(framed_views(street, catalogue_framing())) is street


def test_too_few_studio_photos_learn_no_framing():
    assert learn_framing([read_product(studio_photo())] * 5) is None
    assert learn_framing([read_product(studio_photo(backdrop=(30, 30, 30)))] * 40) is None


def test_the_framing_is_learned_with_the_heads_and_kept_with_them(tmp_path, tiny_encoder_spec):
    from tests.test_attribute_heads import studio_retriever

    learned = studio_retriever(tmp_path, tiny_encoder_spec)
    assert learned.heads.framing is not None and learned.heads_plan.cached().framing == learned.heads.framing
    product = load_rgb(learned.catalog.image_path(learned.store.ids[0]))
    wide = Image.new("RGB", (4 * product.width, product.height), (250, 250, 250))
    wide.paste(product, (0, 0))
    as_catalogue = learned.reference_from_image(product).vector
    assert float(learned.reference_from_image(wide).vector @ as_catalogue) > 0.99
