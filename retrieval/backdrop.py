"""Uploaded photos put on the catalogue's backdrop: re-lit, or their surface replaced.

A catalogue photographs its products in a studio, on a backdrop that comes out white. A
shopper photographs a product under a lamp (a warm cast), in the shade (a blue one), or dim (a
phone exposes a white sheet of paper as grey). Read as it is, the encoder sees another picture:
on development photos a warm lamp cut the article type read right from 89% to 36% and the
colour from 82% to 35% (benchmarks/README_photos.md). The backdrop shows the light: it is the
catalogue's white seen under the shopper's lamp. So where the photo's border is one even
backdrop whose colour is outside the catalogue's usual range, every channel is scaled (in
linear light, as a camera's white balance does) so that the backdrop takes the catalogue's
typical colour; the product's colours come back with it.

A backdrop no lamp explains (a wooden floor, a red wall, a black table) is a surface, not
the catalogue's white under another light: there the surface around the product (the pixels of
the border's colour that reach the border) is replaced by the catalogue's backdrop colour and
the product is kept as it is.

What the catalogue's backdrop looks like is learned from its own photos (with the attribute
heads), so this suits any catalogue. A photo whose border is not one backdrop (a street photo),
or whose "backdrop" is the product itself filling the frame, is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.color import deltaE_cie76, lab2rgb

from retrieval.colour import ProductPixels, backdrop_around, border_pixels, lab_image, product_mask
from retrieval.framing import MIN_PHOTOS, bounding_box

# Percentiles of the catalogue's backdrops that bound its usual ones. Narrower than the framing's
# bounds: on development photos even a light grey backdrop (L* 83, inside the catalogue's 1st
# percentile) cut the article type read right from 89% to 56% (84% once re-lit).
USUAL = (5.0, 95.0)
MIN_SPAN = 0.15  # a product standing on the backdrop spans at least this share of the photo's height and width
# CIELAB units beyond that range that still count as usual: a light table (L* 97 against the
# studio's 100) is left alone; chosen on development photos 500-700 (2 cost 1-2 points of gender).
TOLERANCE = 4.0
EVEN_DELTA_E = 12.0  # border pixels this close to the border's median colour are the backdrop
EVEN_SHARE = 0.6  # the share of the border that must be backdrop for the border to be one backdrop
MAX_CAST = 2.5  # the most one channel's gain may exceed another's: a warmer "light" is a coloured backdrop
MAX_GAIN = 4.0  # two stops of exposure: a darker "backdrop" is a dark surface, not a white one in dim light


@dataclass(frozen=True)
class Backdrop:
    """The catalogue's backdrop colour (CIELAB): the median of its photos' and the usual range
    (`USUAL` percentiles) of each of L*, a*, b*."""

    typical: tuple[float, float, float]
    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def usual(self, lab: np.ndarray) -> bool:
        """Whether a backdrop colour (3,) lies within the catalogue's usual range."""
        return bool(np.all(np.asarray(self.low) - TOLERANCE <= lab) and np.all(lab <= np.asarray(self.high) + TOLERANCE))

    def to_dict(self) -> dict[str, list[float]]:
        return {"typical": list(self.typical), "low": list(self.low), "high": list(self.high)}

    @classmethod
    def from_dict(cls, saved: dict[str, list[float]]) -> Backdrop:
        return cls(*(tuple(saved[name]) for name in ("typical", "low", "high")))


def border_colour(lab: np.ndarray) -> np.ndarray | None:
    """(3,) CIELAB of the photo's backdrop: the median of its border where most of the border
    is that one colour; None where the border is not one backdrop."""
    border = border_pixels(lab)
    if border is None:
        return None
    median = np.median(border, axis=0)
    even = deltaE_cie76(border, median[None, :]) < EVEN_DELTA_E
    return median if even.mean() >= EVEN_SHARE else None


def learn_backdrop(products: Sequence[ProductPixels | None]) -> Backdrop | None:
    """The catalogue's usual backdrop colour, from the photos whose product was told apart from
    a light backdrop; None with too few."""
    colours = [c for c in (border_colour(p.lab) for p in products if p is not None) if c is not None]
    if len(colours) < MIN_PHOTOS:
        return None
    low, typical, high = (tuple(np.percentile(colours, q, axis=0).tolist()) for q in (USUAL[0], 50.0, USUAL[1]))
    return Backdrop(typical, low, high)


def _linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB (0..1) to linear light."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light (0..1) to sRGB."""
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def _rgb(lab: np.ndarray | Sequence[float]) -> np.ndarray:
    """(3,) sRGB (0..1) of one CIELAB colour."""
    return lab2rgb(np.asarray(lab, dtype=np.float64)[None, None, :])[0, 0]


def _gains(seen: np.ndarray, wanted: tuple[float, float, float]) -> np.ndarray | None:
    """(3,) linear-light gains that turn the backdrop colour `seen` into `wanted` (both CIELAB);
    None where no lamp or exposure explains the difference."""
    seen_rgb, wanted_rgb = (_linear(_rgb(c)) for c in (seen, wanted))
    gains = wanted_rgb / np.maximum(seen_rgb, 1e-4)
    if gains.max() > MAX_GAIN or gains.max() > MAX_CAST * gains.min():
        return None
    return gains


def _apply(photo: Image.Image, gains: np.ndarray) -> Image.Image:
    """`photo` with each channel scaled by its gain in linear light (a lookup table per channel)."""
    levels = np.arange(256) / 255.0
    tables = [np.clip(_srgb(np.clip(_linear(levels) * gain, 0.0, 1.0)) * 255.0 + 0.5, 0, 255).astype(int) for gain in gains]
    return photo.point([int(v) for table in tables for v in table])


def match_backdrop(photo: Image.Image, backdrop: Backdrop) -> Image.Image:
    """`photo` (RGB) on the catalogue's backdrop where its own is outside the catalogue's usual
    range and a product stands on it: relit where a lamp or the exposure explains the
    difference, else with the surface around the product replaced."""
    lab = lab_image(photo)
    seen = border_colour(lab)
    if seen is None or backdrop.usual(seen):
        return photo
    gains = _gains(seen, backdrop.typical)
    if gains is not None:
        balanced = _apply(photo, gains)
        return balanced if _stands_on_backdrop(product_mask(lab_image(balanced))) else photo
    return _replaced(photo, backdrop_around(lab, seen, EVEN_DELTA_E), backdrop)


def _replaced(photo: Image.Image, surface: np.ndarray, backdrop: Backdrop) -> Image.Image:
    """`photo` with the `surface` pixels (a mask at the analysed size) painted the catalogue's
    backdrop colour, blended at the edge; as it is where no product stands apart."""
    if not _stands_on_backdrop(~surface):
        return photo
    mask = Image.fromarray(surface.astype(np.uint8) * 255, "L").resize(photo.size, Image.Resampling.BILINEAR)
    colour = np.clip(_rgb(backdrop.typical) * 255 + 0.5, 0, 255)
    return Image.composite(Image.new("RGB", photo.size, tuple(int(c) for c in colour)), photo, mask)


def _stands_on_backdrop(mask: np.ndarray | None) -> bool:
    """Whether a product stands apart from the backdrop (`mask`: its pixels): not only a seam or
    a print on a product that fills the frame (whose colour is then no backdrop to match)."""
    box = None if mask is None else bounding_box(mask)
    if box is None:
        return False
    left, top, right, bottom = box
    return bottom - top >= MIN_SPAN * mask.shape[0] and right - left >= MIN_SPAN * mask.shape[1]
