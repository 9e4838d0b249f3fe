"""Benchmark the vector store: exact vs approximate kinds, with and without filters.

    python -m benchmarks.bench_index [--sizes 10000 100000 1000000] [--dim 512] [--queries 200] [--kinds flat ivf]
                                     [--together 8] [--json]

Synthetic vectors shaped like image embeddings rather than uniform noise: 60 category
centres in a cone around a shared direction (random photos are not orthogonal under CLIP),
product clusters close around their category so that neighbouring clusters overlap, items
spread around their cluster with a decaying spectrum whose axes differ per cluster, cluster
sizes skewed, all normalised. Overlapping clusters matter: with well-separated ones every
IVF list is one cluster and a handful of probes finds everything, which flatters the index.
A 10-value "colour" attribute is Zipf-skewed and correlated with the cluster (half of a
cluster shares one colour), so a filter does not pick items at random. Queries are fresh
draws from the mixture plus isotropic noise, as a composed image+text query sits off the
photo manifold. Latency is one query per call, as a shopper's turn issues it; recall@10 is
against exact numpy search with the same filter. `--together N` also times N shoppers'
searches asked at once (`VectorStore.search_each`, each with its own filter, as the web app
batches them) against the same searches one by one.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from retrieval.vector_store import SearchRequest, VectorStore

K = 10
COLOURS = 10
CATEGORIES = 60
CONE = 0.63  # weight of the shared direction: categories have cosine ~0.4, random items ~0.3
CLUSTER_SPREAD = 0.2  # clusters around their category: close enough to overlap
SPREAD = 0.65  # noise norm around a cluster centre: items of one cluster have cosine ~0.7
QUERY_NOISE = 0.5  # extra isotropic noise norm of a query
SPECTRUM_DECAY = 0.7  # noise variance of the i-th axis ~ i^-0.7: a few dominant directions
CHUNK = 100_000  # rows generated at a time, to bound temporary memory


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...]
    dim: int
    queries: int
    kinds: tuple[str, ...]
    seed: int
    together: int  # searches asked at once (0: not measured)
    as_json: bool


@dataclass(frozen=True)
class Row:
    items: int
    kind: str
    filter: str
    selected: float  # fraction of items the filter keeps
    build_s: float
    build_cpu_s: float  # CPU time of all threads: about the wall time on two idle cores times two
    memory_mb: float  # resident memory the store adds beyond the vectors it shares
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float  # CPU time of the searching thread: the cost without waits for a busy core
    recall_at_10: float


@dataclass(frozen=True)
class TogetherRow:
    items: int
    kind: str
    at_once: int
    alone_ms: float  # wall time per search, searched one by one (median over groups)
    together_ms: float  # wall time per search, the group searched with search_each
    same: float  # fraction of searches whose hits are the same both ways


@dataclass(frozen=True)
class Mixture:
    """The generator of items and queries: one draw of cluster shapes and colours."""

    centres: np.ndarray  # (c, d) unit vectors
    scales: np.ndarray  # (c, d) per-cluster noise scale of each axis
    rotation: np.ndarray  # (d, d) orthogonal: the noise axes are not the coordinate axes
    weights: np.ndarray  # (c,) cluster probabilities, skewed
    colours: np.ndarray  # (c,) each cluster's dominant colour

    @classmethod
    def draw(cls, clusters: int, dim: int, rng: np.random.Generator) -> Mixture:
        shared = _normalise(rng.standard_normal(dim))
        categories = _normalise(CONE * shared + math.sqrt(1 - CONE**2) * rng.standard_normal((CATEGORIES, dim)) / math.sqrt(dim))
        category = rng.integers(CATEGORIES, size=clusters)
        centres = _normalise(categories[category] + CLUSTER_SPREAD * rng.standard_normal((clusters, dim)) / math.sqrt(dim))
        spectrum = np.arange(1, dim + 1) ** (-SPECTRUM_DECAY / 2)
        spectrum *= SPREAD / np.linalg.norm(spectrum)
        scales = np.stack([rng.permutation(spectrum) for _ in range(clusters)]).astype(np.float32)
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        weights = rng.lognormal(sigma=1.0, size=clusters)
        colours = rng.choice(COLOURS, size=clusters, p=_colour_frequencies())
        return cls(centres.astype(np.float32), scales, rotation.astype(np.float32), weights / weights.sum(), colours)

    def sample(self, n: int, rng: np.random.Generator, extra_noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) float32 unit vectors and (n,) colour codes; `extra_noise`: norm of isotropic noise added."""
        cluster = rng.choice(len(self.weights), size=n, p=self.weights)
        dim = self.centres.shape[1]
        vectors = np.empty((n, dim), dtype=np.float32)
        for start in range(0, n, CHUNK):
            c = cluster[start : start + CHUNK]
            noise = rng.standard_normal((len(c), dim), dtype=np.float32) * self.scales[c]
            isotropic = extra_noise / math.sqrt(dim) * rng.standard_normal((len(c), dim), dtype=np.float32)
            vectors[start : start + CHUNK] = _normalise(self.centres[c] + noise @ self.rotation + isotropic)
        own = rng.random(n) < 0.5
        colours = np.where(own, self.colours[cluster], rng.choice(COLOURS, size=n, p=_colour_frequencies()))
        return vectors, colours


def _colour_frequencies() -> np.ndarray:
    zipf = 1.0 / np.arange(1, COLOURS + 1)
    return zipf / zipf.sum()


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _exact_top_k(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(q, K) row numbers of the exact top K among `mask`, by brute force in numpy."""
    top = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(queries), 50):
        scores = queries[start : start + 50] @ vectors.T  # (50, n)
        if mask is not None:
            scores[:, ~mask] = -np.inf
        top[start : start + 50] = np.argpartition(-scores, K - 1, axis=1)[:, :K]
    return top


def _resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class Case:
    """One filter setting and the exact answers under it."""

    name: str
    filters: dict[str, list[str]] | None
    selected: float  # fraction of items the filter keeps
    truth: np.ndarray  # (q, K) exact top-K rows


def _cases(vectors: np.ndarray, colour_codes: np.ndarray, queries: np.ndarray) -> list[Case]:
    """No filter, the commonest colour and the rarest one."""
    cases = [Case("none", None, 1.0, _exact_top_k(vectors, queries, None))]
    for code in (0, COLOURS - 1):
        keep = colour_codes == code
        cases.append(Case(f"colour=c{code}", {"colour": [f"c{code}"]}, float(keep.mean()), _exact_top_k(vectors, queries, keep)))
    return cases


def _measure(store: VectorStore, queries: np.ndarray, case: Case) -> tuple[float, float, float, float]:
    """Wall p50 and p95, CPU p50 (ms) and mean recall@K of single-query searches."""
    wall, cpu, recalls = [], [], []
    for query, exact in zip(queries, case.truth):
        started, cpu_started = time.perf_counter(), time.thread_time()
        hits = store.search(query, K, filters=case.filters)[0]
        wall.append((time.perf_counter() - started) * 1e3)
        cpu.append((time.thread_time() - cpu_started) * 1e3)
        if len(hits) != K:
            raise AssertionError(f"{store.kind} returned {len(hits)} hits, not {K}, with filter {case.name}")
        recalls.append(len({int(h.id.removeprefix("item")) for h in hits} & set(exact.tolist())) / K)
    p50, p95 = np.percentile(wall, [50, 95])
    return float(p50), float(p95), float(np.median(cpu)), float(np.mean(recalls))


def _measure_together(store: VectorStore, queries: np.ndarray, cases: list[Case], at_once: int) -> TogetherRow:
    """Groups of `at_once` searches, the filters taking turns and one in four excluding an item,
    timed one by one and as one `search_each`."""
    requests = [SearchRequest(query, K, exclude_ids=["item0"] if i % 4 == 3 else (), filters=cases[i % len(cases)].filters)
                for i, query in enumerate(queries)]
    alone, together, same = [], [], 0
    for start in range(0, len(requests) - at_once + 1, at_once):
        group = requests[start : start + at_once]
        started = time.perf_counter()
        one_by_one = [store.search(r.query, r.k, r.exclude_ids, r.filters)[0] for r in group]
        alone.append((time.perf_counter() - started) * 1e3 / at_once)
        started = time.perf_counter()
        batched = store.search_each(group)
        together.append((time.perf_counter() - started) * 1e3 / at_once)
        same += sum([h.id for h in a] == [h.id for h in b] for a, b in zip(one_by_one, batched))
    return TogetherRow(len(store), store.kind, at_once, float(np.median(alone)), float(np.median(together)),
                       same / (len(alone) * at_once))


def _bench_size(n: int, config: Config, rng: np.random.Generator) -> tuple[list[Row], list[TogetherRow]]:
    mixture = Mixture.draw(min(3000, max(20, round(3 * math.sqrt(n)))), config.dim, rng)
    vectors, colour_codes = mixture.sample(n, rng)
    queries, _ = mixture.sample(config.queries, rng, QUERY_NOISE)
    cases = _cases(vectors, colour_codes, queries)
    ids = [f"item{i}" for i in range(n)]
    attributes = {"colour": [f"c{c}" for c in colour_codes]}
    rows, together = [], []
    for kind in config.kinds:
        gc.collect()
        before, started, cpu_started = _resident_mb(), time.perf_counter(), time.process_time()
        store = VectorStore(vectors, ids, attributes, kind=kind)
        build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        memory_mb = _resident_mb() - before
        label = kind if kind == store.kind else f"{kind}:{store.kind}"
        for case in cases:
            rows.append(Row(n, label, case.name, case.selected, build_s, build_cpu_s, memory_mb, *_measure(store, queries, case)))
        if config.together:
            together.append(_measure_together(store, queries, cases, config.together))
        del store
    return rows, together


def _table(rows: Sequence[Row]) -> str:
    lines = [
        f"{'items':>9} {'kind':<9} {'filter':<10} {'kept':>6} {'build s':>8} {'cpu s':>7} {'mem MB':>8} {'p50 ms':>7} {'p95 ms':>7} {'cpu p50':>7} {'R@10':>6}"
    ]
    for r in rows:
        lines.append(
            f"{r.items:>9} {r.kind:<9} {r.filter:<10} {r.selected:>6.1%} {r.build_s:>8.1f} {r.build_cpu_s:>7.1f} {r.memory_mb:>8.0f} "
            f"{r.p50_ms:>7.2f} {r.p95_ms:>7.2f} {r.cpu_p50_ms:>7.2f} {r.recall_at_10:>6.3f}"
        )
    return "\n".join(lines)


def _together_table(rows: Sequence[TogetherRow]) -> str:
    lines = [f"{'items':>9} {'kind':<9} {'at once':>7} {'alone ms':>9} {'together ms':>11} {'same':>6}"]
    lines += [f"{r.items:>9} {r.kind:<9} {r.at_once:>7} {r.alone_ms:>9.2f} {r.together_ms:>11.2f} {r.same:>6.1%}" for r in rows]
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_index", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="catalogue sizes to index")
    parser.add_argument("--dim", type=int, default=512, help="vector dimension (ViT-B open_clip: 512)")
    parser.add_argument("--queries", type=int, default=200, help="single-vector queries per size, kind and filter")
    parser.add_argument("--kinds", nargs="+", default=["flat", "ivf"], choices=["flat", "ivf", "hnsw", "auto"], help="store kinds to compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--together", type=int, default=0, metavar="N", help="also time N searches asked at once against one by one")
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every row")
    args = parser.parse_args(argv)
    if args.together < 0 or args.together > args.queries:
        parser.error(f"--together must be between 0 and --queries ({args.queries}), got {args.together}")
    return Config(tuple(args.sizes), args.dim, args.queries, tuple(args.kinds), args.seed, args.together, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    config = _parse_args(argv)
    rng = np.random.default_rng(config.seed)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, faiss {faiss.__version__}, dim {config.dim}, {config.queries} queries, k={K}")
    rows, together = [], []
    for n in config.sizes:
        print(f"{n} items, load average {os.getloadavg()[0]:.1f} at start", flush=True)
        size_rows, size_together = _bench_size(n, config, rng)
        rows += size_rows
        together += size_together
        print(_table(size_rows), flush=True)
        if size_together:
            print(_together_table(size_together), flush=True)
    if config.as_json:
        print(json.dumps({"dim": config.dim, "queries": config.queries, "k": K, "rows": [asdict(r) for r in rows],
                          "together": [asdict(r) for r in together]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
