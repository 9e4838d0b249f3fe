"""Uploads on the catalogue's backdrop: its colour is learned from the catalogue's photos, a photo
under a lamp, in the shade or dim is balanced back to it (and its product's colours with it), a
surface no lamp explains is replaced around the product, and a photo whose border is no
backdrop is left alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw
from skimage.color import deltaE_cie76, rgb2lab

from benchmarks.photo_retakes import DIM, SHADE, WARM, lit
from retrieval.backdrop import learn_backdrop, match_backdrop
from retrieval.colour import read_product
from retrieval.photo import load_rgb
from tests.test_framing import studio_photo

RED = (180, 30, 40)
DENIM = (70, 110, 170)


def colour_at(photo: Image.Image, xy) -> np.ndarray:
    return rgb2lab(np.asarray(photo.getpixel(xy), dtype=np.float64) / 255.0)


def catalogue_backdrop():
    """A catalogue shot on white, a few photos on a barely grey backdrop."""
    photos = [studio_photo(colour=c) for c in (RED, (30, 40, 190), (20, 20, 20), (240, 200, 210))] * 6
    photos += [studio_photo(backdrop=(247, 247, 247))]
    return learn_backdrop([read_product(p) for p in photos])


def test_the_catalogues_backdrop_is_learned_from_its_photos():
    backdrop = catalogue_backdrop()
    assert abs(backdrop.typical[0] - 100) < 0.5 and max(abs(backdrop.typical[1]), abs(backdrop.typical[2])) < 0.5


def test_a_photo_lit_as_the_catalogues_is_left_as_it_is():
    photo = studio_photo(colour=RED)
    assert match_backdrop(photo, catalogue_backdrop()) is photo


def test_a_photo_under_a_lamp_in_the_shade_or_dim_gets_its_white_and_its_colours_back():
    photo = studio_photo(colour=DENIM)
    for gains in (WARM, SHADE, DIM):
        seen = lit(photo, gains)
        assert deltaE_cie76(colour_at(seen, (30, 40)), colour_at(photo, (30, 40))) > 3, "the light changed the colour"
        balanced = match_backdrop(seen, catalogue_backdrop())
        assert balanced.getpixel((1, 1)) == (255, 255, 255), gains
        assert deltaE_cie76(colour_at(balanced, (30, 40)), colour_at(photo, (30, 40))) < 3, gains


def test_a_lamp_fading_across_the_photo_is_balanced_on_the_backdrops_middle():
    fading = lit(studio_photo(size=(120, 80), box=(40, 10, 80, 70), colour=RED), WARM, far=0.7)
    balanced = match_backdrop(fading, catalogue_backdrop())
    assert balanced is not fading
    assert deltaE_cie76(colour_at(balanced, (60, 40)), colour_at(studio_photo(colour=RED), (30, 40))) < 8


def test_a_surface_no_lamp_explains_is_replaced_and_the_product_kept():
    for surface in ((150, 100, 60), (200, 40, 40), (25, 25, 25)):  # a wooden floor, a red wall, a black table
        photo = studio_photo(size=(90, 80), box=(25, 10, 65, 70), colour=DENIM, backdrop=surface)
        shown = match_backdrop(photo, catalogue_backdrop())
        assert shown.getpixel((2, 2)) == (255, 255, 255) and shown.getpixel((45, 40)) == DENIM, surface


def test_a_photo_whose_border_is_no_backdrop_is_left_as_it_is():
    backdrop = catalogue_backdrop()
    street = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8))
    pale_shirt = Image.new("RGB", (60, 80), (240, 200, 210))  # the product fills the frame: no backdrop
    ImageDraw.Draw(pale_shirt).line((30, 10, 30, 70), fill=(200, 160, 170), width=2)  # a seam
    navy_shirt = Image.new("RGB", (60, 80), (20, 30, 70))  # too dark for any lamp: it would be replaced
    ImageDraw.Draw(navy_shirt).line((30, 10, 30, 70), fill=(40, 50, 90), width=2)
    for photo in (street, pale_shirt, navy_shirt):
        assert match_backdrop(photo, backdrop) is photo


def test_too_few_studio_photos_learn_no_backdrop():
    assert learn_backdrop([read_product(studio_photo())] * 5) is None
    assert learn_backdrop([read_product(studio_photo(backdrop=(30, 30, 30)))] * 40) is None


def test_the_backdrop_is_learned_with_the_heads_and_a_lamp_lit_upload_reads_as_its_photo(tmp_path, tiny_encoder_spec):
    from tests.test_attribute_heads import studio_retriever

    learned = studio_retriever(tmp_path, tiny_encoder_spec)
    assert learned.heads.backdrop is not None and learned.heads_plan.cached().backdrop == learned.heads.backdrop
    product = load_rgb(learned.catalog.image_path(learned.store.ids[0]))
    as_catalogue = learned.reference_from_image(product).vector
    lit_as_catalogue = [float(learned.reference_from_image(lit(product, g)).vector @ as_catalogue) for g in (WARM, DIM)]
    learned.use_heads(replace(learned.heads, backdrop=None))
    as_taken = [float(learned.reference_from_image(lit(product, g)).vector @ as_catalogue) for g in (WARM, DIM)]
    assert min(lit_as_catalogue) > 0.9995 and all(a > b for a, b in zip(lit_as_catalogue, as_taken)), (lit_as_catalogue, as_taken)
