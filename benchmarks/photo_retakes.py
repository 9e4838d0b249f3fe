"""Catalogue photos re-taken as shoppers take them: how often the uploaded photo is read as its
product's article type, colour and gender, on the catalogue's backdrop and framed as the
catalogue shows its products (`retrieval.backdrop`, `retrieval.framing`), framed only, and read
as it is.

    python -m benchmarks.photo_retakes --catalog DIR --encoder SPEC --gallery IDS.txt \
        [--index-dir DIR] [--offset 0] [--n 300] [--json]

Each gallery photo is shown as it is and re-taken: framed otherwise (on a 4:3 landscape, on a
square, with wide margins, cropped to the product's edges, on a 9:16 phone portrait, at half
size in a corner or centred), as phones and cut-out tools save it (stored sideways with an EXIF orientation
tag, on transparency), and lit otherwise (under a warm lamp, in blue shade, dim, a lamp on one
side, a noisy dim JPEG) or laid on another surface (a beige table, a mid-grey table, a light
grey table, a pale blue sheet, a wooden floor, a black table). The product's own record never
helps: it is kept out of the neighbours' vote. Use development items (never the test split) to
choose anything.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from retrieval.catalog import read_ids
from retrieval.photo import load_rgb
from retrieval.retriever import Retriever, open_retriever

COLUMNS = ("articleType", "baseColour", "gender")
TABLE = (246, 246, 246)  # a light table or wall: what re-takes are pasted onto
# Linear-light gains of each channel: what a lamp or the shade does to a white backdrop.
WARM, SHADE, DIM = (1.0, 0.85, 0.62), (0.78, 0.9, 1.0), (0.4, 0.4, 0.4)
SURFACES = {"on a beige table": (225, 205, 170), "on a mid-grey table": (150, 150, 150),
            "on a light grey table": (205, 205, 205), "on a pale blue sheet": (200, 215, 235),
            "on a wooden floor": (150, 100, 60), "on a black table": (30, 30, 30)}


def _on(photo: Image.Image, size: tuple[int, int], at: tuple[int, int] | None = None) -> Image.Image:
    canvas = Image.new("RGB", size, TABLE)
    canvas.paste(photo, at or ((size[0] - photo.width) // 2, (size[1] - photo.height) // 2))
    return canvas


def _tight(photo: Image.Image) -> Image.Image:
    rows, cols = np.nonzero(np.asarray(photo).min(axis=2) < 235)
    return photo.crop((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)) if len(rows) else photo


def stored_sideways(photo: Image.Image, target: Path | BinaryIO) -> Path | BinaryIO:
    """`photo` saved to `target` as a phone saves a portrait: pixels turned a quarter left, the
    EXIF orientation tag saying "rotate 90 degrees clockwise to display"."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(target, "JPEG", exif=exif.tobytes(), quality=92)
    return target


def cut_out(photo: Image.Image, target: Path | BinaryIO) -> Path | BinaryIO:
    """`photo` saved to `target` with everything near white transparent (and black underneath),
    as cut-out tools save it."""
    rgb = np.asarray(photo.convert("RGB"))
    clear = rgb.min(axis=2) > 235
    rgba = np.dstack([np.where(clear[..., None], 0, rgb), np.where(clear, 0, 255)]).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(target, "PNG")
    return target


def _saved(photo: Image.Image, save: Callable[[Image.Image, BinaryIO], object]) -> Image.Image:
    """`photo` written by `save` (`stored_sideways`, `cut_out`) and read back as an upload is."""
    buffer = io.BytesIO()
    save(photo, buffer)
    buffer.seek(0)
    return load_rgb(buffer)


def lit(photo: Image.Image, gains: tuple[float, float, float], far: float = 1.0) -> Image.Image:
    """`photo` under a light of these channel gains, fading to `far` of it across the photo (a lamp
    on one side), computed in linear light as a camera sees it."""
    linear = (np.asarray(photo, dtype=np.float32) / 255.0) ** 2.2
    fade = np.linspace(1.0, far, linear.shape[1], dtype=np.float32)[None, :, None]
    linear = np.clip(linear * np.asarray(gains, dtype=np.float32) * fade, 0.0, 1.0)
    return Image.fromarray((linear ** (1 / 2.2) * 255 + 0.5).astype(np.uint8))


def _noisy_jpeg(photo: Image.Image, seed: int = 0) -> Image.Image:
    """`photo` with a phone sensor's noise in the dark, saved as a JPEG of middling quality."""
    noisy = np.asarray(photo, dtype=np.float32) + np.random.default_rng(seed).normal(0, 6, (photo.height, photo.width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=70)
    buffer.seek(0)
    return load_rgb(buffer)


def on_surface(photo: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The product laid on a surface of `colour` instead of the studio's white."""
    rgb = np.asarray(photo)
    return Image.fromarray(np.where((rgb.min(axis=2) > 235)[..., None], np.uint8(colour), rgb).astype(np.uint8))


def retakes(photo: Image.Image) -> dict[str, Image.Image]:
    w, h = photo.size
    makers: dict[str, Callable[[], Image.Image]] = {
        "as it is": lambda: photo,
        "on a 4:3 landscape": lambda: _on(photo, (round(h * 4 / 3), h)),
        "on a square": lambda: _on(photo, (h, h)),
        "with wide margins": lambda: _on(photo, (round(2 * h * 4 / 3), 3 * h // 2)),
        "cropped to its edges": lambda: _tight(photo),
        "on a 9:16 phone portrait": lambda: _on(photo, (h * 9 // 16 * 2, h * 2) if w > h * 9 // 16 else (w, w * 16 // 9)),
        "half size in a corner": lambda: _on(photo.resize((w // 2, h // 2)), (round(h * 4 / 3), round(h * 5 / 3)), (w // 10, h)),
        "half size, centred": lambda: _on(photo.resize((w // 2, h // 2)), (w, h)),
        "sideways with an EXIF tag": lambda: _saved(photo, stored_sideways),
        "a cut-out on transparency": lambda: _saved(photo, cut_out),
        "under a warm lamp": lambda: lit(photo, WARM),
        "in blue shade": lambda: lit(photo, SHADE),
        "dim": lambda: lit(photo, DIM),
        "a warm lamp on one side": lambda: lit(photo, WARM, far=0.55),
        "dim, noisy JPEG": lambda: _noisy_jpeg(lit(photo, DIM)),
        **{name: (lambda colour=colour: on_surface(photo, colour)) for name, colour in SURFACES.items()},
    }
    return {name: make() for name, make in makers.items()}


def accuracy(retriever: Retriever, ids: list[str]) -> dict[str, dict[str, float]]:
    right: dict[str, dict[str, int]] = {}
    for pid in ids:
        truth = retriever.catalog.attributes(pid)
        for name, photo in retakes(load_rgb(retriever.catalog.image_path(pid))).items():
            read = retriever.reference_from_image(photo, exclude_ids=[pid])
            counts = right.setdefault(name, dict.fromkeys(COLUMNS, 0))
            for column in COLUMNS:
                counts[column] += read.ranked[column][0][0] == truth[column]
    return {name: {c: round(100 * n / len(ids), 1) for c, n in counts.items()} for name, counts in right.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", required=True)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    retriever = open_retriever(args.catalog, args.encoder, args.gallery, index_dir=args.index_dir)
    ids = read_ids(args.gallery)[args.offset:args.offset + args.n]
    heads = retriever.heads
    preparations = {"backdrop_and_framing": heads, "framed": replace(heads, backdrop=None),
                    "as_they_are": replace(heads, backdrop=None, framing=None)}
    report: dict = {"photos": len(ids)}
    for name, prepared in preparations.items():
        retriever.use_heads(prepared)
        report[name] = accuracy(retriever, ids)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{len(ids)} photos: article type / colour / gender read right, " + " | ".join(preparations))
        for retake in report["as_they_are"]:
            print(f"  {retake:28s} " + "  |  ".join(" / ".join(f"{report[p][retake][c]:.1f}" for c in COLUMNS)
                                                   for p in preparations))
    return report


if __name__ == "__main__":
    main()
