"""Pick composition weights and attribute-inference settings on the NON-test items.

Grid search on the dev gallery (eval/dev_ids.txt) and dev queries (eval/dev_queries.jsonl),
never on the test split; the chosen values are written by hand into retrieval/compose.py and
retrieval/attributes.py with a pointer back here.

    python -m benchmarks.tune_composition --catalog DIR --encoder SPEC [--gallery eval/dev_ids.txt] [--queries eval/dev_queries.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from benchmarks.attribute_accuracy import accuracy
from evaluation.retrieval import read_jsonl, run_queries
from retrieval.attributes import InferenceSettings
from retrieval.compose import FusionWeights
from retrieval.retriever import RetrievalSettings, open_retriever

SUM_GRID = [FusionWeights(image=a, text=round(1 - a, 2)) for a in (0.3, 0.4, 0.5, 0.6)]
EDIT_GRID = [
    FusionWeights(image=i, text=t, description=1.0, negative=0.2)
    for i, t in itertools.product((0.0, 0.2, 0.3, 0.5), (0.0, 0.1, 0.3))
]
INFERENCE_GRID = [
    InferenceSettings(neighbours=n, neighbour_temperature=tau, prompt_weight=w)
    for n, tau, w in itertools.product((10, 20, 40), (0.01, 0.02, 0.05), (0.0, 0.15, 0.3, 0.5))
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune_composition", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", default="eval/dev_ids.txt")
    parser.add_argument("--queries", default="eval/dev_queries.jsonl")
    parser.add_argument("--inference-items", type=int, default=1500)
    args = parser.parse_args(argv)
    served = open_retriever(args.catalog, args.encoder, args.gallery, progress=True)
    queries = read_jsonl(args.queries, ("reference", "text", "targets"))
    for method, grid, field in (("sum", SUM_GRID, "sum_weights"), ("edit", EDIT_GRID, "edit_weights")):
        for weights in grid:
            retriever = served.with_settings(replace(RetrievalSettings(), method=method, **{field: weights}))
            result = run_queries(retriever, queries, "catalog")
            print(json.dumps({"method": method, "weights": vars(weights), "recall@10": result["recall@10"], "recall@1": result["recall@1"]}))
    ids = served.store.ids[: args.inference_items]
    for settings in INFERENCE_GRID:
        scores = accuracy(served, ids, settings)
        print(json.dumps({"inference": vars(settings), "accuracy": scores, "mean": round(sum(scores.values()) / len(scores), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
