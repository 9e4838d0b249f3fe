"""Benchmark the LLM backend on a JSON-intent-like prompt: load time, tokens/s, latency.

    python -m benchmarks.bench_llm --llm smollm2 [--n 10] [--dtype auto|float32,bfloat16] [--threads N]

The prompt imitates the rewriter's: a ~600-token system prompt (schema and few-shot examples)
and one shopper message, generated greedily with stop_at_json, as the assistant runs it.
The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass

import torch

from chat.json_output import JSONOutputError, extract_json_object
from chat.llm import LLM, Completion, load_llm

SYSTEM = (
    "You are the search planner of a fashion shop. Turn the shopper's latest message into one "
    "JSON object and nothing else.\nKeys:\n"
    '- "action": "search" for a new search, "refine" to change the current reference item, '
    '"chat" for anything else.\n'
    '- "target": a short description of the wanted product, in catalogue words (colour, article '
    "type, gender, usage).\n"
    '- "modification": what to change about the reference item, or "" when there is no reference.\n'
    '- "filters": an object with any of "gender" (Men, Women, Boys, Girls, Unisex), "articleType", '
    '"baseColour", "season" (Summer, Winter, Spring, Fall), "usage" (Casual, Formal, Sports, Ethnic, '
    "Party, Travel).\n"
    '- "negatives": a list of things the shopper does not want.\n'
    '- "reply": one friendly sentence for the shopper.\n'
    "Rules: use only the listed filter values; leave out filters the shopper did not ask for; never "
    'invent product ids; keep "reply" under twenty words; answer with JSON only, no prose and no '
    "code fences.\n"
)


def _example(action: str, target: str, modification: str, filters: dict, negatives: list, reply: str) -> dict:
    return {"action": action, "target": target, "modification": modification, "filters": filters,
            "negatives": negatives, "reply": reply}


EXAMPLES = [
    ("I'm after a black t-shirt",
     _example("search", "black t-shirt", "", {"articleType": "Tshirts", "baseColour": "Black"}, [],
              "Here are some black t-shirts.")),
    ("like this but red, for women",
     _example("refine", "red t-shirt for women", "make it red", {"gender": "Women", "baseColour": "Red"}, [],
              "Here it is in red, for women.")),
    ("this in blue, not so formal",
     _example("refine", "blue casual dress", "make it blue and more casual",
              {"baseColour": "Blue", "usage": "Casual"}, ["formal"], "Some more casual blue options.")),
    ("running shoes for men, no white ones",
     _example("search", "men's running shoes", "",
              {"gender": "Men", "articleType": "Sports Shoes", "usage": "Sports"}, ["white"],
              "Here are running shoes for men, none of them white.")),
    ("thanks, that's all for today",
     _example("chat", "", "", {}, [], "You're welcome, happy shopping!")),
]

QUERIES = [
    "show me a green kurta for men",
    "something like the second one but in yellow",
    "I need formal black heels for a wedding",
    "a winter jacket for girls, not pink",
    "do you have this in navy blue?",
    "casual white sneakers",
    "a leather watch for women",
    "what sizes do you have?",
    "a red party dress, shorter than this one",
    "sports shorts for boys",
]


DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class BenchConfig:
    llm: str
    n: int
    device: str | None
    dtypes: tuple[str, ...]
    threads: int | None
    max_new_tokens: int


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default="smollm2", help="LLM spec: model id, folder, .gguf path or smollm2")
    parser.add_argument("--n", type=int, default=10, help="timed requests per dtype (after one warm-up)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best present)")
    parser.add_argument("--dtype", default="auto",
                        help=f"one or more of {', '.join(DTYPES)}, comma-separated; several are loaded side by "
                             "side and their requests interleaved, so a busy machine slows all alike")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args(argv)
    dtypes = tuple(name.strip() for name in args.dtype.split(","))
    if unknown := [name for name in dtypes if name not in DTYPES]:
        parser.error(f"unknown dtype {unknown}; choose from {', '.join(DTYPES)}")
    return BenchConfig(args.llm, args.n, args.device, dtypes, args.threads, args.max_new_tokens)


def intent_messages(query: str) -> list[dict]:
    """The system prompt, the few-shot turns and the shopper's message, as the rewriter sends them."""
    messages = [{"role": "system", "content": SYSTEM}]
    for text, answer in EXAMPLES:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": json.dumps(answer)}]
    return messages + [{"role": "user", "content": query}]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with ten samples p95 is the slowest, as it should be."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def parses(text: str) -> bool:
    try:
        extract_json_object(text)
    except JSONOutputError:
        return False
    return True


def load_timed(config: BenchConfig, dtype: str) -> tuple[LLM, float]:
    llm = load_llm(config.llm, device=config.device, max_new_tokens=config.max_new_tokens, time_limit_s=60.0,
                   dtype=None if dtype == "auto" else getattr(torch, dtype))
    started = time.perf_counter()
    llm.load()
    return llm, time.perf_counter() - started


def prefill_seconds(llm: LLM) -> float:
    """Median time to the first token of the benchmark prompt: prompt processing, mostly."""
    llm.complete(intent_messages(QUERIES[0]), stop_at_json=True)  # warm-up: first-call overheads
    return statistics.median(llm.complete(intent_messages(QUERIES[0]), max_new_tokens=1).seconds for _ in range(3))


def summarise(llm: LLM, load_s: float, prefill_s: float, runs: list[Completion]) -> dict:
    latencies = [r.seconds for r in runs]
    new_tokens = sum(r.new_tokens for r in runs)
    decode_s = sum(latencies) - prefill_s * len(runs)  # the first token of each run comes with its prefill
    return {
        "dtype": str(llm.settings.dtype).removeprefix("torch."), "load_s": round(load_s, 2),
        "prompt_tokens": round(statistics.mean(r.prompt_tokens for r in runs)),
        "new_tokens_mean": round(new_tokens / len(runs), 1),
        "prefill_s": round(prefill_s, 3),
        "tokens_per_s": round(new_tokens / sum(latencies), 1),
        "decode_tokens_per_s": round((new_tokens - len(runs)) / max(decode_s, 1e-9), 1),
        "latency_s": {"p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3)},
        "json_ok": sum(parses(r.text) for r in runs), "stop_reasons": dict(Counter(r.stop_reason for r in runs)),
        "sample": runs[0].text,
    }


def run(config: BenchConfig) -> dict:
    if config.threads:
        torch.set_num_threads(config.threads)
    loaded = {name: load_timed(config, name) for name in config.dtypes}
    prefill = {name: prefill_seconds(llm) for name, (llm, _) in loaded.items()}
    runs: dict[str, list[Completion]] = {name: [] for name in loaded}
    for i in range(config.n):
        messages = intent_messages(QUERIES[i % len(QUERIES)])
        for name, (llm, _) in loaded.items():
            runs[name].append(llm.complete(messages, stop_at_json=True))
    first = next(iter(loaded.values()))[0]
    return {
        "llm": config.llm, "device": first.settings.device, "threads": torch.get_num_threads(), "n": config.n,
        "results": {name: summarise(llm, load_s, prefill[name], runs[name]) for name, (llm, load_s) in loaded.items()},
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    print(json.dumps({"config": asdict(config)}))
    print(json.dumps(run(config)))


if __name__ == "__main__":
    main()
