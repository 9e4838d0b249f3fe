"""A vector store split into shards held by Ray actors, searched by scatter-gather.

Past one machine's memory the catalogue is cut into N shards, each a `VectorStore` inside
its own actor, placed round robin over the cluster's nodes. A search goes to every shard with its
filters and exclusions; each answers its own top k, and the union of those holds the
global top k, so merging by score (inner product, highest first) is exact: the same ids
and scores as one store over everything, and still min(k, selected) hits under a filter.

Items go to shard crc32(id) mod N: any process can route `vector(id)` without a table,
and shards stay balanced whatever order the catalogue is in.

A shard that dies or does not answer within `timeout_s` is left out: the search returns
what the others found, logs a warning, and says so in `.coverage` on the returned lists
("searched 3 of 4 shards"), which survives `Retriever.search`'s `[0]`. Never a hang.
"""

from __future__ import annotations

import argparse
import logging
import threading
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.ray_cluster import import_ray, ray_session, start_or_join
from retrieval.vector_store import SearchHit, SearchRequest, VectorStore, _as_values, check_queries, checked_k

logger = logging.getLogger(__name__)

SEARCH_TIMEOUT_S = 10.0  # a healthy shard answers in milliseconds; past this it counts as failed
CHUNK_BYTES = 32 << 20  # vectors are shipped to the shards in pieces of this size ...
IN_FLIGHT_BYTES = 128 << 20  # ... with at most this much queued, below a 200 MB object store
SHARD_THREADS = 4  # concurrent searches per shard actor (FAISS releases the GIL)
ATTRIBUTE_CACHE_MAX = 100_000  # attributes of recent hits kept by the caller's process


@dataclass(frozen=True)
class Coverage:
    """How many shards answered a search, and why the others did not."""

    searched: int
    total: int
    failures: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return self.searched < self.total

    @property
    def message(self) -> str:
        """Empty when every shard answered, else a line a UI can show."""
        return f"searched {self.searched} of {self.total} shards" if self.partial else ""


class ShardedResults(list):
    """A list of hits (or of per-query hit lists) that also carries the search's `coverage`."""

    def __init__(self, items: Iterable, coverage: Coverage):
        super().__init__(items)
        self.coverage = coverage


class Shard:
    """One shard inside a Ray actor: filled in chunks, then built into a `VectorStore`."""

    def __init__(self, items: int, dim: int, columns: Mapping[str, Sequence[str]]):
        self._vectors = np.empty((items, dim), dtype=np.float32)
        self._codes = np.empty((items, len(columns)), dtype=np.int32)
        self._columns = {name: np.asarray(values, dtype=object) for name, values in columns.items()}
        self._ids: list[str | None] = [None] * items
        self._store: VectorStore | None = None

    def add(self, start: int, vectors: np.ndarray, ids: list[str], codes: np.ndarray) -> None:
        """Fill rows start.. (chunks may arrive in any order: the actor runs calls on several threads)."""
        self._vectors[start : start + len(ids)] = vectors
        self._codes[start : start + len(ids)] = codes
        self._ids[start : start + len(ids)] = ids

    def build(self, kind: str) -> dict[str, Any]:
        """Index what was added; returns where and how big this shard is."""
        missing = self._ids.count(None)
        if missing:
            raise ValueError(f"shard is missing {missing} of its {len(self._ids)} rows")
        attributes = {name: values[self._codes[:, j]].tolist() for j, (name, values) in enumerate(self._columns.items())}
        import faiss
        import ray

        del self._codes
        self._store = VectorStore(self._vectors, self._ids, attributes, kind=kind)
        return {"items": len(self._store), "kind": self._store.kind, "node": ray.get_runtime_context().get_node_id(),
                "threads": faiss.omp_get_max_threads(), "memory_mb": _private_memory_mb()}

    def search(self, queries: np.ndarray, k: int, exclude_ids: list[str], filters: dict[str, list[str]] | None
               ) -> tuple[np.ndarray, list[list[str]], dict[str, dict[str, str]]]:
        """Scores (q, k') and ids of this shard's top k' = min(k, selected here), plus the hits' attributes."""
        hits = self._store.search(queries, k, exclude_ids=exclude_ids, filters=filters)  # every row holds min(k, selected)
        scores = np.array([[h.score for h in row] for row in hits], dtype=np.float64).reshape(len(hits), len(hits[0]))
        ids = [[h.id for h in row] for row in hits]
        return scores, ids, {i: self._store.attributes_of(i) for row in ids for i in row}

    def vector(self, id: str) -> np.ndarray | None:
        try:
            return self._store.vector(id)
        except KeyError:
            return None

    def attributes_of(self, id: str) -> dict[str, str] | None:
        try:
            return self._store.attributes_of(id)
        except KeyError:
            return None

    def memory_mb(self) -> float | None:
        return _private_memory_mb()


def _private_memory_mb() -> float | None:
    """Anonymous resident memory of this process (what it does not share with the object store)."""
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith("RssAnon:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


class ShardUnavailableError(KeyError):
    """The shard holding an item did not answer. A KeyError, so callers that fall back for
    an unknown item (the retriever re-encodes the catalogue photo) also cope with this."""


def shard_of(id: str, shards: int) -> int:
    """The shard an item lives in: stable across processes and runs."""
    return zlib.crc32(id.encode()) % shards


class ShardedStore:
    """The `VectorStore` search interface over shards held by Ray actors.

    Offers what the retriever and attribute inference use: `search`, `vector`,
    `attributes_of`, `ids`, `dim`, `kind`, `len()`. Build it with `shard_store` or
    `shard_vectors`; `close()` ends the actors (they also end with this process).
    """

    def __init__(self, actors: list, ids: list[str], dim: int, kind: str, columns: Sequence[str],
                 shard_info: list[dict[str, Any]], timeout_s: float = SEARCH_TIMEOUT_S):
        self._actors = actors
        self.ids = ids
        self.dim = dim
        self.kind = kind
        self.columns = tuple(columns)
        self.shard_info = shard_info  # per shard: items, kind, node, FAISS threads, memory_mb after the build
        self.timeout_s = timeout_s
        self._attributes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"ShardedStore(kind={self.kind!r}, items={len(self)}, dim={self.dim}, shards={len(self._actors)})"

    @property
    def shards(self) -> int:
        return len(self._actors)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        exclude_ids: Iterable[str] = (),
        filters: Mapping[str, Collection[str]] | None = None,
    ) -> ShardedResults:
        """Top k by inner product for each query row, best first, as `VectorStore.search`;
        the outer list and each per-query list carry `.coverage`."""
        queries, k = self._check_queries(queries), checked_k(k)
        unknown = sorted(set(filters or {}) - set(self.columns))
        if unknown:
            raise ValueError(f"unknown filter column {unknown[0]!r}; this store has {sorted(self.columns) or 'no attribute columns'}")
        plain_filters = {name: list(_as_values(allowed)) for name, allowed in filters.items()} if filters else None
        refs = [actor.search.remote(queries, k, list(_as_values(exclude_ids)), plain_filters) for actor in self._live_actors()]
        answers, coverage = self._gather(refs)
        self._remember_attributes(answers)
        merged = [_merge([(a[0][q], a[1][q]) for a in answers], k) for q in range(len(queries))]
        return ShardedResults((ShardedResults(hits, coverage) for hits in merged), coverage)

    def search_each(self, requests: Sequence[SearchRequest]) -> list[list[SearchHit] | ValueError]:
        """Several searches, each with its own limits (`VectorStore.search_each`); each is its
        own round trip to the shards, whose search takes one filter for all its queries."""
        results: list[list[SearchHit] | ValueError] = []
        for request in requests:
            try:
                results.append(self.search(request.query, request.k, request.exclude_ids, request.filters)[0])
            except ValueError as err:
                results.append(err)
        return results

    def vector(self, id: str) -> np.ndarray:
        """(d,) float32 copy of the item's vector, from the shard that holds it."""
        return self._lookup("vector", id)

    def attributes_of(self, id: str) -> dict[str, str]:
        with self._lock:
            known = self._attributes.get(id)
        return dict(known) if known is not None else self._lookup("attributes_of", id)

    def memory_mb(self) -> list[float | None]:
        """Anonymous resident memory of each shard's process now (None where it did not answer)."""
        answers, _ = self._gather([actor.memory_mb.remote() for actor in self._live_actors()], keep_missing=True)
        return answers

    def close(self) -> None:
        """End the shard actors; the store cannot search afterwards."""
        ray = import_ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []

    def _lookup(self, method: str, id: str) -> Any:
        ray = import_ray()
        shard = shard_of(id, len(self._live_actors()))
        try:
            found = ray.get(getattr(self._actors[shard], method).remote(id), timeout=self.timeout_s)
        except ray.exceptions.RayError as err:
            logger.warning("Shard %d did not answer %s(%r): %s", shard, method, id, type(err).__name__)
            raise ShardUnavailableError(f"shard {shard} holding {id!r} is unavailable ({type(err).__name__})") from None
        if found is None:
            raise KeyError(f"unknown product id {id!r}: not among the {len(self)} items of this store")
        return found

    def _live_actors(self) -> list:
        if not self._actors:
            raise RuntimeError("This sharded store was closed: shard the index again (shard_store) to search it")
        return self._actors

    def _gather(self, refs: list, keep_missing: bool = False) -> tuple[list, Coverage]:
        """The answers of the shards that replied in time, and the coverage; failures are logged."""
        ray = import_ray()
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.timeout_s)
        ready = set(ready)
        answers, failures = [], []
        for shard, ref in enumerate(refs):
            answer = None
            if ref not in ready:
                failures.append(f"shard {shard}: no answer within {self.timeout_s:g} s")
            else:
                try:
                    answer = ray.get(ref)
                except ray.exceptions.RayError as err:
                    failures.append(f"shard {shard}: {type(err).__name__}")
            if answer is not None or keep_missing:
                answers.append(answer)
        coverage = Coverage(len(refs) - len(failures), len(refs), tuple(failures))
        if coverage.partial:
            logger.warning("Sharded search %s: %s", coverage.message, "; ".join(failures))
        return answers, coverage

    def _remember_attributes(self, answers: list) -> None:
        """Keep the hits' attributes, which attribute inference asks for right after a search."""
        with self._lock:
            if len(self._attributes) > ATTRIBUTE_CACHE_MAX:
                self._attributes.clear()
            for answer in answers:
                self._attributes.update(answer[2])

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        return check_queries(queries, self.dim)


def _merge(parts: list[tuple[np.ndarray, list[str]]], k: int) -> list[SearchHit]:
    """The best k of the shards' own top-k lists: exact, as each shard's list is its exact top k."""
    if not parts:
        return []
    scores = np.concatenate([s for s, _ in parts])
    ids = [i for _, shard_ids in parts for i in shard_ids]
    order = np.argsort(-scores, kind="stable")[:k]
    return [SearchHit(ids[j], float(scores[j])) for j in order]


BACKENDS = ("faiss", "ray")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """`--backend faiss|ray --shards N --ray-address local|ADDR`, as docs/design.md names them."""
    parser.add_argument("--backend", default="faiss", choices=BACKENDS,
                        help="faiss: the index in this process; ray: split into shards on a Ray cluster")
    parser.add_argument("--shards", type=int, help="with --backend ray: number of shards (default: one per node)")
    parser.add_argument("--ray-address", help="with --backend ray: 'local' starts a cluster on this machine (the default), "
                        "HOST:PORT joins a running one")


def serve_store(store: VectorStore, backend: str = "faiss", shards: int | None = None,
                ray_address: str | None = None) -> VectorStore | ShardedStore:
    """The store a retriever should search: `store` itself, or its shards on Ray.

    With `ray`, `ray_address` defaults to `local` unless this process is already connected,
    and `shards` to one per alive node.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "faiss":
        if shards is not None or ray_address is not None:
            raise ValueError("--shards and --ray-address apply to --backend ray; drop them or add --backend ray")
        return store
    ray = import_ray()
    if ray_address is None and not ray.is_initialized():
        ray_address = "local"
    if ray_address is not None:
        start_or_join(ray_address)
    shards = shards or sum(1 for node in ray.nodes() if node["Alive"])
    return shard_store(store, shards)


def shard_store(store: VectorStore, shards: int, ray_address: str | None = None, kind: str | None = None,
                timeout_s: float = SEARCH_TIMEOUT_S) -> ShardedStore:
    """Split an in-process store (e.g. the cached index) over `shards` actors.

    `ray_address` is as `--ray-address` (`local` or HOST:PORT); None uses the process's
    current Ray connection. Each shard builds the same `kind` of index as `store` unless
    told otherwise. Drop `store` afterwards: the shards hold their own copies.
    """
    # The store's arrays, read directly: going through vector()/attributes_of() costs ~1 s per 100k items.
    columns = {name: (column.values, column.codes) for name, column in store._columns.items()}
    return _distribute(store._vectors, store.ids, columns, shards, ray_address, kind or store.kind, timeout_s)


def shard_vectors(vectors: np.ndarray, ids: Sequence[str], attributes: Mapping[str, Sequence[str]] | None, shards: int,
                  ray_address: str | None = None, kind: str = "auto", timeout_s: float = SEARCH_TIMEOUT_S) -> ShardedStore:
    """A sharded store straight from arrays, as `VectorStore(vectors, ids, attributes, kind)`
    but without building the whole index in this process first."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(ids) != len(vectors):
        raise ValueError(f"expected (n, d) vectors and n ids, got {vectors.shape} and {len(ids)} ids")
    columns = {name: _dictionary(values, len(ids), name) for name, values in (attributes or {}).items()}
    return _distribute(vectors, list(ids), columns, shards, ray_address, kind, timeout_s)


def _dictionary(values: Sequence[str], n: int, name: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(distinct values, (n,) int32 codes): a column travels to the shards as small integers."""
    if len(values) != n:
        raise ValueError(f"attribute {name!r} must give one value per item ({n}), got {len(values)}")
    codebook: dict[str, int] = {}
    codes = np.fromiter((codebook.setdefault(v, len(codebook)) for v in values), dtype=np.int32, count=n)
    return tuple(codebook), codes


def _distribute(vectors: np.ndarray, ids: list[str], columns: Mapping[str, tuple[Sequence[str], np.ndarray]],
                shards: int, ray_address: str | None, kind: str, timeout_s: float) -> ShardedStore:
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= len(ids):
        raise ValueError(f"shards must be an integer from 1 to the number of items ({len(ids)}), got {shards!r}")
    if ray_address is not None:
        start_or_join(ray_address)
    with ray_session(None):
        ray = import_ray()
        owner = np.fromiter((shard_of(i, shards) for i in ids), dtype=np.int32, count=len(ids))
        rows = [np.flatnonzero(owner == s) for s in range(shards)]
        names = list(columns)
        codes = np.stack([columns[n][1] for n in names], axis=1) if names else np.zeros((len(ids), 0), np.int32)
        actor_class = ray.remote(Shard)
        actors = [actor_class.options(scheduling_strategy=placement, max_concurrency=SHARD_THREADS)
                  .remote(len(r), vectors.shape[1], {n: list(columns[n][0]) for n in names})
                  for r, placement in zip(rows, _placements(ray, shards))]
        _send_rows(ray, actors, rows, vectors, ids, codes)
        try:
            info = ray.get([actor.build.remote(kind) for actor in actors])
        except ray.exceptions.RayError as err:
            for actor in actors:
                ray.kill(actor)
            raise RuntimeError(f"Building the shards failed: {err}. Check the cluster's free memory (ray status).") from err
    logger.info("Sharded %d items over %d actors on %d nodes", len(ids), shards, len({i["node"] for i in info}))
    return ShardedStore(actors, ids, vectors.shape[1], info[0]["kind"], names, info, timeout_s)


def _placements(ray: Any, shards: int) -> list:
    """Shard i on node i mod nodes, round robin over the alive nodes with CPUs.

    Ray's "SPREAD" is best effort and put two shards on one node of two; soft affinity
    spreads them for sure and still places a shard elsewhere if its node is gone.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0)
    if not nodes:
        raise RuntimeError("The Ray cluster has no alive node with CPUs to hold the shards: check `ray status`")
    return [NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True) for i in range(shards)]


def _send_rows(ray: Any, actors: list, rows: list[np.ndarray], vectors: np.ndarray, ids: list[str], codes: np.ndarray) -> None:
    """Ship each shard its rows in chunks, round robin, with a bounded amount in flight."""
    chunk = max(1, CHUNK_BYTES // (vectors.shape[1] * 4))
    pending: list = []
    longest = max(len(r) for r in rows)
    for start in range(0, longest, chunk):
        for actor, shard_rows in zip(actors, rows):
            part = shard_rows[start : start + chunk]
            if not len(part):
                continue
            while len(pending) * CHUNK_BYTES >= IN_FLIGHT_BYTES:
                done, pending = ray.wait(pending, num_returns=1)
                ray.get(done)
            pending.append(actor.add.remote(start, vectors[part], [ids[i] for i in part], codes[part]))
    ray.get(pending)
