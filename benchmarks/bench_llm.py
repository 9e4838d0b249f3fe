"""Turn latency of the readers side by side: rules, SmolLM2 as it comes, and the fine-tuned reader.

    python -m benchmarks.bench_llm --catalog ../shared/data/fashion-products \
        [--readers rules,smollm2,smollm2-shop,smollm2-shop+unquantized] [--n 60] [--threads 2] \
        [--agree-with smollm2-shop] [--concurrent 8 --time-limit 30]

A reader is an `--llm` spec as served (on a CPU with native bf16, its feed-forward weights in
int8: `chat.llm.load_settings`), `+unquantized` for all its weights in bf16, `+int8` for int8
feed-forward weights wherever the CPU is.
With `--agree-with SPEC` each reader's share of turns whose intent equals that reader's is
reported too; every LLM reader reports the bytes its weights take in memory. With
`--concurrent N` each LLM reader then reads the same turns again from N threads at once, as
the web app's shoppers do (their turns decoded in batches, `retrieval.batching`): how many intents
equal its reading alone, and the wall time against the sum of its turns alone.

Every reader reads the same turns, interleaved turn by turn (so a busy machine slows all
alike): the first `--n` lines of each development query file (real people's captions, shade
words, template-like changes), each a change to a picked catalogue item, as the assistant
sees them. Timed is `rewrite(message, state)`, the whole reading of a turn (prompt, decoding,
parsing; the search is the same for every reader and is timed by `evaluation.assistant`).
The LLM readers run as the app runs them (`chat.factory.make_rewriter`: weights in the
precision `chat.llm.load_settings` picks, constrained decoding, rules on timeout). Per
reader: p50/p95 per file and overall, how many turns the rules answered instead, and for the
LLMs the decoder's passes and drafted tokens (of which the rules' hint drafted). The last line of
stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from chat.decoding import Decoded
from chat.factory import make_rewriter
from chat.state import DialogueState
from retrieval.catalog import Catalog, load_catalog
from retrieval.reference import Reference
from retrieval.vocabulary import VocabularyMatcher

EVAL = Path(__file__).resolve().parents[1] / "eval"
FILES = ("dev_captions.jsonl", "dev_shades.jsonl", "dev_queries.jsonl")
READERS = ("rules", "smollm2", "smollm2-shop")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with ten samples p95 is the slowest, as it should be."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def turns(catalog: Catalog, n: int) -> list[tuple[str, str, DialogueState]]:
    """(file, message, state) for the first `n` queries of each file: the reference picked
    from one shown result, as `evaluation.assistant` does."""
    out = []
    for name in FILES:
        for line in (EVAL / name).read_text().splitlines()[:n]:
            query = json.loads(line)
            pid = str(query["reference"])
            reference = Reference("catalog", product_id=pid, attributes=catalog.attributes(pid))
            out.append((name, query["text"], DialogueState(reference=reference, results=(pid,), turn=1)))
    return out


def run(catalog: Catalog, readers: list[str], n: int, agree_with: str | None = None,
        time_limit_s: float | None = None, concurrent: int | None = None) -> dict:
    matcher = VocabularyMatcher(catalog.vocabulary())
    loaded, load_s = {}, {}
    for spec in readers:
        started = time.perf_counter()
        base, _, variant = spec.partition("+")
        loaded[spec] = make_rewriter(base, matcher, int8={"int8": True, "unquantized": False}.get(variant))
        if time_limit_s and hasattr(loaded[spec], "time_limit_s"):
            loaded[spec].time_limit_s = time_limit_s
        load_s[spec] = round(time.perf_counter() - started, 1)
    seconds: dict[str, dict[str, list[float]]] = {spec: defaultdict(list) for spec in readers}
    decoded: dict[str, list[Decoded]] = defaultdict(list)
    intents: dict[str, list[dict]] = defaultdict(list)
    for name, message, state in turns(catalog, n):
        for spec, reader in loaded.items():
            started = time.perf_counter()
            intents[spec].append(reader.rewrite(message, state).model_dump())
            seconds[spec][name].append(time.perf_counter() - started)
            if getattr(reader, "llm", None) is not None and reader.llm.last_decoded is not None:
                decoded[spec].append(reader.llm.last_decoded)
    results = {spec: _summary(seconds[spec], load_s[spec], loaded[spec], decoded[spec]) for spec in readers}
    if agree_with in intents:
        for spec in readers:
            same = sum(a == b for a, b in zip(intents[spec], intents[agree_with]))
            results[spec]["agreement"] = {"with": agree_with, "same": same, "turns": len(intents[spec]),
                                          "share": round(same / len(intents[spec]), 4)}
    for spec, reader in loaded.items():
        if concurrent and getattr(reader, "llm", None) is not None:
            alone_s = sum(s for values in seconds[spec].values() for s in values)
            results[spec]["concurrent"] = read_together(reader, turns(catalog, n), intents[spec], concurrent, alone_s)
    return results


def read_together(reader, work: list[tuple[str, str, DialogueState]], alone: list[dict], threads: int,
                  alone_s: float) -> dict:
    """The turns read again from `threads` threads at once: intents equal to the readings alone, and time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        together = list(pool.map(lambda turn: reader.rewrite(turn[1], turn[2]).model_dump(), work))
    same = sum(a == b for a, b in zip(together, alone))
    return {"threads": threads, "same_as_alone": same, "turns": len(alone), "share": round(same / len(alone), 4),
            "seconds": round(time.perf_counter() - started, 1), "alone_seconds": round(alone_s, 1)}


def weight_bytes(model) -> int:
    """What the model's weights take serialized, quantized tensors as stored (their int8 data
    and scales), tied weights once."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def _summary(by_file: dict[str, list[float]], load_s: float, reader, decoded: list[Decoded]) -> dict:
    every = [s for values in by_file.values() for s in values]
    ms = lambda values, q: round(1000 * percentile(values, q), 1)  # noqa: E731
    summary = {"load_s": load_s, "turns": len(every), "p50_ms": ms(every, 50), "p95_ms": ms(every, 95),
               "by_file": {name: {"p50_ms": ms(v, 50), "p95_ms": ms(v, 95)} for name, v in by_file.items()}}
    if getattr(reader, "llm", None) is not None:
        summary["paths"] = dict(reader.path_counts)
        summary["dtype"] = str(reader.llm.settings.dtype).removeprefix("torch.")
        summary["int8_weights"] = reader.llm.settings.quantize_int8
        summary["weights_mb"] = round(weight_bytes(reader.llm._model) / 2**20, 1)
        if decoded:
            summary["decoder"] = {key: round(statistics.mean(getattr(d, key) for d in decoded), 1)
                                  for key in ("prompt_tokens", "new_tokens", "forced_tokens", "drafted_tokens", "hinted_tokens",
                                              "forward_passes")}
            summary["decoder"]["prefill_ms"] = round(1000 * statistics.mean(d.prefill_s for d in decoded), 1)
            summary["decoder"]["chose_hint_share"] = round(statistics.mean(d.chose_hint for d in decoded), 3)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (products.csv)")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated --llm specs")
    parser.add_argument("--n", type=int, default=60, help="turns from each development file")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--agree-with", help="a reader of --readers: report each reader's agreement with it")
    parser.add_argument("--concurrent", type=int, help="then read the turns again from this many threads at once")
    parser.add_argument("--time-limit", type=float, help="seconds per turn before the rules answer (default: the "
                        "reader's own; raise it to compare readings on a busy machine)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    results = run(load_catalog(args.catalog), readers, args.n, args.agree_with, args.time_limit, args.concurrent)
    for spec, row in results.items():
        print(f"{spec:>14}: p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  {row.get('paths', '')}")
    print(json.dumps({"threads": torch.get_num_threads(), "n_per_file": args.n, "results": results}))


if __name__ == "__main__":
    main()
