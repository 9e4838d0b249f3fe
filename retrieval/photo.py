"""A photo's pixels as a person sees them, for every model that reads them.

Two things a file holds besides its pixels change what a person sees, and a model reading the
raw pixels would miss both: phones store a portrait photo sideways with an EXIF orientation tag
(a model shown it sideways reads a dress as something else), and a cut-out PNG is a product on
transparent pixels whose colour is arbitrary, usually black (the catalogue shows products on a
light backdrop, and the product's own colours are read against one). So the orientation is
applied and transparency is flattened onto white before anything else sees the photo.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

ImageInput = str | Path | Image.Image
BACKDROP = (255, 255, 255)  # what transparent pixels become: a studio's white


def load_rgb(image: ImageInput) -> Image.Image:
    """The photo at `image` (a path or an image) as an upright RGB image on white."""
    if isinstance(image, Image.Image):
        return as_shown(image)
    with Image.open(image) as opened:
        return as_shown(opened)


def as_shown(image: Image.Image) -> Image.Image:
    """`image` turned upright by its EXIF orientation and flattened onto white, in RGB."""
    upright = ImageOps.exif_transpose(image)
    if not has_transparency(upright):
        return upright.convert("RGB")
    rgba = upright.convert("RGBA")
    backdrop = Image.new("RGBA", rgba.size, BACKDROP + (255,))
    return Image.alpha_composite(backdrop, rgba).convert("RGB")


def has_transparency(image: Image.Image) -> bool:
    """Whether some pixels may be see-through: an alpha band, or a palette or grey image with a
    transparent colour."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
