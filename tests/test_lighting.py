"""Uploads lit as the catalogue lights its products: the backdrop's colour is learned from the
catalogue's photos, a photo under a lamp, in the shade or dim is balanced back to it (and its
product's colours with it), and a photo whose border is no backdrop under some light is left alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw
from skimage.color import deltaE_cie76, rgb2lab

from retrieval.colour import read_product
from retrieval.lighting import learn_backdrop, light_like_catalogue
from retrieval.photo import load_rgb
from tests.test_framing import studio_photo

RED = (180, 30, 40)
DENIM = (70, 110, 170)
WARM, SHADE, DIM = (1.0, 0.85, 0.62), (0.78, 0.9, 1.0), (0.4, 0.4, 0.4)


def lit(photo: Image.Image, gains) -> Image.Image:
    """`photo` under a light of these linear-light channel gains."""
    linear = (np.asarray(photo, dtype=np.float64) / 255.0) ** 2.2
    return Image.fromarray((np.clip(linear * np.asarray(gains), 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8))


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
    assert light_like_catalogue(photo, catalogue_backdrop()) is photo


def test_a_photo_under_a_lamp_in_the_shade_or_dim_gets_its_white_and_its_colours_back():
    photo = studio_photo(colour=DENIM)
    for gains in (WARM, SHADE, DIM):
        seen = lit(photo, gains)
        assert deltaE_cie76(colour_at(seen, (30, 40)), colour_at(photo, (30, 40))) > 3, "the light changed the colour"
        balanced = light_like_catalogue(seen, catalogue_backdrop())
        assert balanced.getpixel((1, 1)) == (255, 255, 255), gains
        assert deltaE_cie76(colour_at(balanced, (30, 40)), colour_at(photo, (30, 40))) < 3, gains


def test_a_lamp_fading_across_the_photo_is_balanced_on_the_backdrops_middle():
    photo = lit(studio_photo(size=(120, 80), box=(40, 10, 80, 70), colour=RED), WARM)
    linear = (np.asarray(photo, dtype=np.float64) / 255.0) ** 2.2 * np.linspace(1.0, 0.7, 120)[None, :, None]
    fading = Image.fromarray((linear ** (1 / 2.2) * 255 + 0.5).astype(np.uint8))
    balanced = light_like_catalogue(fading, catalogue_backdrop())
    assert balanced is not fading
    assert deltaE_cie76(colour_at(balanced, (60, 40)), colour_at(studio_photo(colour=RED), (30, 40))) < 8


def test_a_photo_whose_border_is_no_lit_backdrop_is_left_as_it_is():
    backdrop = catalogue_backdrop()
    red_wall = studio_photo(colour=(30, 40, 190), backdrop=(200, 40, 40))  # no lamp turns white this red
    street = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8))
    pale_shirt = Image.new("RGB", (60, 80), (240, 200, 210))  # the product fills the frame: no backdrop
    ImageDraw.Draw(pale_shirt).line((30, 10, 30, 70), fill=(200, 160, 170), width=2)  # a seam
    for photo in (red_wall, street, pale_shirt):
        assert light_like_catalogue(photo, backdrop) is photo


def test_too_few_studio_photos_learn_no_backdrop():
    assert learn_backdrop([read_product(studio_photo())] * 5) is None
    assert learn_backdrop([read_product(studio_photo(backdrop=(30, 30, 30)))] * 40) is None


def test_the_backdrop_is_learned_with_the_heads_and_a_lamp_lit_upload_reads_as_its_photo(tmp_path, tiny_encoder_spec):
    from retrieval.retriever import open_retriever
    from tests.test_attribute_heads import studio_catalog

    catalog = studio_catalog(tmp_path / "studio")
    learned = open_retriever(catalog, tiny_encoder_spec, index_dir=tmp_path / "index")
    assert learned.heads.backdrop is not None and learned.heads_plan.cached().backdrop == learned.heads.backdrop
    product = load_rgb(catalog / "images" / f"{learned.store.ids[0]}.jpg")
    as_catalogue = learned.reference_from_image(product).vector
    lit_as_catalogue = [float(learned.reference_from_image(lit(product, g)).vector @ as_catalogue) for g in (WARM, DIM)]
    learned.use_heads(replace(learned.heads, backdrop=None))
    as_taken = [float(learned.reference_from_image(lit(product, g)).vector @ as_catalogue) for g in (WARM, DIM)]
    assert min(lit_as_catalogue) > 0.9995 and all(a > b for a, b in zip(lit_as_catalogue, as_taken)), (lit_as_catalogue, as_taken)
