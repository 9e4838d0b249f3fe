"""A photo's pixels as a person sees them, for every model that reads them.

Two things a file holds besides its pixels change what a person sees, and a model reading the
raw pixels would miss both: phones store a portrait photo sideways with an EXIF orientation tag
(a model shown it sideways reads a dress as something else), and a cut-out PNG is a product on
transparent pixels whose colour is arbitrary, usually black (the catalogue shows products on a
light backdrop, and the product's own colours are read against one). So the orientation is
applied and transparency is flattened onto white before anything else sees the photo.

A phone's photo also holds far more pixels than any reader wants (the encoder reads 128-384 px,
the colours 96): a 12-megapixel upload took 0.4-0.8 s to relight, frame and read here, against
40 ms for a catalogue photo. So a photo is read at WORKING_SIDE pixels on its longer side at
most, which still leaves a product filling a quarter of the frame enough pixels to be framed.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

ImageInput = str | Path | Image.Image
BACKDROP = (255, 255, 255)  # what transparent pixels become: a studio's white
WORKING_SIDE = 1024  # pixels on the longer side a photo is read at, at most


def load_rgb(image: ImageInput) -> Image.Image:
    """The photo at `image` (a path or an image) as an upright RGB image on white."""
    if isinstance(image, Image.Image):
        return as_shown(image)
    with Image.open(image) as opened:
        decode_small(opened)
        return as_shown(opened)


def decode_small(image: Image.Image) -> None:
    """Let a JPEG not yet decoded decode at a half, a quarter or an eighth of its size where that
    still leaves WORKING_SIDE pixels (several times faster than decoding it all); other formats
    decode as they are."""
    image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))


def as_shown(image: Image.Image) -> Image.Image:
    """`image` turned upright by its EXIF orientation and flattened onto white, in RGB, with at
    most WORKING_SIDE pixels on its longer side."""
    upright = ImageOps.exif_transpose(image)
    if has_transparency(upright):
        rgba = upright.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, BACKDROP + (255,))
        upright = Image.alpha_composite(backdrop, rgba)
    return within(upright.convert("RGB"), WORKING_SIDE, resample=Image.Resampling.LANCZOS, reducing_gap=3.0)


def within(image: Image.Image, side: int, **resize_options) -> Image.Image:
    """`image` shrunk, its shape kept, to at most `side` pixels on its longer side (as it is
    where it is no larger); `resize_options` go to `Image.resize`."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, **resize_options)


def has_transparency(image: Image.Image) -> bool:
    """Whether some pixels may be see-through: an alpha band, or a palette or grey image with a
    transparent colour."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
