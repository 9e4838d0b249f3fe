"""Per-attribute accuracy of attribute inference (what an uploaded photo is guessed to be).

Leave-one-out on a gallery: each item's attributes are inferred from its pixels' vector with
the item itself kept out of the neighbour vote, then compared with its catalogue record.

    python -m benchmarks.attribute_accuracy --catalog DIR --encoder SPEC --gallery IDS.txt [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from retrieval.attributes import AttributeInferrer, InferenceSettings
from retrieval.retriever import Retriever, open_retriever


def accuracy(retriever: Retriever, ids: Sequence[str], settings: InferenceSettings) -> dict[str, float]:
    """Percent of `ids` whose inferred value equals the catalogue's, per column, and the
    accuracy among guesses confident enough to be used in a description."""
    inferrer = AttributeInferrer(retriever.store, retriever.prototypes, settings)
    correct = {c: 0 for c in inferrer.columns}
    for pid in ids:
        truth = retriever.catalog.attributes(pid)
        for column, guess in inferrer.infer(retriever.store.vector(pid), exclude_ids=[pid]).items():
            correct[column] += guess.value == truth[column]
    return {column: round(100 * n / len(ids), 2) for column, n in correct.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attribute_accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--prompt-weight", type=float, help="override the blend of zero-shot prompts and neighbour votes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    retriever = open_retriever(args.catalog, args.encoder, args.gallery, progress=True)
    settings = InferenceSettings()
    if args.prompt_weight is not None:
        settings = replace(settings, prompt_weight=args.prompt_weight)
    ids = retriever.store.ids[: args.limit]
    result = {"items": len(ids), "accuracy": accuracy(retriever, ids, settings), "settings": vars(settings)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
