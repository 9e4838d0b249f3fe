"""Whether batching the reader's forward passes pays on this CPU: one pass over B sequences at once.

    python -m benchmarks.bench_batch_forward [--llm smollm2-shop] [--batches 1,2,4,8] [--reps 3] [--threads 1]
        [--int8] [--compile]

For each batch size B, the median time of one forward pass of the reader's model over B
sequences of (a) one new token after a 100-token context (a decoding step) and (b) 100 new
tokens (a turn's prefill: its prompt and the rules' drafted answer, which is most of what a
turn costs, since the draft usually makes the answer one pass). Batching pays where (a) grows
slower than B (reading the weights dominates) and not where (b) grows like B (arithmetic
dominates). The weights are all bf16 (float32 where the CPU lacks bf16) unless `--int8`
stores the feed-forward weights in int8 (torchao weight-only, as served), `--compile` runs the model through `torch.compile` (one untimed round
first, for the compilations). The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from transformers import DynamicCache

from chat.llm import load_llm

CONTEXT = 100


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_batch_forward", description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="smollm2-shop")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--int8", action="store_true", help="feed-forward weights in int8 (torchao weight-only)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (dynamic shapes)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_llm(args.llm, int8=args.int8).load()._model
    if args.compile:
        model.forward = torch.compile(model.forward, dynamic=True)
    torch.manual_seed(0)
    seconds: dict[tuple[int, int], list[float]] = {}
    with torch.inference_mode():
        for rep in range(-1 if args.compile else 0, args.reps):  # rep -1: compiling, not timed
            for batch in (int(b) for b in args.batches.split(",")):
                for new in (1, CONTEXT):
                    cache = DynamicCache(config=model.config)
                    if new == 1:
                        model(input_ids=torch.randint(0, 49000, (batch, CONTEXT)), cache=cache, use_cache=True,
                              logits_to_keep=1)
                    ids = torch.randint(0, 49000, (batch, new))
                    started = time.perf_counter()
                    model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
                    if rep >= 0:
                        seconds.setdefault((batch, new), []).append(time.perf_counter() - started)
    rows = [{"batch": b, "new_tokens": n, "ms": round(1000 * statistics.median(v))} for (b, n), v in sorted(seconds.items())]
    for row in rows:
        print(f"batch {row['batch']:2d} x {row['new_tokens']:3d} new tokens: {row['ms']:6d} ms")
    load = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps({"llm": args.llm, "int8": args.int8, "compile": args.compile, "threads": torch.get_num_threads(),
                      "load_average": load, "rows": rows}))


if __name__ == "__main__":
    main()
