"""Product vectors in a FAISS index, searchable by inner product with attribute filters.

Pure FAISS + numpy: no torch, no catalogue knowledge. A store holds one vector, one id and
one value per attribute column for each item. Filters and exclusions become a bitmap that
FAISS checks while it scans (`IDSelectorBitmap`), so a filter never removes hits after the
top k was taken; where an approximate index still finds fewer than k selected items, that
query is answered by exact search over the selected items.

Kinds: "flat" is exact (`IndexFlatIP`); "ivf" (`IndexIVFFlat`, spherical k-means lists)
and "hnsw" (`IndexHNSWFlat`) are approximate; "auto" is flat up to `AUTO_FLAT_MAX` items
and ivf above: at 1M x 512 IVF builds with 2.5x less CPU than HNSW, keeps exact scores
and reaches recall@10 0.9995 where HNSW reaches 0.95. `benchmarks/bench_index.py`
measures the settings below; benchmarks/README_index.md has the figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: a sha256 of every file in the manifest, checked on load
KINDS = ("auto", "flat", "ivf", "hnsw")
AUTO_FLAT_MAX = 100_000  # exact search of 100k x 512 takes 10-15 ms of CPU a query
EXACT_SUBSET_MAX = 2_000  # filters keeping fewer items are searched exactly with numpy (< 1 ms; at 5k the gather costs more than IVF)
IVF_LISTS_PER_SQRT_N = 4  # nlist = 4 sqrt(n), the low end of FAISS's 4..16 sqrt(n): fewer, larger lists favour recall
IVF_MIN_TRAIN_PER_LIST = 39  # FAISS warns when k-means gets fewer points per centroid
IVF_TRAIN_PER_LIST = 64  # k-means on a subsample (256k at 1M): the whole 1M x 512 build takes ~160 s of CPU
IVF_TRAIN_ITERATIONS = 10
IVF_NPROBE = 64  # lists scanned per unfiltered query: recall@10 0.999 at 1M in the benchmark, ~2 ms; 32 gives 0.99
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
SEED = 1234  # training subsample and k-means, so a rebuild gives the same index

MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
IDS = "ids.json"
ATTRIBUTE_VALUES = "attributes.json"
ATTRIBUTE_CODES = "attribute_codes.npy"
INDEX = "index.faiss"
OWN_KEY = "vector_store"  # the store's own entry in manifest.json, next to the caller's keys


class VectorStoreError(RuntimeError):
    """A saved store cannot be used (missing, corrupt, other format version): rebuild it."""


@dataclass(frozen=True)
class SearchHit:
    id: str
    score: float  # inner product (cosine for normalised vectors)


@dataclass(frozen=True)
class _Column:
    """One attribute column, dictionary-encoded so a filter is a few integer comparisons."""

    values: tuple[str, ...]  # distinct values as given, first seen first
    codes: np.ndarray  # (n,) int32 index into values

    @cached_property
    def _codes_by_folded_value(self) -> dict[str, list[int]]:
        """Case-folded value -> its codes ("Red" and "red" are two values of one colour).

        Built on the first filter on this column: a free-text column such as a title has
        as many values as items and is rarely filtered on.
        """
        codes: dict[str, list[int]] = {}
        for code, value in enumerate(self.values):
            codes.setdefault(value.casefold(), []).append(code)
        return codes

    def matches(self, allowed: Collection[str]) -> np.ndarray:
        """(n,) bool: items whose value is one of `allowed`, ignoring case (one pass over the
        items however many values are allowed: a price range allows hundreds)."""
        codes = [code for value in set(_as_values(allowed)) for code in self._codes_by_folded_value.get(value.casefold(), ())]
        return np.isin(self.codes, np.asarray(codes, dtype=self.codes.dtype))


class VectorStore:
    """Product vectors + ids + per-item attribute values, searchable with filters.

    A float32 C-ordered `vectors` array is kept as is, not copied (2 GB at 1M x 512): do not
    modify it afterwards. `vector()` hands out copies.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        ids: Sequence[str],
        attributes: Mapping[str, Sequence[str]] | None = None,
        kind: str = "auto",
    ) -> None:
        vectors = _check_vectors(vectors)
        ids = _check_ids(ids, len(vectors))
        columns = {name: _encode_column(name, values, len(vectors)) for name, values in (attributes or {}).items()}
        kind = _resolve_kind(kind, len(vectors))
        self._assemble(vectors, ids, columns, kind, _build_index(vectors, kind))

    def _assemble(self, vectors: np.ndarray, ids: list[str], columns: dict[str, _Column], kind: str, index: faiss.Index) -> None:
        self._vectors = vectors  # (n, d) float32, row i is ids[i] and FAISS id i
        self.ids = ids
        self._rows = {id_: row for row, id_ in enumerate(ids)}
        self._columns = columns
        self.kind = kind
        self.dim = vectors.shape[1]
        self._index = index

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"VectorStore(kind={self.kind!r}, items={len(self)}, dim={self.dim}, attributes={list(self._columns)})"

    @property
    def columns(self) -> tuple[str, ...]:
        """The attribute columns a filter may name."""
        return tuple(self._columns)

    def vector(self, id: str) -> np.ndarray:
        """(d,) float32 copy of the item's vector."""
        return self._vectors[self._row(id)].copy()

    def attributes_of(self, id: str) -> dict[str, str]:
        row = self._row(id)
        return {name: column.values[column.codes[row]] for name, column in self._columns.items()}

    def search(
        self,
        queries: np.ndarray,
        k: int,
        exclude_ids: Iterable[str] = (),
        filters: Mapping[str, Collection[str]] | None = None,
    ) -> list[list[SearchHit]]:
        """Top k by inner product for each query row, best first.

        `filters` maps a column to its allowed values: AND across columns, OR within one,
        case-insensitive; a bare string counts as one value, and so does a bare string in
        `exclude_ids`. Each list holds exactly min(k, items passing the filters and not
        excluded) hits, whatever fraction the filters remove.
        """
        queries = self._check_queries(queries)  # (q, d)
        mask = self._selection(exclude_ids, filters)  # (n,) bool, None = every item
        return self._hits(*self._top(queries, checked_k(k), mask))

    def search_each(self, requests: Sequence[SearchRequest]) -> list[list[SearchHit] | ValueError]:
        """Several searches at once, each with its own query, k, exclusions and filters (as
        `search`), e.g. concurrent shoppers'. A flat store scores every query that scans it
        in one matrix product: a flat search costs reading all the vectors, and this reads
        them once for the batch. An approximate index searches each with its own selector.
        An invalid request gets its ValueError in its place; the others are answered."""
        results: list[list[SearchHit] | ValueError | None] = [None] * len(requests)
        scans: list[tuple[int, np.ndarray, int, np.ndarray | None]] = []  # (place, query, k, mask)
        for place, request in enumerate(requests):
            try:
                query = self._check_queries(request.query)
                if len(query) != 1:
                    raise ValueError(f"a search request holds one query vector, got {len(query)}")
                k, mask = checked_k(request.k), self._selection(request.exclude_ids, request.filters)
            except ValueError as err:
                results[place] = err
                continue
            selected = len(self) if mask is None else int(np.count_nonzero(mask))
            if self.kind == "flat" and selected > EXACT_SUBSET_MAX:
                scans.append((place, query[0], min(k, selected), mask))
            else:
                results[place] = self._hits(*self._top(query, k, mask))[0]
        if scans:
            scores = np.stack([query for _, query, _, _ in scans]) @ self._vectors.T  # (s, n): one read of the vectors
            for row_scores, (place, _, k, mask) in zip(scores, scans):
                if mask is not None:
                    row_scores[~mask] = -np.inf
                results[place] = self._hits(*_top_k(row_scores[None], k))[0]
        return results  # type: ignore[return-value]  # every place is filled

    def _top(self, queries: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows, (q, min(k, selected)) each, of the top items among `mask`."""
        selected = len(self) if mask is None else int(np.count_nonzero(mask))
        k = min(k, selected)
        if k == 0:
            return np.zeros((len(queries), 0), dtype=np.float32), np.zeros((len(queries), 0), dtype=np.int64)
        if mask is not None and selected <= EXACT_SUBSET_MAX:
            return self._exact_search(queries, k, np.flatnonzero(mask))
        return self._index_search(queries, k, mask, selected)

    def _hits(self, scores: np.ndarray, rows: np.ndarray) -> list[list[SearchHit]]:
        return [
            [SearchHit(self.ids[row], float(score)) for score, row in zip(score_row, id_row)]
            for score_row, id_row in zip(scores, rows)
        ]

    def save(self, folder: Path, manifest: Mapping[str, object]) -> None:
        """Write the store to `folder`; `manifest` (JSON-able) is stored alongside and given back by `load`.

        manifest.json is written last, so an interrupted save leaves a folder that `load`
        refuses instead of a half-written store. It holds the sha256 of every file written,
        so a file changed afterwards (zeros written into the vectors, a truncated copy) is
        refused by `load` instead of serving wrong results.
        """
        if OWN_KEY in manifest:
            raise ValueError(f"manifest key {OWN_KEY!r} is reserved for the vector store itself")
        json.dumps(dict(manifest))  # fails on a non-JSON value before touching files
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)
        np.save(folder / VECTORS, self._vectors)
        (folder / IDS).write_text(json.dumps(self.ids))
        (folder / ATTRIBUTE_VALUES).write_text(json.dumps({name: c.values for name, c in self._columns.items()}))
        codes = np.stack([c.codes for c in self._columns.values()], axis=1) if self._columns else np.zeros((len(self), 0), np.int32)
        np.save(folder / ATTRIBUTE_CODES, codes)  # (n, columns) int32, columns in attributes.json order
        if self.kind != "flat":  # a flat index is just the vectors: rebuilt on load in a moment
            faiss.write_index(self._index, str(folder / INDEX))
        own = {"format_version": FORMAT_VERSION, "kind": self.kind, "dim": self.dim, "items": len(self),
               "checksums": {name: file_checksum(folder / name) for name in stored_files(self.kind)}}
        partial = folder / (MANIFEST + ".partial")
        partial.write_text(json.dumps({**manifest, OWN_KEY: own}, indent=2))
        os.replace(partial, folder / MANIFEST)
        logger.info("Saved %r to %s", self, folder)

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorStore, dict]:
        """The store saved in `folder` and the caller's manifest; VectorStoreError if it is unusable."""
        folder = Path(folder)
        manifest, own = _read_manifest(folder)
        if own.get("format_version") != FORMAT_VERSION:
            raise VectorStoreError(
                f"The vector store in {folder} has format version {own.get('format_version')!r}, "
                f"this code reads version {FORMAT_VERSION}: rebuild the index."
            )
        _verify_checksums(folder, own)
        try:
            store = cls.__new__(cls)
            store._assemble(*_read_parts(folder, own))
        except (OSError, EOFError, ValueError, TypeError, KeyError, RuntimeError) as err:
            raise VectorStoreError(f"The vector store in {folder} is corrupt ({err}): rebuild the index.") from err
        logger.info("Loaded %r from %s", store, folder)
        return store, manifest

    def _row(self, id: str) -> int:
        try:
            return self._rows[id]
        except KeyError:
            raise KeyError(f"unknown product id {id!r}: not among the {len(self)} items of this store") from None

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        return check_queries(queries, self.dim)

    def _selection(self, exclude_ids: Iterable[str], filters: Mapping[str, Collection[str]] | None) -> np.ndarray | None:
        """(n,) bool of the items a search may return, or None when that is every item."""
        mask = None
        for name, allowed in (filters or {}).items():
            if name not in self._columns:
                raise ValueError(f"unknown filter column {name!r}; this store has {sorted(self._columns) or 'no attribute columns'}")
            keep = self._columns[name].matches(allowed)
            mask = keep if mask is None else mask & keep
        excluded = [self._rows[i] for i in _as_values(exclude_ids) if i in self._rows]  # unknown ids cannot come back anyway
        if excluded:
            mask = np.ones(len(self), dtype=bool) if mask is None else mask
            mask[excluded] = False
        return mask

    def _index_search(self, queries: np.ndarray, k: int, mask: np.ndarray | None, selected: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS search restricted to `mask`; rows an approximate index leaves short of k are redone exactly."""
        scores, rows = self._index.search(queries, k, params=self._search_params(k, mask, selected))  # (q, k) each
        short = (rows < 0).any(axis=1)
        if short.any():
            logger.debug("%d of %d queries found fewer than %d hits in the %s index: exact search", short.sum(), len(queries), k, self.kind)
            positions = None if mask is None else np.flatnonzero(mask)
            scores[short], rows[short] = self._exact_search(queries[short], k, positions)
        return scores, rows

    def _search_params(self, k: int, mask: np.ndarray | None, selected: int) -> faiss.SearchParameters | None:
        """The selector, and an effort scaled up by how much the filter removes.

        Under a filter keeping a fraction f of the items, the filtered top k lies deeper in
        the unfiltered ranking, so more lists (IVF) or candidates (HNSW) must be visited.
        Scaling by 1/f keeps the number of selected candidates constant but overshoots
        (recall 1.0 at ~10x the time for f = 3% at 1M); sqrt(1/f) keeps recall at its
        unfiltered level in the benchmark. Unselected items cost a bitmap lookup, not a distance.
        """
        extra = {} if mask is None else {"sel": faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))}
        boost = math.sqrt(len(self) / selected)
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(nprobe=min(self._index.nlist, math.ceil(IVF_NPROBE * boost)), **extra)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(k, math.ceil(HNSW_EF_SEARCH * boost)), **extra)
        return faiss.SearchParameters(**extra) if extra else None

    def _exact_search(self, queries: np.ndarray, k: int, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k among the rows `positions` (None: all; k <= their number): scores and rows, (q, k) each."""
        candidates = self._vectors if positions is None else self._vectors[positions]  # (m, d)
        scores, top = _top_k(queries @ candidates.T, k)  # (q, m) -> (q, k)
        return scores, (top if positions is None else positions[top])


@dataclass(frozen=True)
class SearchRequest:
    """One search of a batch (`VectorStore.search_each`): one query vector and its own limits."""

    query: np.ndarray  # (d,) or (1, d)
    k: int
    exclude_ids: Collection[str] = ()
    filters: Mapping[str, Collection[str]] | None = None


def checked_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best scores of each row, best first, and their columns: (q, k) each."""
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (q, k), unordered
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)


def check_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    """(q, dim) contiguous float32 queries from one vector or a batch; a clear error otherwise."""
    queries = np.asarray(queries)
    if queries.ndim not in (1, 2) or queries.shape[-1] != dim or not np.issubdtype(queries.dtype, np.floating):
        raise ValueError(f"queries must be float ({dim},) or (q, {dim}), got {queries.dtype} {queries.shape}")
    if not np.isfinite(queries).all():
        raise ValueError("queries must be finite; got NaN or inf")
    return np.ascontiguousarray(queries.reshape(-1, dim), dtype=np.float32)


def _as_values(values: Iterable[str]) -> Iterable[str]:
    """A bare string is one value, not a sequence of characters."""
    return (values,) if isinstance(values, str) else values


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        got = f"{vectors.dtype} {vectors.shape}" if isinstance(vectors, np.ndarray) else type(vectors).__name__
        raise ValueError(f"vectors must be a float32 array of shape (n, d), got {got}")
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"vectors must hold at least one item of at least one dimension, got shape {vectors.shape}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(vectors.sum(axis=1, dtype=np.float64)))  # NaN and inf survive a sum; no (n, d) temporary
    if len(bad):
        raise ValueError(f"vectors must be finite; rows {bad[:5].tolist()} hold NaN or inf")
    return vectors


def _check_ids(ids: Sequence[str], n: int) -> list[str]:
    ids = list(ids)
    if len(ids) != n:
        raise ValueError(f"expected one id per vector ({n}), got {len(ids)} ids")
    not_str = [i for i in ids if not isinstance(i, str)]
    if not_str:
        raise ValueError(f"ids must be strings, got {not_str[:3]!r}")
    if len(set(ids)) != n:
        seen: set[str] = set()
        duplicates = sorted({i for i in ids if i in seen or seen.add(i)})
        raise ValueError(f"ids must be unique; duplicated: {duplicates[:5]}")
    return ids


def _encode_column(name: str, values: Sequence[str], n: int) -> _Column:
    values = list(values)
    if len(values) != n:
        raise ValueError(f"attribute {name!r} must give one value per item ({n}), got {len(values)}")
    not_str = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
    if not_str is not None:
        raise ValueError(f"attribute {name!r} values must be strings; item {not_str} has {values[not_str]!r}")
    codebook: dict[str, int] = {}
    codes = np.fromiter((codebook.setdefault(v, len(codebook)) for v in values), dtype=np.int32, count=n)
    return _Column(tuple(codebook), codes)


def _resolve_kind(kind: str, n: int) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        return "flat" if n <= AUTO_FLAT_MAX else "ivf"
    return kind


def _build_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    n, d = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        index = _trained_ivf(vectors)
    else:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        logger.info("Building an HNSW index of %d x %d (M=%d)", n, d, HNSW_M)
    index.add(vectors)
    return index


def _trained_ivf(vectors: np.ndarray) -> faiss.IndexIVFFlat:
    """An empty IVF index whose lists come from spherical k-means on a subsample."""
    n, d = vectors.shape
    nlist = max(1, min(round(IVF_LISTS_PER_SQRT_N * math.sqrt(n)), n // IVF_MIN_TRAIN_PER_LIST))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # centroids on the sphere, like the normalised vectors they stand for
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.cp.seed = SEED
    sample = np.random.default_rng(SEED).choice(n, size=min(n, IVF_TRAIN_PER_LIST * nlist), replace=False)
    logger.info("Training an IVF index of %d x %d: %d lists, k-means on %d items", n, d, nlist, len(sample))
    index.train(vectors[np.sort(sample)])
    return index


def stored_files(kind: str) -> tuple[str, ...]:
    """The files `save` writes for a store of this kind, besides the manifest."""
    files = (VECTORS, IDS, ATTRIBUTE_VALUES, ATTRIBUTE_CODES)
    return files if kind == "flat" else (*files, INDEX)


def file_checksum(path: Path) -> str:
    """sha256 of a file, read in chunks (a 1M x 512 vectors file is 2 GB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def checksum_problems(folder: Path, kind: str, checksums: Mapping[str, str]) -> list[str]:
    """What is wrong with the files of a saved store, one sentence each; empty when none."""
    problems = []
    for name in stored_files(kind):
        path = folder / name
        if name not in checksums:
            problems.append(f"{name} has no checksum in {MANIFEST}")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        elif file_checksum(path) != checksums[name]:
            problems.append(f"{name} does not match the checksum written with it: the file changed after the index was saved")
    return problems


def _verify_checksums(folder: Path, own: dict) -> None:
    """VectorStoreError naming every file that is missing, unlisted or changed since `save`."""
    checksums = own.get("checksums")
    if not isinstance(checksums, dict):
        raise VectorStoreError(f"The manifest in {folder} lists no checksums of the index files: rebuild the index.")
    try:
        problems = checksum_problems(folder, str(own.get("kind")), checksums)
    except OSError as err:
        raise VectorStoreError(f"The vector store in {folder} is unreadable ({err}): rebuild the index.") from err
    if problems:
        raise VectorStoreError(f"The vector store in {folder} cannot be trusted ({'; '.join(problems)}): rebuild the index.")


def _read_manifest(folder: Path) -> tuple[dict, dict]:
    """The caller's manifest and the store's own entry."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        own = manifest.pop(OWN_KEY)
        if not isinstance(own, dict):
            raise TypeError(f"{OWN_KEY} is {type(own).__name__}, not an object")
    except FileNotFoundError:
        raise VectorStoreError(f"No vector store in {folder} (no {MANIFEST}): build the index first.") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise VectorStoreError(f"The manifest in {folder} is unreadable ({err!r}): rebuild the index.") from err
    return manifest, own


def _read_parts(folder: Path, own: dict) -> tuple[np.ndarray, list[str], dict[str, _Column], str, faiss.Index]:
    """What `_assemble` needs, read back and checked against each other and the manifest."""
    vectors = _check_vectors(np.load(folder / VECTORS, allow_pickle=False))
    if vectors.shape != (own["items"], own["dim"]):
        raise ValueError(f"{VECTORS} holds {vectors.shape}, the manifest says ({own['items']}, {own['dim']})")
    ids = _check_ids(json.loads((folder / IDS).read_text()), len(vectors))
    columns = _read_columns(folder, len(vectors))
    kind = own["kind"]
    if kind not in KINDS[1:]:
        raise ValueError(f"unknown index kind {kind!r} in the manifest")
    if kind == "flat":
        index = _build_index(vectors, kind)
    else:
        index = faiss.read_index(str(folder / INDEX))
        expected = faiss.IndexIVFFlat if kind == "ivf" else faiss.IndexHNSWFlat
        if not isinstance(index, expected) or (index.ntotal, index.d) != vectors.shape:
            raise ValueError(f"{INDEX} holds a {type(index).__name__} of {index.ntotal} x {index.d}, not a {kind} index of {vectors.shape}")
    return vectors, ids, columns, kind, index


def _read_columns(folder: Path, n: int) -> dict[str, _Column]:
    values = json.loads((folder / ATTRIBUTE_VALUES).read_text())
    codes = np.load(folder / ATTRIBUTE_CODES, allow_pickle=False)  # (n, columns)
    if codes.shape != (n, len(values)):
        raise ValueError(f"{ATTRIBUTE_CODES} holds {codes.shape}, expected ({n}, {len(values)})")
    columns = {}
    for j, (name, column_values) in enumerate(values.items()):
        column_codes = np.ascontiguousarray(codes[:, j], dtype=np.int32)
        if n and (column_codes.min() < 0 or column_codes.max() >= len(column_values)):
            raise ValueError(f"{ATTRIBUTE_CODES} refers to values of {name!r} that {ATTRIBUTE_VALUES} lacks")
        columns[name] = _Column(tuple(column_values), column_codes)
    return columns
