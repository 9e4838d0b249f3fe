"""What an untuned model's prompt costs and buys: prompt length against turn latency and reading.

    python -m benchmarks.bench_prompts --catalog ../shared/data/fashion-products \
        [--llm smollm2] [--n 20] [--threads 1] [--time-limit 60]

The same model (no adapter) reads the first `--n` turns of each development query file
(`benchmarks.bench_llm.turns`) with three prompts: the fine-tuned reader's one line
(`prompts/reader_finetuned.txt`), the instructions alone (`prompts/reader_instructions.txt`),
and the instructions with the worked examples (`prompts/reader_examples.txt`: the served
one). Each reads at margin 0 (the model's own reading wherever it parts from the rules') and
at the served margin (`chat.llm_reader.UNTUNED_HINT_MARGIN`). Per prompt: its tokens, turn
p50/p95 (the shared prefix cached, as served), and how many turns the reading equals the
fine-tuned reader's (`smollm2-shop`, 93% exact on its own dev turns: the nearest thing to a
label here) and the rules'. Readers run interleaved turn by turn, so a busy machine slows all
alike. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict

import torch

from benchmarks.bench_llm import percentile, turns
from chat.factory import make_rewriter
from chat.llm import load_llm
from chat.llm_reader import UNTUNED_HINT_MARGIN, LLMReader
from chat.reader_format import ReaderPrompt, fine_tuned_prompt, instruction_prompt
from retrieval.catalog import load_catalog
from retrieval.vocabulary import VocabularyMatcher


def prompts() -> dict[str, ReaderPrompt]:
    served = instruction_prompt()
    return {"one line": fine_tuned_prompt(), "instructions": ReaderPrompt("instructions", served.system),
            "instructions+examples": served}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_prompts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--llm", default="smollm2", help="an LLM spec without the adapter")
    parser.add_argument("--n", type=int, default=20, help="turns from each development file")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    catalog = load_catalog(args.catalog)
    matcher = VocabularyMatcher(catalog.vocabulary())
    rules = make_rewriter("rules", matcher, shop_words=catalog.words())
    tuned = make_rewriter("smollm2-shop", matcher, shop_words=catalog.words())
    tuned.time_limit_s = args.time_limit
    readers = {}
    for name, prompt in prompts().items():  # one model each: each keeps its own prefix cached
        for margin in (0.0, UNTUNED_HINT_MARGIN):
            readers[(name, margin)] = LLMReader(load_llm(args.llm), matcher, fallback=rules, prompt=prompt,
                                                time_limit_s=args.time_limit, hint_margin=margin,
                                                kind_hint_margin=margin).load()
    seconds, same_tuned, same_rules, prompt_tokens = defaultdict(list), defaultdict(int), defaultdict(int), {}
    items = turns(catalog, args.n)
    for _, message, state in items:
        reference = {"tuned": tuned.rewrite(message, state), "rules": rules.rewrite(message, state)}
        for key, reader in readers.items():
            started = time.perf_counter()
            intent = reader.rewrite(message, state)
            seconds[key].append(time.perf_counter() - started)
            same_tuned[key] += intent == reference["tuned"]
            same_rules[key] += intent == reference["rules"]
            if reader.llm.last_decoded is not None:
                prompt_tokens[key[0]] = reader.llm.last_decoded.prompt_tokens
    rows = []
    for (name, margin), values in seconds.items():
        row = {"prompt": name, "margin": margin, "prompt_tokens": prompt_tokens.get(name),
               "p50_ms": round(1000 * percentile(values, 50)), "p95_ms": round(1000 * percentile(values, 95)),
               "same_as_fine_tuned": same_tuned[(name, margin)], "same_as_rules": same_rules[(name, margin)],
               "turns": len(values)}
        rows.append(row)
        print(f"{name:>22} margin {margin:3g}: {row['prompt_tokens']} tokens, p50 {row['p50_ms']} ms, "
              f"= fine-tuned {row['same_as_fine_tuned']}/{len(values)}, = rules {row['same_as_rules']}/{len(values)}")
    print(json.dumps({"llm": args.llm, "n_per_file": args.n, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
