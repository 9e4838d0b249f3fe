"""Benchmark the sharded store on Ray against the single-process store, in the same run.

    python -m benchmarks.bench_scale [--sizes 1000000 2000000] [--shards 1 2 4] [--dim 256] [--ray-address local] [--json]

Data and queries come from bench_index's generator (clustered, overlapping, a skewed
colour attribute correlated with the cluster); the filtered case keeps the rarest colour
(~3 %). For each size: the single `VectorStore`, then a `ShardedStore` of 1, 2, 4 shards
spread over the cluster's nodes (`local`: two raylets on this machine), each shard building
the kind the single store resolved `auto` to. Per setting: build time, memory (the single
store: its vectors and index; each shard actor: its anonymous resident memory, Python and
Ray included), p50 / p95 latency of one query at a time, throughput with 8 queries in flight
from 8 threads (as 8 chat sessions), and recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from benchmarks.bench_index import COLOURS, QUERY_NOISE, K, Mixture, _exact_top_k, _resident_mb
from retrieval.ray_cluster import ray_session
from retrieval.sharded_store import shard_vectors
from retrieval.vector_store import VectorStore

THROUGHPUT_PASSES = 2  # each query this many times in the concurrent run


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...]
    shards: tuple[int, ...]
    dim: int
    queries: int
    concurrency: int
    kind: str
    ray_address: str
    seed: int
    as_json: bool


@dataclass(frozen=True)
class Row:
    items: int
    backend: str  # "faiss" (one process) or "ray xN" (N shards)
    kind: str  # the index kind, resolved: shards build the single store's kind
    filter: str
    selected: float
    build_s: float
    memory_mb: float  # single: the store (its vectors + index); sharded: the largest shard process
    memory_total_mb: float  # single: as memory_mb; sharded: all shard processes together
    p50_ms: float
    p95_ms: float
    qps: float  # queries per second with `concurrency` in flight
    recall_at_10: float


@dataclass(frozen=True)
class Case:
    name: str
    filters: dict[str, list[str]] | None
    selected: float
    truth: np.ndarray  # (q, K) exact top-K rows


Search = Callable[[np.ndarray, dict | None], list]


def _measure(search: Search, queries: np.ndarray, case: Case, concurrency: int) -> tuple[float, float, float, float]:
    """p50 and p95 ms of one query at a time, queries/s with `concurrency` in flight, recall@K."""
    wall, recalls = [], []
    for query, exact in zip(queries, case.truth):
        started = time.perf_counter()
        hits = search(query, case.filters)
        wall.append((time.perf_counter() - started) * 1e3)
        if len(hits) != K:
            raise AssertionError(f"got {len(hits)} hits, not {K}, with filter {case.name}")
        recalls.append(len({int(h.id.removeprefix("item")) for h in hits} & set(exact.tolist())) / K)
    work = [q for _ in range(THROUGHPUT_PASSES) for q in queries]
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(lambda q: search(q, case.filters), work))
        qps = len(work) / (time.perf_counter() - started)
    p50, p95 = np.percentile(wall, [50, 95])
    return float(p50), float(p95), qps, float(np.mean(recalls))


def _single(vectors, ids, attributes, cases, queries, config: Config) -> tuple[list[Row], str]:
    """The single store's rows, and the kind `auto` resolved to (the shards build the same)."""
    gc.collect()
    before, started = _resident_mb(), time.perf_counter()
    store = VectorStore(vectors, ids, attributes, kind=config.kind)
    build_s = time.perf_counter() - started
    memory = _resident_mb() - before + vectors.nbytes / 2**20  # the store keeps the caller's vectors: count them

    def search(query, filters):
        return store.search(query, K, filters=filters)[0]

    rows = [Row(len(ids), "faiss", store.kind, c.name, c.selected, build_s, memory, memory,
                *_measure(search, queries, c, config.concurrency)) for c in cases]
    return rows, store.kind  # the store goes with this frame, before the shards are built


def _sharded(shards: int, kind: str, vectors, ids, attributes, cases, queries, config: Config) -> list[Row]:
    started = time.perf_counter()
    store = shard_vectors(vectors, ids, attributes, shards, kind=kind)
    build_s = time.perf_counter() - started
    memory = [m or math.nan for m in store.memory_mb()]
    print(f"  {shards} shards on {len({i['node'] for i in store.shard_info})} nodes, items {[i['items'] for i in store.shard_info]}, "
          f"FAISS threads {[i['threads'] for i in store.shard_info]}, memory MB {[round(m) for m in memory]}", flush=True)

    def search(query, filters):
        hits = store.search(query, K, filters=filters)[0]
        if hits.coverage.partial:
            raise AssertionError(f"benchmark search was partial: {hits.coverage.failures}")
        return hits

    try:
        return [Row(len(ids), f"ray x{shards}", store.kind, c.name, c.selected, build_s, max(memory), sum(memory),
                    *_measure(search, queries, c, config.concurrency)) for c in cases]
    finally:
        store.close()


def _bench_size(n: int, config: Config, rng: np.random.Generator) -> list[Row]:
    mixture = Mixture.draw(min(3000, max(20, round(3 * math.sqrt(n)))), config.dim, rng)
    vectors, colour_codes = mixture.sample(n, rng)
    queries, _ = mixture.sample(config.queries, rng, QUERY_NOISE)
    rare = colour_codes == COLOURS - 1
    cases = [Case("none", None, 1.0, _exact_top_k(vectors, queries, None)),
             Case(f"colour=c{COLOURS - 1}", {"colour": [f"c{COLOURS - 1}"]}, float(rare.mean()), _exact_top_k(vectors, queries, rare))]
    ids = [f"item{i}" for i in range(n)]
    attributes = {"colour": [f"c{c}" for c in colour_codes]}
    rows, kind = _single(vectors, ids, attributes, cases, queries, config)
    print(_table(rows), flush=True)
    for shards in config.shards:
        rows += _sharded(shards, kind, vectors, ids, attributes, cases, queries, config)
        print(_table(rows[-len(cases):]), flush=True)
    return rows


def _table(rows: Sequence[Row]) -> str:
    lines = [f"{'items':>9} {'backend':<8} {'kind':<5} {'filter':<9} {'kept':>6} {'build s':>8} {'mem MB':>8} {'total MB':>8} "
             f"{'p50 ms':>7} {'p95 ms':>7} {'qps@c':>7} {'R@10':>6}"]
    for r in rows:
        lines.append(f"{r.items:>9} {r.backend:<8} {r.kind:<5} {r.filter:<9} {r.selected:>6.1%} {r.build_s:>8.1f} {r.memory_mb:>8.0f} "
                     f"{r.memory_total_mb:>8.0f} {r.p50_ms:>7.2f} {r.p95_ms:>7.2f} {r.qps:>7.0f} {r.recall_at_10:>6.4f}")
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000], help="catalogue sizes to index (4M needs ~14 GB)")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4], help="shard counts to compare with one process")
    parser.add_argument("--dim", type=int, default=256, help="vector dimension (the project's encoder: 256)")
    parser.add_argument("--queries", type=int, default=200, help="single-vector queries per size, setting and filter")
    parser.add_argument("--concurrency", type=int, default=8, help="queries in flight in the throughput run")
    parser.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf", "hnsw"], help="index kind, single and per shard")
    parser.add_argument("--ray-address", default="local", help="local (a 2-node cluster on this machine) or HOST:PORT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every row")
    a = parser.parse_args(argv)
    return Config(tuple(a.sizes), tuple(a.shards), a.dim, a.queries, a.concurrency, a.kind, a.ray_address, a.seed, a.json)


def main(argv: Sequence[str] | None = None) -> int:
    config = _parse_args(argv)
    rng = np.random.default_rng(config.seed)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, faiss {faiss.__version__}, dim {config.dim}, "
          f"{config.queries} queries, k={K}, {config.concurrency} in flight for qps")
    rows = []
    with ray_session(config.ray_address):
        import ray

        print(f"ray {ray.__version__}: {len(ray.nodes())} nodes, {ray.cluster_resources().get('CPU')} CPUs", flush=True)
        for n in config.sizes:
            print(f"{n} items, load average {os.getloadavg()[0]:.1f} at start", flush=True)
            rows += _bench_size(n, config, rng)
    if config.as_json:
        print(json.dumps({"dim": config.dim, "queries": config.queries, "k": K, "concurrency": config.concurrency,
                          "rows": [asdict(r) for r in rows]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
