"""The product's own colours, read from its pixels.

An image encoder trained on a few thousand products confuses close colours (navy and blue,
grey and black) and is pulled by what surrounds the product. Catalogue photos show the
product on a light studio backdrop, so its pixels can be told apart: the backdrop is the
light region that touches the photo's border (a white shirt stays whole, since its shadows
and seams cut it off from the border). The product's pixels in CIELAB (a space where distance
is perceived difference) are counted against a palette of colours learned from the
catalogue's own photos (k-means), over the whole product and over its top, middle and bottom
thirds (a model's hair, a shirt, jeans). A classifier learned from the labelled products maps
those histograms to the catalogue's colour names (`retrieval.attribute_heads`).

A photo without a light backdrop (a street photo, a flat swatch) has no product pixels to
tell apart: the reading steps aside (`None`) rather than guess from the backdrop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.color import deltaE_cie76, rgb2lab
from skimage.measure import label

from retrieval.photo import ImageInput, load_rgb, within

logger = logging.getLogger(__name__)

SIDE = 96  # pixels on the longer side the photo is read at: colours, not details, are wanted
BORDER = 2  # pixels of the frame whose colour decides whether the backdrop is light
LIGHT_L = 65.0  # L* above which a backdrop counts as light (studio white and light grey)
BACKDROP_CHROMA = 15.0  # a backdrop is nearly grey: chroma (distance from grey in a*, b*) below this
LIGHT_BORDER_SHARE = 0.6  # the share of the frame that must be light backdrop
BACKDROP_DELTA_E = 8.0  # pixels this close to the backdrop's colour may be backdrop
MIN_PRODUCT_SHARE = 0.02  # fewer product pixels than this share of the photo: nothing to read
BANDS = 3  # horizontal thirds of the product, each with its own histogram
PALETTE_SIZE = 64


@dataclass(frozen=True)
class ProductPixels:
    """A photo in CIELAB and which of its pixels show the product."""

    lab: np.ndarray  # (h, w, 3) float32
    mask: np.ndarray  # (h, w) bool


def lab_image(image: ImageInput) -> np.ndarray:
    """(h, w, 3) CIELAB of the photo, shrunk to SIDE pixels on its longer side."""
    rgb = within(load_rgb(image), SIDE, resample=Image.Resampling.BOX)
    return rgb2lab(np.asarray(rgb, dtype=np.float32) / 255.0).astype(np.float32)


def _frame(height: int, width: int) -> np.ndarray:
    """(h, w) bool: the outer BORDER pixels."""
    frame = np.ones((height, width), dtype=bool)
    frame[BORDER:-BORDER, BORDER:-BORDER] = False
    return frame


def _has_inside(lab: np.ndarray) -> bool:
    """Whether the photo is large enough to have a border and something inside it."""
    return min(lab.shape[:2]) > 2 * BORDER + 2


def border_pixels(lab: np.ndarray) -> np.ndarray | None:
    """(n, 3) CIELAB of the photo's outer BORDER pixels; None for a photo too small to have an inside."""
    return lab[_frame(*lab.shape[:2])] if _has_inside(lab) else None


def product_mask(lab: np.ndarray, min_share: float = MIN_PRODUCT_SHARE) -> np.ndarray | None:
    """(h, w) bool of the product's pixels, or None when the photo has no light backdrop or the
    product covers less than `min_share` of it."""
    if not _has_inside(lab):
        return None
    frame = _frame(*lab.shape[:2])
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    light = (lab[..., 0] > LIGHT_L) & (chroma < BACKDROP_CHROMA)
    if light[frame].mean() < LIGHT_BORDER_SHARE:
        return None
    product = ~backdrop_around(lab, np.median(lab[frame & light], axis=0), BACKDROP_DELTA_E)
    return product if product.mean() >= min_share else None


def backdrop_around(lab: np.ndarray, colour: np.ndarray, delta_e: float) -> np.ndarray:
    """(h, w) bool: the pixels within `delta_e` of the backdrop's `colour` (3,) that reach the
    photo's border through such pixels; what they enclose is the product."""
    frame = _frame(*lab.shape[:2])
    near = deltaE_cie76(lab, colour[None, None, :]) < delta_e
    regions = label(near, connectivity=1)  # 0: not near the backdrop's colour
    return np.isin(regions, np.setdiff1d(np.unique(regions[frame & near]), [0]))


def read_product(image: ImageInput) -> ProductPixels | None:
    """The photo's product pixels, or None when they cannot be told from a light backdrop."""
    lab = lab_image(image)
    mask = product_mask(lab)
    return None if mask is None else ProductPixels(lab, mask)


@dataclass(frozen=True)
class Palette:
    """Colours learned from the catalogue's product pixels: the bins of the colour histograms."""

    centres: np.ndarray  # (p, 3) CIELAB

    def nearest(self, lab: np.ndarray) -> np.ndarray:
        """(...) index of the palette colour nearest to each (..., 3) CIELAB pixel."""
        flat = lab.reshape(-1, 3)
        d2 = (self.centres ** 2).sum(1)[None, :] - 2 * flat @ self.centres.T  # (n, p), + |x|^2 is constant per row
        return d2.argmin(1).reshape(lab.shape[:-1])

    def _histogram(self, bins: np.ndarray) -> np.ndarray:
        counts = np.bincount(bins, minlength=len(self.centres)).astype(np.float32)
        return counts / max(float(counts.sum()), 1.0)

    def features(self, product: ProductPixels) -> np.ndarray:
        """((1 + BANDS) p,) what the colour classifier reads: histograms of the whole product and
        of its horizontal thirds, square-rooted so a small accent counts but a large area leads."""
        bins = self.nearest(product.lab)
        rows = np.flatnonzero(product.mask.any(axis=1))
        edges = np.linspace(rows[0], rows[-1] + 1, BANDS + 1).round().astype(int)
        parts = [self._histogram(bins[product.mask])]
        for top, bottom in zip(edges[:-1], edges[1:]):
            parts.append(self._histogram(bins[top:bottom][product.mask[top:bottom]]))
        return np.sqrt(np.concatenate(parts))


def learn_palette(products: list[ProductPixels], size: int = PALETTE_SIZE, per_photo: int = 200, seed: int = 0) -> Palette:
    """k-means centres of product pixels sampled from the photos."""
    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(seed)
    samples = []
    for product in products:
        pixels = product.lab[product.mask]
        samples.append(pixels[rng.choice(len(pixels), min(per_photo, len(pixels)), replace=False)])
    pixels = np.concatenate(samples)
    kmeans = MiniBatchKMeans(n_clusters=min(size, len(pixels)), random_state=seed, n_init=3, batch_size=4096)
    return Palette(kmeans.fit(pixels).cluster_centers_.astype(np.float32))


def try_read_product(image: ImageInput) -> ProductPixels | None:
    """`read_product`, with an unreadable photo logged and read as "nothing to read"."""
    try:
        return read_product(image)
    except (OSError, ValueError) as err:
        logger.warning("Colour reading skipped %s: %s", image, err)
        return None
