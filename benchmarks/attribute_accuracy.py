"""Per-attribute accuracy of attribute inference (what an uploaded photo is guessed to be).

Leave-one-out on a gallery: each item's attributes are inferred from its pixels (its indexed
vector, and its photo for the colour reading) with the item itself kept out of the neighbour
vote, then compared with its catalogue record. The retriever reads as it serves: with the
attribute heads cached beside the index (learned first where missing, from the products
outside the gallery), or `--zero-shot` as before heads existed.

    python -m benchmarks.attribute_accuracy --catalog DIR --encoder SPEC --gallery IDS.txt [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from retrieval.attributes import AttributeInferrer, InferenceSettings
from retrieval.retriever import Retriever, open_retriever


def accuracy(retriever: Retriever, ids: Sequence[str], settings: InferenceSettings) -> dict[str, float]:
    """Percent of `ids` whose inferred value equals the catalogue's, per column."""
    inferrer = AttributeInferrer(retriever.store, retriever.prototypes, settings, retriever.heads)
    correct = {c: 0 for c in inferrer.columns}
    for pid in ids:
        truth = retriever.catalog.attributes(pid)
        guesses = inferrer.infer(retriever.store.vector(pid), exclude_ids=[pid], image=retriever.catalog.image_path(pid))
        for column, guess in guesses.items():
            correct[column] += guess.value == truth[column]
    return {column: round(100 * n / len(ids), 2) for column, n in correct.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attribute_accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--prompt-weight", type=float, help="override the blend of zero-shot prompts and neighbour votes")
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--zero-shot", action="store_true", help="neighbour votes and prompts only, as before heads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    retriever = open_retriever(args.catalog, args.encoder, args.gallery, args.index_dir, progress=True)
    if args.zero_shot:
        retriever.use_heads(None)
    settings = InferenceSettings()
    if args.prompt_weight is not None:
        settings = replace(settings, prompt_weight=args.prompt_weight)
    ids = retriever.store.ids[: args.limit]
    result = {"items": len(ids), "accuracy": accuracy(retriever, ids, settings), "settings": vars(settings),
              "heads": retriever.heads is not None}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
