"""Check a shopper's photo at the boundary, before any model sees it.

A huge or broken file must become a friendly chat message, not a traceback or an
out-of-memory kill, so size and pixel count are checked before decoding the pixels
(PIL reads the header first), and every failure raises UploadError with a message that
tells the shopper what to do. `check_upload` is the cheap part (no pixels decoded): the app
runs it the moment a message is sent, so a refused photo never sends its text without it.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from retrieval.photo import as_shown, decode_small

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MIN_SIDE = 8
THUMBNAIL = (84, 112)  # twice the refining strip's 42x56 for sharp screens


class UploadError(ValueError):
    """The photo cannot be used; the message is meant for the shopper."""


def too_big(size_bytes: int, name: str = "") -> UploadError:
    """The refusal of a file over MAX_UPLOAD_BYTES (also for one the browser never sent)."""
    what = f"{name} is" if name else "That file is"
    return UploadError(f"{what} {size_bytes / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB. "
                       "Please attach a smaller photo (JPEG or PNG).")


def check_upload(path: str | Path) -> None:
    """Raise UploadError when the file is missing, too big, not an image or too many pixels;
    reads the header only."""
    with _opened(path):
        pass


def load_upload(source: str | Path | Image.Image) -> Image.Image:
    """The photo as the shopper sees it (upright, transparency on white: `retrieval.photo`), in
    RGB, from an uploaded file or an image already decoded by the UI."""
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height)
        return as_shown(source)
    with _opened(source) as image:
        decode_small(image)
        try:
            image.load()
        except OSError as err:  # truncated or corrupt image data
            raise UploadError("That photo seems to be damaged. Please try another file.") from err
        return as_shown(image)


def _opened(path: str | Path) -> Image.Image:
    """The image with its header read and checked (pixels not decoded yet)."""
    path = Path(path)
    if not path.is_file():
        raise UploadError("I couldn't find the uploaded file. Please attach the photo again.")
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise too_big(path.stat().st_size)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as err:  # PIL refuses to even open it: far over our limit
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        raise _too_many_pixels(int(pixels.group(1)) if pixels else None) from err
    except UnidentifiedImageError as err:
        raise UploadError("That file isn't a photo I can read. Please upload a JPEG, PNG or WebP image.") from err
    except OSError as err:
        raise UploadError("That photo seems to be damaged. Please try another file.") from err
    try:
        _check_pixels(image.width, image.height)
    except UploadError:
        image.close()
        raise
    return image


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_UPLOAD_PIXELS:
        raise _too_many_pixels(width * height, f"{width}x{height} pixels")
    if min(width, height) < MIN_SIDE:
        raise UploadError("That image is too small to see a product. Please upload a real photo.")


def _too_many_pixels(pixels: int | None, size: str = "") -> UploadError:
    megapixels = f"{pixels / 1e6:,.0f} megapixels" if pixels else "too many pixels"
    return UploadError(f"That photo is too large: {size or megapixels}; the limit is "
                       f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels. Please resize it.")


def thumbnail_url(image: Image.Image, size: tuple[int, int] = THUMBNAIL) -> str:
    """A small JPEG of the photo as a data URL: the page can show "refining: your photo"
    without the server handing out the upload's file path."""
    small = image.copy()
    small.thumbnail(size)
    jpeg = io.BytesIO()
    small.convert("RGB").save(jpeg, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.getvalue()).decode("ascii")
