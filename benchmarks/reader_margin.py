"""Choose the margin by which a reader holds the model's answer to the rules' (dev files only).

    python -m benchmarks.reader_margin --catalog ../shared/data/fashion-products \
        --encoder local-dir:../shared/models/tiny-fashion-clip --gallery eval/dev_ids.txt \
        --queries eval/dev_captions.jsonl --llm smollm2 [--margins 0,1,2,4,6,8] [--limit N] --json

Runs every query through the assistant twice, as `evaluation.assistant` does: once with margin
0 (the model decides wherever it parts from the rules' reading) and once with an infinite
margin (the rules' reading wins wherever the grammar takes it), recording for each turn by
how many nats the model preferred its own token where it first parted from the rules'
(`chat.decoding.Decoded.parting_nats`). A query's outcome at margin M is the second run's
where the model parted by M or less and the first run's otherwise, which is exactly what the
reader does at M, since queries are independent. Prints R@10 per margin, with the two runs'
turn latency; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from chat.factory import open_assistant
from evaluation.assistant import Evaluation
from evaluation.options import add_retriever_options, assistant_config, check_retriever_options
from evaluation.retrieval import read_jsonl

TOP_K = 10


def run(assistant, items: list[dict], margin: float) -> tuple[list[bool], list[float | None], dict]:
    """Hit@10 per query and the parting (nats) per query, with the reader held at `margin`."""
    reader = assistant.rewriter
    reader.hint_margin = margin
    reader.key_margins = dict.fromkeys(reader.key_margins, margin)
    evaluation, hits, partings = Evaluation(assistant), [], []
    for item in tqdm(items, desc=f"margin {margin:g}"):
        reader.llm.last_decoded = None
        evaluation.query(item, "catalog")
        decoded = reader.llm.last_decoded
        partings.append(None if decoded is None else decoded.parting_nats)
        ranking = evaluation.tally.rankings[-1]
        hits.append(bool(set(map(str, item["targets"])) & set(ranking[:TOP_K])))
    return hits, partings, evaluation.tally.summary()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reader_margin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", required=True)
    parser.add_argument("--queries", required=True, type=Path, help="Q.jsonl (a development file)")
    parser.add_argument("--llm", required=True, help="an LLM spec (not rules)")
    parser.add_argument("--margins", default="0,1,2,3,4,6,8,12", help="margins to report, in nats")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--time-limit", type=float, default=60.0,
                        help="seconds per turn before the rules answer (generous: a busy machine must not change the reading)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", action="store_true")
    add_retriever_options(parser)
    args = parser.parse_args(argv)
    check_retriever_options(parser, args)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    items = read_jsonl(args.queries, ("reference", "text", "targets"))[: args.limit]
    if args.threads:
        torch.set_num_threads(args.threads)
    assistant = open_assistant(assistant_config(args, args.llm))
    assistant.rewriter.time_limit_s = args.time_limit
    model_hits, partings, model_summary = run(assistant, items, 0.0)
    rules_hits, _, rules_summary = run(assistant, items, math.inf)
    curve = {}
    for margin in (float(m) for m in args.margins.split(",")):
        hits = [r if p is not None and p <= margin else m for m, r, p in zip(model_hits, rules_hits, partings)]
        curve[f"{margin:g}"] = round(100 * sum(hits) / len(hits), 2)
    parted = sorted(p for p in partings if p is not None)
    result = {"queries": len(items), "llm": args.llm, "file": args.queries.name, "recall@10_by_margin": curve,
              "recall@10_rules_win": round(100 * sum(rules_hits) / len(items), 2),
              "parted": len(parted), "parting_nats": [round(p, 2) for p in parted],
              "latency_ms": {"margin_0": model_summary["latency_ms"], "margin_inf": rules_summary["latency_ms"]}}
    for margin, recall in curve.items():
        print(f"margin {margin:>4}: R@10 {recall:5.1f}")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
