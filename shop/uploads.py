"""Check a shopper's photo at the boundary, before any model sees it.

A huge or broken file must become a friendly chat message, not a traceback or an
out-of-memory kill, so size and pixel count are checked before decoding the pixels
(PIL reads the header first), and every failure raises UploadError with a message that
tells the shopper what to do.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000


class UploadError(ValueError):
    """The photo cannot be used; the message is meant for the shopper."""


def load_upload(source: str | Path | Image.Image) -> Image.Image:
    """An RGB image from an uploaded file (or an image already decoded by the UI)."""
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height)
        return source.convert("RGB")
    path = Path(source)
    if not path.is_file():
        raise UploadError("I couldn't find the uploaded file. Please attach the photo again.")
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise UploadError(f"That file is over {MAX_UPLOAD_BYTES // 2**20} MB. Please upload a smaller photo (JPEG or PNG).")
    try:
        with Image.open(path) as image:
            _check_pixels(image.width, image.height)
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise UploadError("That file isn't a photo I can read. Please upload a JPEG, PNG or WebP image.") from err
    except OSError as err:  # truncated or corrupt image data
        raise UploadError("That photo seems to be damaged. Please try another file.") from err


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_UPLOAD_PIXELS:
        raise UploadError(
            f"That photo is {width}x{height} pixels; the limit is {MAX_UPLOAD_PIXELS // 1_000_000} megapixels. Please resize it."
        )
    if min(width, height) < 8:
        raise UploadError("That image is too small to see a product. Please upload a real photo.")
