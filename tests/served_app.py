"""The web app started inside the test process on a free port, for the API and browser tests.

The shared catalogue and stand-in encoder with a small gallery (the first few hundred test
ids) and the rules rewriter: the same code path as `python app.py`. One server serves every
test module (models load once); it closes when the test process exits. Its index is built
under `$SHOP_INDEX_DIR` when set (reused by later runs), else in the test's temp folder.
"""

from __future__ import annotations

import atexit
import functools
import os
import socket
from pathlib import Path

from tests.conftest import REPO, SHARED_CATALOG, SHARED_ENCODER

GALLERY_SIZE = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_gallery(folder: Path, size: int = GALLERY_SIZE) -> Path:
    """IDS.txt with the first `size` held-back test ids (never seen by the stand-in encoder)."""
    path = folder / "gallery.txt"
    path.write_text("\n".join(gallery_ids(size)) + "\n")
    return path


def gallery_ids(size: int = GALLERY_SIZE) -> list[str]:
    return (REPO / "eval" / "test_ids.txt").read_text().split()[:size]


@functools.cache
def app_url(work: Path) -> str:
    """Start the app once per test process (files under `work`); its URL."""
    from app import launch
    from shop.loader import Loader
    from shop.settings import AppSettings

    work.mkdir(parents=True, exist_ok=True)
    index_dir = Path(os.environ["SHOP_INDEX_DIR"]) if os.environ.get("SHOP_INDEX_DIR") else work / "indexes"
    settings = AppSettings(catalog=str(SHARED_CATALOG), encoder=f"local-dir:{SHARED_ENCODER}", llm="rules",
                           gallery=write_gallery(work), index_dir=index_dir, host="127.0.0.1", port=free_port())
    loader = Loader(settings).start()
    assert loader.wait_until_ready(timeout=600), loader.error
    atexit.register(launch(loader, block=False).close)
    return f"http://127.0.0.1:{settings.port}"
