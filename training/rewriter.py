"""LoRA fine-tuning of the chat reader: (state line, message) -> compact intent JSON.

    python -m training.rewriter --data runs/rewriter_data --out models/smollm2-shop --seed 0 \
        [--steps N] [--threads 2] [--base smollm2|MODEL_ID|FOLDER|FILE.gguf]

The base is the packaged SmolLM2-135M-Instruct GGUF (de-quantized to fp32 by transformers),
so the adapter fits the model the app serves. Prompts are built by `chat.reader_format`
exactly as the reader builds them; the loss covers only the answer tokens, and only those
positions go through the 49k-word output layer (a fifth of a step's compute otherwise).
On CUDA the base loads in 4-bit NF4 (bitsandbytes) for larger `--base` models: untested here.
Writes the adapter (safetensors), loss_curve.png, dev_report.json and a model card README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from chat.llm import LLMUnavailableError, resolve_spec
from chat.reader_format import SYSTEM
from training.rewriter_eval import evaluate, write_card, write_loss_curve

SMOLLM2 = "smollm2"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"   # what the packaged GGUF quantizes
END = "<|im_end|>"                                       # ChatML end of turn: the answer's stop


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one run, saved with the adapter."""

    data: str
    out: str
    base: str = SMOLLM2
    seed: int = 0
    steps: int = 400          # an upper bound: the run also stops at `minutes`
    minutes: float = 35.0     # wall-clock budget: the machine is shared, step time varies 10x
    batch: int = 8
    rank: int = 8
    alpha: int = 16
    lr: float = 1e-3
    warmup: int = 10
    max_len: int = 128        # prompt + answer are ~75 tokens; longer rows are cut from the left
    threads: int = 2
    dev_limit: int = 300
    bf16: bool = False        # CPU autocast to bf16: measured slower than fp32 here
    resume: str | None = None # an adapter folder to keep training (a run cut short by the clock)


def load_base(spec: str) -> tuple[PreTrainedTokenizerBase, torch.nn.Module]:
    """Tokenizer and model for a base spec: `smollm2`, a model id or folder, or a .gguf path."""
    try:
        source = resolve_spec(spec)  # the serving path's reading of an LLM spec
    except LLMUnavailableError as err:
        raise SystemExit(f"--base: {err}") from None
    folder, gguf = source.name_or_path, source.gguf_file
    kwargs: dict = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    if torch.cuda.is_available() and not gguf:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=quant, device_map="auto")
        return tokenizer, prepare_model_for_kbit_training(model)
    return tokenizer, AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)


def encode(tokenizer: PreTrainedTokenizerBase, prompt: str, answer: str | None, max_len: int
           ) -> tuple[list[int], int]:
    """Token ids of the chat (system, user, and the answer if given) and where the answer starts."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    head = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    head = list(head["input_ids"] if hasattr(head, "keys") else head)   # transformers 5: a BatchEncoding
    tail = tokenizer(answer + END, add_special_tokens=False)["input_ids"] if answer is not None else []
    head = head[-(max_len - len(tail)):] if len(head) + len(tail) > max_len else head
    return head + tail, len(head)


def batches(rows: list[tuple[list[int], int]], batch: int, steps: int, seed: int):
    """`steps` batches, epochs reshuffled by a seeded generator."""
    rng, order = random.Random(seed), []
    for _ in range(steps):
        if len(order) < batch:
            more = list(range(len(rows)))
            rng.shuffle(more)
            order += more
        yield [rows[i] for i in order[:batch]]
        order = order[batch:]


def answer_loss(model: torch.nn.Module, rows: list[tuple[list[int], int]], pad: int) -> torch.Tensor:
    """Mean cross-entropy over answer tokens; logits only at the positions predicting them."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad)                      # (B, T)
    mask = torch.zeros((len(rows), width), dtype=torch.long)       # (B, T)
    for i, (row, _) in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1
    device = next(p for p in model.parameters()).device
    inner = model.get_base_model()
    hidden = inner.model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
    rows_at = [(i, t) for i, (row, start) in enumerate(rows) for t in range(start - 1, len(row) - 1)]
    b, t = (torch.tensor(x) for x in zip(*rows_at))
    logits = inner.lm_head(hidden[b.to(device), t.to(device)]).float()   # (N answer tokens, V)
    return torch.nn.functional.cross_entropy(logits, ids[b, t + 1].to(device))


def train(config: TrainConfig) -> dict:
    """Fine-tune, evaluate on the dev rows, save adapter, curve, report and card."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, model = load_base(config.base)
    if config.resume:
        model = PeftModel.from_pretrained(model, config.resume, is_trainable=True)
    else:
        model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    train_rows = _read(Path(config.data) / "train.jsonl")
    encoded = [encode(tokenizer, r["prompt"], r["answer"], config.max_len) for r in train_rows]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    losses, start = [], time.time()
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, time.time() - start, config))
    model.train()
    progress = tqdm(batches(encoded, config.batch, config.steps, config.seed), total=config.steps,
                    desc="LoRA steps")
    for rows in progress:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16 and not torch.cuda.is_available()):
            loss = answer_loss(model, rows, pad)
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
        if time.time() - start > config.minutes * 60:
            break
    seconds = time.time() - start
    model.save_pretrained(out, safe_serialization=True)
    _point_config_at_hub(out, config.base)
    model.eval()
    dev_rows = _read(Path(config.data) / "dev.jsonl")[:config.dev_limit]
    report = evaluate(model, tokenizer, dev_rows,
                      lambda p: encode(tokenizer, p, None, config.max_len)[0])
    summary = {"config": asdict(config), "train_rows": len(train_rows), "steps_run": len(losses),
               "train_seconds": round(seconds),
               "final_loss": sum(losses[-10:]) / len(losses[-10:]), "losses": losses, "dev": report}
    (out / "dev_report.json").write_text(json.dumps(summary, indent=1))
    write_loss_curve(losses, out / "loss_curve.png")
    write_card(out, summary)
    return summary


def _lr_factor(step: int, seconds: float, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth over whichever runs out first, the steps
    or the minutes, so a run cut short by a busy machine still ends on a low rate."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = max((step - config.warmup) / max(1, config.steps - config.warmup),
                   seconds / (config.minutes * 60))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _point_config_at_hub(out: Path, base: str) -> None:
    """The adapter config names the public model the GGUF quantizes, not this machine's path."""
    path = out / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = SMOLLM2_HUB_ID if base == SMOLLM2 else base
    path.write_text(json.dumps(config, indent=2))


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.rewriter", description=__doc__.split("\n\n")[0])
    defaults = TrainConfig(data="", out="")
    parser.add_argument("--data", required=True, help="folder with train.jsonl and dev.jsonl")
    parser.add_argument("--out", required=True, help="folder for the adapter, report and card")
    parser.add_argument("--base", default=defaults.base, help="smollm2, a transformers model id or folder, or a .gguf")
    for name in ("seed", "steps", "batch", "rank", "warmup", "threads", "dev_limit"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="wall-clock budget")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on CPU")
    parser.add_argument("--resume", help="adapter folder to continue training (use another --seed)")
    args = parser.parse_args(argv)
    summary = train(TrainConfig(**vars(args)))
    dev = summary["dev"]
    print(f"trained {summary['steps_run']} steps in {summary['train_seconds']} s, "
          f"final loss {summary['final_loss']:.3f}; dev exact match {dev['exact']:.1f}% on {dev['n']} prompts")


if __name__ == "__main__":
    main()
