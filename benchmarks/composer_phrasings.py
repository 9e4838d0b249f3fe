"""How much a trained composer's figure owes to phrasings it was trained on.

The composer's training triplets are worded with `offline.triplets.TRAINING_PHRASINGS`, the
evaluation's queries with `evaluation.queries.PHRASINGS` (disjoint sets). This scores the same
test queries (same references, changes and targets) worded both ways, for the composer alone
and for the served mix (composer + target description):

    python -m benchmarks.composer_phrasings --catalog DIR --encoder SPEC --gallery eval/test_ids.txt \
        --queries eval/test_queries.jsonl --composer runs/composer [--reference-as upload]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import replace

from evaluation.queries import PHRASINGS
from evaluation.retrieval import read_jsonl, run_queries
from offline.triplets import TRAINING_PHRASINGS
from retrieval.compose import FusionWeights
from retrieval.retriever import open_retriever

COMPOSER_ALONE = FusionWeights(image=1.0, text=0.0, description=0.0, negative=0.0)


def reworded(queries: Sequence[dict], phrasings: dict[str, tuple[str, ...]], catalog, seed: int = 0) -> list[dict]:
    """The queries with each change worded by `phrasings` (the new value read off a target)."""
    rng = random.Random(seed)
    out = []
    for query in queries:
        column = query["column"]
        value = catalog.attributes(str(query["targets"][0]))[column]
        out.append({**query, "text": rng.choice(phrasings[column]).format(v=value.lower())})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.composer_phrasings", description=__doc__.split("\n\n")[0])
    for name in ("--catalog", "--encoder", "--gallery", "--queries", "--composer"):
        parser.add_argument(name, required=True)
    parser.add_argument("--reference-as", choices=["catalog", "upload"], default="catalog")
    args = parser.parse_args(argv)
    served = open_retriever(args.catalog, args.encoder, args.gallery, composer_dir=args.composer, progress=True)
    alone = served.with_settings(replace(served.settings, trained_weights=COMPOSER_ALONE))
    queries = read_jsonl(args.queries, ("reference", "text", "targets", "column"))
    for wording, phrasings in (("evaluation", PHRASINGS), ("training", TRAINING_PHRASINGS)):
        worded = reworded(queries, phrasings, served.catalog)
        for name, retriever in (("composer alone", alone), ("composer + description", served)):
            result = run_queries(retriever, worded, args.reference_as)
            print(json.dumps({"phrasings": wording, "method": name, "reference_as": args.reference_as,
                              **{k: result[k] for k in ("recall@1", "recall@10", "recall@50")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
