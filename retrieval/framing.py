"""Uploaded photos framed as the catalogue frames its products.

An image encoder learns products at the scale and place the catalogue shows them: centred, in
the catalogue's aspect ratio, spanning most of the frame. A shopper's photo is framed any way:
a shoe small on a wide table, a dress cropped to its edges, a bag in a corner. Read as it is,
the encoder sees a different picture: on development photos the article type read right fell
from 93% to 10% when the product took half the frame (benchmarks/README_photos.md). So a photo
whose product sits outside the catalogue's usual framing is cropped or padded (with its own
backdrop's colour) to the catalogue's aspect ratio, the product centred at its usual span.

The framing is learned from the catalogue's own photos (their product masks, read with the
attribute heads), so it suits any catalogue; a photo with no light backdrop, whose product
cannot be told apart, is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from retrieval.colour import ProductPixels, lab_image, product_mask

USUAL = (0.1, 99.9)  # percentiles of the catalogue's photos that bound the usual framing: all but its oddest few
SMALL = 5.0  # a product filling less of the frame than this percentile of the catalogue's is small
ASPECT_TOLERANCE = 1.05  # a photo's aspect ratio this close to the usual range counts as usual
MIN_PHOTOS = 20  # fewer catalogue photos with a product mask: no framing learned
# A product this small a share of an upload is still framed: a shoe photographed from standing
# height covers 1-2% of a phone photo, too few pixels to read its colours from but not to find it.
MIN_FRAMED_SHARE = 0.002


@dataclass(frozen=True)
class Placement:
    """Where a product sits in its photo: the photo's aspect ratio (width / height), the share
    of the photo's height the product spans when its height binds (taller than the photo's
    shape) and of its width when its width binds, and its centre (0..1 of each side)."""

    aspect: float
    height_fill: float  # nan where the width binds
    width_fill: float  # nan where the height binds
    centre_x: float
    centre_y: float


@dataclass(frozen=True)
class Framing:
    """The catalogue's usual framing: the medians of its photos' placements, their usual
    ranges (`USUAL` percentiles) and the fills below which a product is small (`SMALL`
    percentile). A tall product (a dress on a model) fills more of the height than a wide one
    (a shoe) fills of the width, so each is learned apart."""

    typical: Placement
    low: Placement
    high: Placement
    small: Placement

    def usual(self, placed: Placement) -> bool:
        """Whether every measure of `placed` lies within the catalogue's usual range."""
        low, high = asdict(self.low), asdict(self.high)
        low["aspect"] /= ASPECT_TOLERANCE
        high["aspect"] *= ASPECT_TOLERANCE
        return all(np.isnan(value) or low[name] <= value <= high[name] for name, value in asdict(placed).items())

    def is_small(self, placed: Placement) -> bool:
        """Whether the product fills less of the frame than nearly all of the catalogue's do."""
        return bool(placed.height_fill < self.small.height_fill or placed.width_fill < self.small.width_fill)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {name: asdict(getattr(self, name)) for name in ("typical", "low", "high", "small")}

    @classmethod
    def from_dict(cls, saved: dict[str, dict[str, float]]) -> Framing:
        return cls(*(Placement(**saved[name]) for name in ("typical", "low", "high", "small")))


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the True pixels of `mask`, None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return None if len(rows) == 0 else (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def placement(mask: np.ndarray) -> Placement | None:
    """The placement of the product in `mask` ((h, w) bool), None when it is empty."""
    box = bounding_box(mask)
    if box is None:
        return None
    height, width = mask.shape
    left, top, right, bottom = box
    tall = (bottom - top) / height >= (right - left) / width
    return Placement(width / height, (bottom - top) / height if tall else np.nan,
                     np.nan if tall else (right - left) / width, (left + right) / 2 / width, (top + bottom) / 2 / height)


def learn_framing(products: Sequence[ProductPixels | None]) -> Framing | None:
    """The usual framing of the catalogue photos whose product was told apart; None with too few."""
    placed = [p for p in (placement(product.mask) for product in products if product is not None) if p is not None]
    if len(placed) < MIN_PHOTOS:
        return None
    table = np.array([list(asdict(p).values()) for p in placed])
    table[:, np.isnan(table).all(axis=0)] = 1.0  # every product tall (or every one wide): that fill stays unknown
    low, typical, high, small = (Placement(*np.nanpercentile(table, q, axis=0).tolist())
                                 for q in (USUAL[0], 50.0, USUAL[1], SMALL))
    return Framing(typical, low, high, small)


def framed_views(photo: Image.Image, framing: Framing) -> list[Image.Image]:
    """How `photo` (RGB) is to be read: re-framed to the catalogue's typical framing (its aspect
    ratio, the product centred and filling its typical share) where its product sits outside
    the usual range; as it is and so re-framed where the product is small but within the range;
    else as it is (also where no product is told apart)."""
    mask = product_mask(lab_image(photo), min_share=MIN_FRAMED_SHARE)
    placed = None if mask is None else placement(mask)
    if placed is None:
        return [photo]
    if not framing.usual(placed):
        return [_reframed(photo, mask, framing)]
    return [photo, _reframed(photo, mask, framing)] if framing.is_small(placed) else [photo]


def _reframed(photo: Image.Image, mask: np.ndarray, framing: Framing) -> Image.Image:
    """`photo` cropped or padded (with its own backdrop) so that the product in `mask` (at the
    analysed size) sits as the catalogue's typical product does."""
    scale_x, scale_y = photo.width / mask.shape[1], photo.height / mask.shape[0]
    left, top, right, bottom = bounding_box(mask)
    left, right, top, bottom = left * scale_x, right * scale_x, top * scale_y, bottom * scale_y
    aspect = framing.typical.aspect
    if (bottom - top) * aspect >= right - left:  # the product's height binds in the catalogue's shape
        height = (bottom - top) / framing.typical.height_fill
    else:
        height = (right - left) / framing.typical.width_fill / aspect
    width = height * aspect
    x0, y0 = round((left + right - width) / 2), round((top + bottom - height) / 2)
    return _crop_or_pad(photo, (x0, y0, x0 + round(width), y0 + round(height)), _backdrop_colour(photo))


def _backdrop_colour(photo: Image.Image) -> tuple[int, int, int]:
    """The median colour of the photo's outermost pixels: what padding should look like (read
    from four one-pixel strips, not the whole photo: a phone's photo has 12 million pixels)."""
    w, h = photo.size
    strips = (photo.crop(box) for box in ((0, 0, w, 1), (0, h - 1, w, h), (0, 0, 1, h), (w - 1, 0, w, h)))
    border = np.concatenate([np.asarray(strip).reshape(-1, 3) for strip in strips])
    return tuple(int(v) for v in np.median(border, axis=0))


def _crop_or_pad(photo: Image.Image, box: tuple[int, int, int, int], fill: tuple[int, int, int]) -> Image.Image:
    """The `box` of `photo`, with what lies outside the photo painted `fill`."""
    x0, y0, x1, y1 = box
    canvas = Image.new("RGB", (max(1, x1 - x0), max(1, y1 - y0)), fill)
    inside = (max(0, x0), max(0, y0), min(photo.width, x1), min(photo.height, y1))
    if inside[0] < inside[2] and inside[1] < inside[3]:
        canvas.paste(photo.crop(inside), (inside[0] - x0, inside[1] - y0))
    return canvas
