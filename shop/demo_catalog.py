"""The demo catalogue: a public fashion catalogue fetched from the Hugging Face Hub once.

`python app.py` with no flags serves this. The Hub copy of the Kaggle "Fashion Product
Images (Small)" data is parquet shards with the photo bytes inline; it is written once into
the docs/design.md folder layout (products.csv + images/<id>.jpg) in the user's cache folder, so
everything downstream (catalogue checks, cached index) is the same as for any catalogue.
Only the first DEMO_ITEMS products are kept: a first index then builds in minutes on a CPU.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from PIL import Image

from retrieval.catalog import CatalogError

logger = logging.getLogger(__name__)

DEMO_DATASET = "ashraq/fashion-product-images-small"
DEMO_ITEMS = 3000
COLUMNS = ("id", "gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "usage",
           "productDisplayName")


def demo_catalog_dir() -> Path:
    """Where the demo catalogue is written: the user's cache folder, like the indexes."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "shopping-assistant" / "catalogs" / DEMO_DATASET.replace("/", "--")


def is_fetched(folder: Path) -> bool:
    return (folder / "products.csv").is_file()


def fetch_demo_catalog(folder: Path | None = None, limit: int = DEMO_ITEMS) -> Path:
    """The demo catalogue folder, downloaded and converted on first use (progress bars in the
    terminal come from huggingface_hub)."""
    folder = folder or demo_catalog_dir()
    if is_fetched(folder):
        return folder
    from huggingface_hub import snapshot_download

    snapshot = Path(snapshot_download(DEMO_DATASET, repo_type="dataset", allow_patterns=["*.parquet"]))
    write_catalog_folder(_parquet_rows(sorted(snapshot.rglob("*.parquet")), limit), folder)
    return folder


def _parquet_rows(shards: list[Path], limit: int) -> Iterable[Mapping]:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas reads parquet through it)
    except ImportError as err:
        raise CatalogError(f"The demo catalogue is parquet: `pip install pyarrow` to read it ({err}).") from err
    if not shards:
        raise CatalogError(f"The Hub dataset {DEMO_DATASET} has no parquet files")
    left = limit
    for shard in shards:
        table = pd.read_parquet(shard).head(left)
        yield from table.to_dict("records")
        left -= len(table)
        if left <= 0:
            return


def write_catalog_folder(rows: Iterable[Mapping], folder: Path) -> Path:
    """Write rows that carry their photo as bytes (`image`: bytes or {"bytes": ...}) as a
    catalogue folder. Written beside the target and renamed, so an interrupted download
    never leaves a half catalogue that later runs would take for a whole one."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "images").mkdir(parents=True)
    written = 0
    with open(partial / "products.csv", "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            product_id = str(row["id"])
            image = row["image"]["bytes"] if isinstance(row["image"], Mapping) else row["image"]
            Image.open(io.BytesIO(image)).convert("RGB").save(partial / "images" / f"{product_id}.jpg", quality=90)
            writer.writerow({**{c: _text(row.get(c)) for c in COLUMNS}, "id": product_id})
            written += 1
    if not written:
        raise CatalogError("The demo catalogue came with no products")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    logger.info("Wrote the demo catalogue (%d products) to %s", written, folder)
    return folder


def _text(value: object) -> str:
    """A cell as text; parquet's missing values (None, NaN) become empty cells."""
    return "" if value is None or value != value else str(value)
