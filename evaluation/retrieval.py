"""Evaluate the retriever alone on composed queries (reference image + raw change text).

    python -m evaluation.retrieval --catalog DIR --encoder SPEC --gallery IDS.txt --queries Q.jsonl \
        [--reference-as catalog|upload] [--method sum|edit|trained] [--composer DIR] [--json]
    python -m evaluation.retrieval --dataset fashion200k|fashioniq --catalog DATASET_DIR --encoder SPEC [--composer DIR] [--json]

No dialogue and no rewriting: the change text goes to the composition method as written. A
query is a hit at K when any target is in the top K, the reference itself excluded. Latency
is per query (encoding an uploaded reference included), model loading and indexing excluded.
With `--dataset fashion200k|fashioniq` the published protocol of that benchmark is run on
cached features (`offline.datasets`), with the zero-shot sum or the trained composer;
queries are answered in one batch there, so latency is the mean per query.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.options import add_retriever_options, check_retriever_options
from offline.datasets import DATASETS, load_benchmark
from offline.features import image_features, text_features
from offline.metrics import TOP_K, latency_summary, recall_at_k
from offline.triplets import score_triplets
from retrieval.catalog import CatalogError
from retrieval.compose import SUM_WEIGHTS, fuse
from retrieval.encoder import EncoderUnavailableError, load_encoder
from retrieval.index import IndexMismatchError
from retrieval.retriever import Reference, Retriever, TrainedComposer, open_retriever
from retrieval.vector_store import VectorStoreError

EXPECTED_ERRORS = (CatalogError, EncoderUnavailableError, IndexMismatchError, VectorStoreError, ValueError, OSError)


def read_jsonl(path: str | Path, required: Sequence[str]) -> list[dict]:
    """One JSON object a line, each with the `required` keys; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such file: {path}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not JSON ({err})") from err
        missing = [key for key in required if key not in row]
        if missing:
            raise ValueError(f"{path}:{number}: missing {', '.join(missing)}")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return rows


def reference_for(retriever: Retriever, product_id: str, reference_as: str) -> Reference:
    """`catalog`: the shopper picked it; `upload`: its pixels only, and it may not vote for itself."""
    if reference_as == "catalog":
        return retriever.reference_from_catalog(product_id)
    return retriever.reference_from_image(retriever.catalog.image_path(product_id), exclude_ids=[product_id])


def run_queries(retriever: Retriever, queries: Sequence[dict], reference_as: str) -> dict:
    """Rank the gallery for every query; recall@K overall and by kind of change, and latency."""
    rankings, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        reference = reference_for(retriever, str(query["reference"]), reference_as)
        vector = retriever.compose(reference, query["text"])
        hits = retriever.search(vector, TOP_K, exclude_ids=[str(query["reference"])])
        seconds.append(time.perf_counter() - started)
        rankings.append([h.id for h in hits])
    targets = [{str(t) for t in q["targets"]} for q in queries]
    result = {"queries": len(queries), **recall_at_k(rankings, targets), "latency_ms": latency_summary(seconds)}
    by_column = defaultdict(list)
    for i, query in enumerate(queries):
        by_column[query.get("column", "all")].append(i)
    if len(by_column) > 1:
        result["by_change"] = {
            column: recall_at_k([rankings[i] for i in rows], [targets[i] for i in rows]) for column, rows in by_column.items()
        }
    return result


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluation.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (products.csv, images/), or the --dataset folder")
    parser.add_argument("--encoder", required=True, help="open_clip spec: local-dir:PATH, hf-hub:ORG/NAME or MODEL/TAG")
    parser.add_argument("--gallery", help="IDS.txt: the index holds exactly these ids (catalog only)")
    parser.add_argument("--queries", help="Q.jsonl: {reference, text, targets} a line (catalog only)")
    parser.add_argument("--dataset", choices=DATASETS, default="catalog", help="a catalogue, or a public benchmark's folder")
    parser.add_argument("--split", help="benchmark split (default: test for fashion200k, val for fashioniq)")
    add_retriever_options(parser)
    parser.add_argument("--limit", type=int, help="evaluate only the first N queries")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    args = parser.parse_args(argv)
    check_retriever_options(parser, args)
    if args.dataset == "catalog" and not (args.gallery and args.queries):
        parser.error("a catalogue evaluation needs --gallery IDS.txt and --queries Q.jsonl")
    return args


def open_for_evaluation(args: argparse.Namespace) -> Retriever:
    """The retriever the arguments describe, with a trained composer when one is given."""
    return open_retriever(args.catalog, args.encoder, args.gallery, args.index_dir,
                          method=args.method, composer_dir=args.composer, progress=True,
                          precision=args.precision, backend=args.backend, shards=args.shards,
                          ray_address=args.ray_address)


def sum_composer(image_vectors: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
    """The zero-shot baseline as a composer: the weighted sum of image and text, row by row."""
    return fuse(SUM_WEIGHTS, image=image_vectors, text=text_vectors)


def run_benchmark(args: argparse.Namespace) -> dict:
    """A public benchmark's protocol: each of its sets searched over its own photos, recalls averaged."""
    split = args.split or ("val" if args.dataset == "fashioniq" else "test")
    composer: TrainedComposer = sum_composer
    if args.composer:
        from retrieval.composer import load_composer  # torch module: only when asked for

        composer = load_composer(args.composer)
    encoder = load_encoder(args.encoder)
    results, seconds = {}, 0.0
    for name, subset in load_benchmark(args.dataset, args.catalog, split).items():
        images = image_features(encoder, subset.images, subset.fingerprint, progress=True)
        texts = text_features(encoder, subset.texts())
        triplets = subset.triplets[: args.limit]
        started = time.perf_counter()
        results[name] = score_triplets(composer, triplets, images.take, texts.take, images.keys)
        seconds += time.perf_counter() - started
    n = sum(r["queries"] for r in results.values())
    mean = {k: round(float(np.mean([r[k] for r in results.values()])), 2) for k in next(iter(results.values())) if k.startswith("recall@")}
    per_query_ms = round(1000 * seconds / max(n, 1), 3)
    return {"queries": n, **mean, "latency_ms": {"p50": per_query_ms, "p95": per_query_ms}, "by_set": results,
            "dataset": args.dataset, "split": split, "method": "trained" if args.composer else "sum"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if args.dataset != "catalog":
            result = run_benchmark(args)
        else:
            queries = read_jsonl(args.queries, ("reference", "text", "targets"))[: args.limit]
            retriever = open_for_evaluation(args)
            result = run_queries(retriever, queries, args.reference_as)
            result.update(method=retriever.settings.method, reference_as=args.reference_as)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not args.json:
        print(json.dumps(result, indent=2))
    else:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
