"""The web app started inside the test process on a free port, for the API and browser tests.

The shared catalogue and stand-in encoder with a small gallery (the first few hundred test
ids) where ../shared exists, else the shipped sample catalogue and compact encoder (every
sample product); the rules rewriter: the same code path as `python app.py`. One server
serves every test module (models load once); it closes when the test process exits. Its
index is built under `$SHOP_INDEX_DIR` when set (reused by later runs), else in the test's
temp folder.
"""

from __future__ import annotations

import atexit
import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import COMPACT_ENCODER, REPO, SAMPLE_CATALOG, SHARED_CATALOG, SHARED_ENCODER

GALLERY_SIZE = 300
ON_SHARED = SHARED_CATALOG.exists() and SHARED_ENCODER.exists()
# What the served app searches: its catalogue folder and encoder.
APP_CATALOG = SHARED_CATALOG if ON_SHARED else SAMPLE_CATALOG
APP_ENCODER = SHARED_ENCODER if ON_SHARED else COMPACT_ENCODER


@dataclass(frozen=True)
class Upload:
    """A gallery photo to upload, the article type it shows, and what the app asks of it (if unsure)."""

    id: str
    kind: str
    question: str = ""


# A photo the app reads with confidence (a black men's t-shirt: its kind and gender become
# chips), and one whose kind it is unsure of, so it asks which of two, this one among them.
SURE_UPLOAD = Upload("1595", "Tshirts") if ON_SHARED else Upload("10074", "Tshirts")
UNSURE_UPLOAD = (Upload("10360", "Dresses", "Is this a dress or a kurta?") if ON_SHARED
                 else Upload("12831", "Tops", "Is this a top or a dress?"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_gallery(folder: Path, size: int = GALLERY_SIZE) -> Path:
    """IDS.txt of the served gallery (`gallery_ids`)."""
    path = folder / "gallery.txt"
    path.write_text("\n".join(gallery_ids(size)) + "\n")
    return path


def gallery_ids(size: int = GALLERY_SIZE) -> list[str]:
    """The first `size` held-back test ids (never seen by the stand-in encoder) on ../shared;
    every sample product otherwise."""
    if ON_SHARED:
        return (REPO / "eval" / "test_ids.txt").read_text().split()[:size]
    return [line.split(",", 1)[0] for line in (SAMPLE_CATALOG / "products.csv").read_text().splitlines()[1:]]


SERVED: dict[str, object] = {}  # url -> the gr.Blocks serving it


@functools.cache
def app_url(work: Path) -> str:
    """Start the app once per test process (files under `work`); its URL."""
    from app import launch
    from shop.loader import Loader
    from shop.settings import AppSettings

    work.mkdir(parents=True, exist_ok=True)
    index_dir = Path(os.environ["SHOP_INDEX_DIR"]) if os.environ.get("SHOP_INDEX_DIR") else work / "indexes"
    settings = AppSettings(catalog=str(APP_CATALOG), encoder=f"local-dir:{APP_ENCODER}", llm="rules",
                           gallery=write_gallery(work), index_dir=index_dir, host="127.0.0.1", port=free_port())
    loader = Loader(settings).start()
    assert loader.wait_until_ready(timeout=600), loader.error
    app = launch(loader, block=False)
    atexit.register(app.close)
    url = f"http://127.0.0.1:{settings.port}"
    SERVED[url] = app
    return url
