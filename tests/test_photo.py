"""Photos as shoppers' devices save them: a phone's portrait stored sideways with an EXIF
orientation tag, and a cut-out PNG on transparent pixels, are read as the person sees them; a
12-megapixel photo at no more pixels than a reader wants."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks.photo_retakes import cut_out, stored_sideways
from retrieval.photo import WORKING_SIDE, load_rgb
from shop.uploads import load_upload


def portrait(size: tuple[int, int] = (60, 90)) -> Image.Image:
    """A red top half over a blue bottom half: upside down or sideways is easy to tell."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[: size[1] // 2] = (220, 20, 20)
    pixels[size[1] // 2:] = (20, 20, 220)
    return Image.fromarray(pixels)


def test_a_phone_portrait_stored_sideways_is_read_upright(tmp_path):
    upright = portrait()
    photo = load_upload(stored_sideways(upright, tmp_path / "phone.jpg"))
    assert photo.size == upright.size
    assert np.abs(np.asarray(photo, dtype=int) - np.asarray(upright, dtype=int)).mean() < 4


def test_a_cut_out_shows_its_product_on_white_not_black(tmp_path):
    canvas = Image.new("RGB", (40, 40), (255, 255, 255))
    canvas.paste((20, 120, 30), (10, 10, 30, 30))
    photo = load_upload(cut_out(canvas, tmp_path / "cutout.png"))
    assert photo.mode == "RGB" and photo.getpixel((2, 2)) == (255, 255, 255)
    assert photo.getpixel((20, 20)) == (20, 120, 30)


def test_a_palette_png_with_a_transparent_colour_is_flattened_onto_white(tmp_path):
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    palette.paste(1, (5, 5, 15, 15))
    palette.save(tmp_path / "logo.png", transparency=0)
    photo = load_rgb(tmp_path / "logo.png")
    assert photo.getpixel((0, 0)) == (255, 255, 255) and photo.getpixel((10, 10)) == (200, 0, 0)


def test_a_twelve_megapixel_phone_photo_is_read_at_working_size_upright(tmp_path):
    """A phone's portrait stored sideways at 4000x3000 comes out upright, its shape kept, with no
    more pixels than any reader wants: relighting and framing it whole took most of a second."""
    upright = portrait((3000, 4000))
    photo = load_upload(stored_sideways(upright, tmp_path / "phone.jpg"))
    assert photo.size == (WORKING_SIDE * 3 // 4, WORKING_SIDE)
    assert photo.getpixel((photo.width // 2, photo.height // 4))[0] > 180  # red half on top
    assert photo.getpixel((photo.width // 2, 3 * photo.height // 4))[2] > 180
    assert load_rgb(upright).size == (WORKING_SIDE * 3 // 4, WORKING_SIDE)
