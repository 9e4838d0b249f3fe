"""Latency of schema-constrained JSON decoding (chat/decoding.py) against plain `generate()` on CPU.

    python -m benchmarks.bench_decoding [--llm smollm2] [--n 20] [--threads 2] [--variants float32,bfloat16,int8]

Prints, per weight variant (float32, bfloat16, int8 dynamic quantization of the Linear layers):
prefill ms of a 60-token prompt and ms per decoded token; the cost of autograd bookkeeping
(grad enabled / no_grad / inference_mode); then end-to-end ms p50/p95 over `--n` shopper
messages for plain generate (20 new tokens) and for the decoder with and without jump-forward,
with how many answers are valid and how many equal the float32 answer without jump-forward.
All arms run interleaved, message by message, so a busy machine slows them alike.
The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from dataclasses import asdict, dataclass

import jsonschema
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from benchmarks.bench_llm import percentile
from chat.decoding import ConstrainedDecoder
from chat.llm import resolve_spec

VARIANTS = ("float32", "bfloat16", "int8")
PREFILL_TOKENS = 60
GENERATE_TOKENS = 20  # plain generate's answer length: about what the decoder's answers take

SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"enum": ["search", "answer", "reset", "smalltalk"]},
        "set": {
            "type": "object",
            "properties": {
                "colour": {"enum": ["Black", "White", "Blue", "Navy Blue", "Red", "Green", "Grey", "Pink",
                                    "Brown", "Yellow", "Purple", "Beige"]},
                "gender": {"enum": ["Men", "Women", "Boys", "Girls", "Unisex"]},
                "articleType": {"enum": ["Tshirts", "Shirts", "Casual Shoes", "Sports Shoes", "Heels", "Kurtas",
                                         "Tops", "Dresses", "Jeans", "Jackets", "Handbags", "Watches"]},
            },
            "additionalProperties": False,
        },
        "text": {"type": "string", "maxLength": 40},
    },
    "required": ["action"],
    "additionalProperties": False,
}
SYSTEM = (
    "Turn the shopper's message into one JSON object. action: search, answer, reset or smalltalk; "
    'set: catalogue filters; text: other wishes. Example: {"action":"search","set":{"colour":"Red",'
    '"gender":"Women"},"text":"long sleeves"}'
)
MESSAGES = [
    "a navy blue shirt with long sleeves", "red dresses for women", "hello!", "start over please",
    "black sports shoes for men", "do you have this in green?", "white casual shoes, size 9",
    "a yellow kurta for a wedding", "thanks, bye", "grey jeans for boys", "what is this made of?",
    "pink heels, not too high", "a brown leather handbag", "show me jackets for girls",
    "purple tops with short sleeves", "a watch for my dad", "beige tshirts, cotton", "forget everything",
    "blue jeans but cheaper", "something for a beach holiday",
]


@dataclass(frozen=True)
class BenchConfig:
    llm: str
    n: int
    threads: int
    variants: tuple[str, ...]
    max_new_tokens: int


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default="smollm2", help="model folder, .gguf path, hub id or smollm2")
    parser.add_argument("--n", type=int, default=20, help="shopper messages per arm")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args(argv)
    variants = tuple(name.strip() for name in args.variants.split(","))
    if unknown := [name for name in variants if name not in VARIANTS]:
        parser.error(f"unknown variant {unknown}; choose from {', '.join(VARIANTS)}")
    return BenchConfig(args.llm, args.n, args.threads, variants, args.max_new_tokens)


def load_float32(spec: str):
    """Tokenizer and float32 model for a spec; GGUF weights are de-quantized to dense tensors."""
    from transformers import GgufConfig

    source = resolve_spec(spec)
    extra = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(source.name_or_path, **extra)
    if source.gguf_file:
        extra["quantization_config"] = GgufConfig(dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(source.name_or_path, dtype=torch.float32, **extra)
    return tokenizer, model.eval()


def make_variant(model, name: str):
    """A copy of the float32 model in bfloat16, or with int8 dynamically quantized Linear layers."""
    if name == "float32":
        return model
    if name == "bfloat16":
        return copy.deepcopy(model).to(torch.bfloat16)
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def prompt_ids(tokenizer, message: str) -> list[int]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]


def timed_forward(model, input_ids: torch.Tensor, cache: DynamicCache) -> float:
    """Seconds for one forward pass over `input_ids` after `cache`, last-position logits only."""
    started = time.perf_counter()
    model(input_ids=input_ids, cache=cache, logits_to_keep=1)
    return time.perf_counter() - started


def forward_costs(model, ids: list[int], steps: int = 8) -> dict:
    """Median ms of a 60-token prefill and of one cached decoding step."""
    prompt = torch.tensor([(ids * PREFILL_TOKENS)[:PREFILL_TOKENS]])
    token = torch.tensor([[ids[-1]]])
    prefills, steps_ms = [], []
    for _ in range(3):
        cache = DynamicCache(config=model.config)
        prefills.append(timed_forward(model, prompt, cache))
        steps_ms += [timed_forward(model, token, cache) for _ in range(steps)]
    return {"prefill_ms": round(1000 * statistics.median(prefills), 1),
            "token_ms": round(1000 * statistics.median(steps_ms), 1)}


def grad_mode_costs(model, ids: list[int]) -> dict:
    """ms per cached decoding step with autograd on, under no_grad and under inference_mode."""
    modes = {"grad_enabled": torch.enable_grad, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}
    costs = {}
    for name, mode in modes.items():
        with mode():
            costs[name] = forward_costs(model, ids, steps=6)["token_ms"]
    return costs


@dataclass(frozen=True)
class ArmRun:
    wall_s: float
    cpu_s: float  # CPU time of the whole process: what the run costs without other programs on the cores
    text: str  # "" for plain generate, whose free text is not the point here
    new_tokens: int
    forward_passes: int


def run_arm(decoder: ConstrainedDecoder | None, model, tokenizer, ids: list[int]) -> ArmRun:
    """One answer from the decoder, or from plain greedy generate() of exactly GENERATE_TOKENS tokens
    (today's code path, unconstrained) when `decoder` is None."""
    wall, cpu = time.perf_counter(), time.process_time()
    if decoder is None:
        inputs = torch.tensor([ids])
        with torch.inference_mode():
            model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=False,
                           min_new_tokens=GENERATE_TOKENS, max_new_tokens=GENERATE_TOKENS,
                           pad_token_id=tokenizer.eos_token_id)
        text, tokens, passes = "", GENERATE_TOKENS, GENERATE_TOKENS
    else:
        decoded = decoder.decode(ids)
        text, tokens, passes = decoded.text, decoded.new_tokens, decoded.forward_passes
    return ArmRun(time.perf_counter() - wall, time.process_time() - cpu, text, tokens, passes)


def is_valid(text: str) -> bool:
    try:
        jsonschema.validate(json.loads(text), SCHEMA)
    except (json.JSONDecodeError, jsonschema.ValidationError):
        return False
    return True


def summarise(runs: list[ArmRun], reference: list[str]) -> dict:
    wall = [1000 * run.wall_s for run in runs]
    cpu = [1000 * run.cpu_s for run in runs]
    texts = [run.text for run in runs if run.text]
    return {"p50_ms": round(percentile(wall, 50)), "p95_ms": round(percentile(wall, 95)),
            "cpu_p50_ms": round(percentile(cpu, 50)), "cpu_p95_ms": round(percentile(cpu, 95)),
            "new_tokens_mean": round(statistics.mean(run.new_tokens for run in runs), 1),
            "forward_passes_mean": round(statistics.mean(run.forward_passes for run in runs), 1),
            "valid": sum(map(is_valid, texts)), "n": len(texts),
            "same_as_reference": sum(a == b for a, b in zip(texts, reference)) if texts and reference else None}


def run(config: BenchConfig) -> dict:
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    tokenizer, base = load_float32(config.llm)
    load_s = time.perf_counter() - started
    models = {name: make_variant(base, name) for name in config.variants}
    prompts = [prompt_ids(tokenizer, MESSAGES[i % len(MESSAGES)]) for i in range(config.n)]
    arms = {"generate/float32": None}
    for name, model in models.items():  # without jump-forward in float32 only: the runs are slow enough
        for jump in (False, True) if name == "float32" else (True,):
            arms[f"decoder{'+jf' if jump else ''}/{name}"] = ConstrainedDecoder(
                model, tokenizer, SCHEMA, max_new_tokens=config.max_new_tokens, jump_forward=jump)
    with torch.inference_mode():
        costs = {name: forward_costs(model, prompts[0]) for name, model in models.items()}
    grad_modes = grad_mode_costs(base, prompts[0])
    results = {arm: [] for arm in arms}
    for ids in [prompts[0], *prompts]:  # the first message once more, untimed: warm-up
        for arm, decoder in arms.items():
            results[arm].append(run_arm(decoder, base, tokenizer, ids))
    reference = [run.text for run in results.get("decoder/float32", [])[1:]]
    summary = {arm: summarise(runs[1:], reference) for arm, runs in results.items()}
    return {"config": asdict(config), "load_s": round(load_s, 1), "threads": torch.get_num_threads(),
            "prompt_tokens_mean": round(statistics.mean(len(p) for p in prompts), 1),
            "forward_costs": costs, "grad_modes_token_ms": grad_modes, "end_to_end": summary,
            "samples": {arm: runs[1].text for arm, runs in results.items() if runs[1].text}}


def print_table(report: dict) -> None:
    print(f"prompt tokens (mean): {report['prompt_tokens_mean']}, threads: {report['threads']}")
    for name, cost in report["forward_costs"].items():
        print(f"{name:>9}: prefill {PREFILL_TOKENS} tokens {cost['prefill_ms']} ms, one token {cost['token_ms']} ms")
    print("float32 ms per token by autograd mode:", report["grad_modes_token_ms"])
    print(f"{'arm':<22}{'p50 ms':>8}{'p95 ms':>8}{'cpu p50':>9}{'cpu p95':>9}{'tokens':>8}{'passes':>8}"
          f"{'valid':>7}{'same':>6}")
    for arm, row in report["end_to_end"].items():
        valid = f"{row['valid']}/{row['n']}" if row["n"] else "-"
        same = "-" if row["same_as_reference"] is None else row["same_as_reference"]
        print(f"{arm:<22}{row['p50_ms']:>8}{row['p95_ms']:>8}{row['cpu_p50_ms']:>9}{row['cpu_p95_ms']:>9}"
              f"{row['new_tokens_mean']:>8}{row['forward_passes_mean']:>8}{valid:>7}{same:>6}")


def main(argv: list[str] | None = None) -> None:
    report = run(parse_args(argv))
    print_table(report)
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
