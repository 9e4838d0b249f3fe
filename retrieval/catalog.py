"""A product catalogue folder: `products.csv` plus one photo per product.

The layout is the contract in docs/design.md: an `id` column, the photo at `images/<id>.jpg`
unless an `image` column gives a relative path, every other column an attribute. Loading
checks the whole folder up front, because a missing photo found half-way through an
hour-long indexing run is far worse than finding it now: a product without its photo cannot
be searched, so it is left out with a warning that counts and names what was skipped (one
lost file must not keep a whole shop closed), and only a catalogue with no photo at all fails.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

TITLE_COLUMNS = ("title", "productDisplayName", "name")
# Columns with more distinct values than this are free text (titles, descriptions), not
# attributes that a shopper can set ("red", "for women") or that we can infer from a photo.
MAX_ATTRIBUTE_VALUES = 150
_SHOWN_OFFENDERS = 5


class CatalogError(ValueError):
    """The catalogue folder cannot be used as it is; the message says what to fix."""


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    image_path: Path
    attributes: Mapping[str, str]


def _numeric(values: pd.Series) -> bool:
    """Whether a column holds numbers (a price, a rating): every non-empty cell parses, and it
    has more than one value."""
    present = values[values.str.strip() != ""]
    return present.nunique() > 1 and pd.to_numeric(present, errors="coerce").notna().all()


def _offenders(values: Iterable[object]) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:_SHOWN_OFFENDERS])
    more = f" and {len(values) - _SHOWN_OFFENDERS} more" if len(values) > _SHOWN_OFFENDERS else ""
    return f"{len(values)} ({shown}{more})"


def _read_table(csv_path: Path) -> pd.DataFrame:
    if not csv_path.is_file():
        raise CatalogError(f"No catalogue table at {csv_path}: a catalogue folder needs products.csv")
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CatalogError(f"{csv_path} is not a readable CSV file: {err}") from err
    if "id" not in table.columns:
        raise CatalogError(f"{csv_path} has no 'id' column (columns: {', '.join(table.columns)})")
    if table.empty:
        raise CatalogError(f"{csv_path} has no products")
    table["id"] = table["id"].str.strip()
    return table


def _check_ids(table: pd.DataFrame, csv_path: Path) -> None:
    empty = table.index[table["id"] == ""]
    if len(empty):
        raise CatalogError(f"{csv_path}: rows with an empty id: {_offenders(empty + 2)} (line numbers)")
    duplicated = table["id"][table["id"].duplicated()].unique()
    if len(duplicated):
        raise CatalogError(f"{csv_path}: duplicate ids: {_offenders(duplicated)}")


def _image_paths(table: pd.DataFrame, root: Path) -> list[Path]:
    if "image" in table.columns:
        return [root / rel if rel else root / "images" / f"{pid}.jpg" for pid, rel in zip(table["id"], table["image"])]
    return [root / "images" / f"{pid}.jpg" for pid in table["id"]]


class Catalog:
    """The products of one catalogue folder, in file order, looked up by id."""

    def __init__(self, root: Path, table: pd.DataFrame, image_paths: Sequence[Path], skipped: Sequence[str] = ()):
        self.root = root
        self.skipped = tuple(skipped)  # ids left out: their photo is missing
        self._table = table.set_index("id", drop=False)
        self._image_paths = dict(zip(table["id"], image_paths))
        self.title_column = next((c for c in TITLE_COLUMNS if c in table.columns), None)
        excluded = {"id", "image", self.title_column}
        self.numeric_columns = [c for c in table.columns if c not in excluded and _numeric(table[c])]
        self.attribute_columns = [
            c for c in table.columns
            if c not in excluded and c not in self.numeric_columns and 1 < table[c].nunique() <= MAX_ATTRIBUTE_VALUES
        ]
        self.detail_columns = [c for c in table.columns if c not in ("id", "image")]

    @property
    def ids(self) -> list[str]:
        return list(self._table.index)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._image_paths

    def product(self, product_id: str) -> Product:
        if product_id not in self._image_paths:
            raise KeyError(f"No product with id {product_id!r} in the catalogue at {self.root}")
        row = self._table.loc[product_id]
        return Product(
            id=product_id,
            title=self.title(product_id),
            image_path=self._image_paths[product_id],
            attributes={c: row[c] for c in self.attribute_columns},
        )

    def title(self, product_id: str) -> str:
        if self.title_column is None:
            return product_id
        return self._table.at[product_id, self.title_column] or product_id

    def image_path(self, product_id: str) -> Path:
        return self._image_paths[product_id]

    def attributes(self, product_id: str) -> dict[str, str]:
        return dict(self.product(product_id).attributes)

    def details(self, product_id: str) -> dict[str, str]:
        """Everything the catalogue records of a product (title, attributes, numbers, free text):
        what a shopper's question about it is answered from."""
        row = self._table.loc[product_id]
        return {c: row[c] for c in self.detail_columns if row[c]}

    def numbers(self, name: str) -> dict[str, float]:
        """A numeric column's value by product id, where given."""
        return {pid: float(v) for pid, v in zip(self._table.index, self._table[name]) if v.strip()}

    def words(self) -> set[str]:
        """Every word of the titles and attribute values, lower-cased: the shop's own words
        ("kurta", brand names), which an English dictionary may lack."""
        columns = [c for c in (self.title_column, *self.attribute_columns) if c]
        text = " ".join(" ".join(self._table[c].unique()) for c in columns)
        return set(re.findall(r"[^\W\d_]+", text.casefold()))

    def column(self, name: str, ids: Sequence[str] | None = None) -> list[str]:
        """One attribute's value for every product (or for `ids`), in order."""
        values = self._table[name]
        return list(values if ids is None else values.loc[list(ids)])

    def vocabulary(self) -> dict[str, dict[str, int]]:
        """Each attribute column's values with their counts, most common first, blanks left out."""
        return {
            c: {v: n for v, n in Counter(self._table[c]).most_common() if v}
            for c in self.attribute_columns
        }

    def subset(self, ids: Sequence[str]) -> Catalog:
        """The same catalogue restricted to `ids` (a gallery), in the given order; ids skipped
        for a missing photo are left out (the loading warning counted them)."""
        skipped = set(self.skipped)
        missing = [i for i in ids if i not in self._image_paths and i not in skipped]
        if missing:
            raise CatalogError(f"ids not in the catalogue at {self.root}: {_offenders(missing)}")
        kept = [i for i in ids if i not in skipped]
        if not kept:
            raise CatalogError(f"none of the {len(ids)} gallery ids has a photo in {self.root}")
        table = self._table.loc[kept].reset_index(drop=True)
        return Catalog(self.root, table, [self._image_paths[i] for i in kept], [i for i in ids if i in skipped])

    def fingerprint(self) -> str:
        """Changes whenever a row or a photo file changes, so a cached index knows it is stale."""
        digest = hashlib.sha256()
        digest.update(pd.util.hash_pandas_object(self._table, index=False).values.tobytes())
        for path in self._image_paths.values():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()[:16]


def load_catalog(folder: str | Path, ids: Sequence[str] | None = None) -> Catalog:
    """Load and check a catalogue folder; `ids` restricts it to a gallery."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise CatalogError(f"Catalogue folder {root} does not exist")
    csv_path = root / "products.csv"
    table = _read_table(csv_path)
    _check_ids(table, csv_path)
    if ids is not None:
        unknown = sorted(set(ids) - set(table["id"]))
        if unknown:
            raise CatalogError(f"gallery ids not in {csv_path}: {_offenders(unknown)}")
        table = table.set_index("id", drop=False).loc[list(ids)].reset_index(drop=True)
    paths = _image_paths(table, root)
    present = [p.is_file() for p in paths]
    if not any(present):
        raise CatalogError(f"{root}: no product has its photo (e.g. {paths[0].relative_to(root)} is missing)")
    if all(present):
        return Catalog(root, table, paths)
    missing = [p.relative_to(root) for p, here in zip(paths, present) if not here]
    logger.warning("%s: skipped %d of %d products whose photo is missing: %s", root, len(missing), len(paths),
                   _offenders(missing))
    kept = table[present].reset_index(drop=True)
    return Catalog(root, kept, [p for p, here in zip(paths, present) if here],
                   [pid for pid, here in zip(table["id"], present) if not here])


def read_ids(path: str | Path) -> list[str]:
    """An IDS.txt file: one product id per line, blank lines ignored, duplicates refused."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"No id list at {path}")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise CatalogError(f"{path} lists no ids")
    duplicated = sorted({i for i, n in Counter(ids).items() if n > 1})
    if duplicated:
        raise CatalogError(f"{path}: duplicate ids: {_offenders(duplicated)}")
    return ids


def load_gallery(catalog_dir: str | Path, gallery: str | Path | None) -> Catalog:
    """The catalogue, restricted to the ids of a gallery file (IDS.txt) when one is given."""
    return load_catalog(catalog_dir, read_ids(gallery) if gallery else None)
