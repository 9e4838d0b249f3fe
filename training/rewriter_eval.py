"""Dev-set report, loss curve and model card of a reader fine-tuning run.

Scores are computed on the answer JSON itself: exact match of the whole answer, exact match
without the soft `text` (its wording is free), and per key how often the gold value is
reproduced and how often a key the gold lacks is invented. When dev rows carry the rules'
answer for the same turn (`rules`), the rules are scored the same way, per kind of turn.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from chat.reader_format import KEYS

MAX_NEW_TOKENS = 48   # the longest dev answer is ~35 tokens
EVAL_BATCH = 16


@torch.no_grad()
def generate(model, tokenizer, prompts: list[list[int]]) -> list[str]:
    """Greedy answers for tokenised prompts, in batches with left padding."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    device = next(model.parameters()).device
    answers = []
    for start in range(0, len(prompts), EVAL_BATCH):
        chunk = prompts[start:start + EVAL_BATCH]
        width = max(map(len, chunk))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=MAX_NEW_TOKENS,
                             do_sample=False, eos_token_id=stop, pad_token_id=pad)
        answers += tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    return [a.strip() for a in answers]


def score(golds: list[str], preds: list[str], kinds: list[str]) -> dict:
    """Exact match (all, without text), validity, per key and per kind, in percent."""
    gold_data, pred_data = [json.loads(g) for g in golds], [_parse(p) for p in preds]
    exact = [g == p for g, p in zip(golds, preds)]
    loose = [p is not None and _without_text(g) == _without_text(p) for g, p in zip(gold_data, pred_data)]
    keys = {}
    for key in KEYS:
        has = [i for i, g in enumerate(gold_data) if key in g]
        right = sum(pred_data[i] is not None and pred_data[i].get(key) == gold_data[i][key] for i in has)
        invented = sum(p is not None and key in p and key not in g for g, p in zip(gold_data, pred_data))
        if has or invented:
            keys[key] = {"gold": len(has), "accuracy": _pct(right, len(has)), "invented": invented}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for kind, hit in zip(kinds, loose):
        by_kind[kind].append(hit)
    return {"n": len(golds), "exact": _pct(sum(exact), len(exact)),
            "exact_without_text": _pct(sum(loose), len(loose)),
            "valid_json": _pct(sum(p is not None for p in pred_data), len(preds)), "keys": keys,
            "by_kind": {k: {"n": len(v), "exact_without_text": _pct(sum(v), len(v))}
                        for k, v in sorted(by_kind.items())}}


def evaluate(model, tokenizer, rows: list[dict], encode_prompt: Callable[[str], list[int]]) -> dict:
    """The model's scores on dev rows, with the rules' beside them when the rows have them."""
    preds = generate(model, tokenizer, [encode_prompt(r["prompt"]) for r in rows])
    golds, kinds = [r["answer"] for r in rows], [r["kind"] for r in rows]
    report = score(golds, preds, kinds)
    report["examples"] = [{"prompt": r["prompt"], "gold": g, "model": p}
                          for r, g, p in zip(rows, golds, preds) if g != p][:40]
    if all("rules" in r for r in rows):
        report["rules"] = score(golds, [r["rules"] for r in rows], kinds)
    return report


def _parse(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _without_text(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "text"}


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def write_loss_curve(losses: list[float], path: Path) -> None:
    """Per-step loss and its 10-step running mean."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    window = [sum(losses[max(0, i - 9):i + 1]) / len(losses[max(0, i - 9):i + 1]) for i in range(len(losses))]
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(losses, alpha=0.4, label="step")
    axes.plot(window, label="10-step mean")
    axes.set(xlabel="step", ylabel="answer-token cross-entropy", yscale="log", title="LoRA fine-tuning")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_card(out: Path, summary: dict) -> None:
    """The model card: what the adapter is, how it was made, what it scores, its licences."""
    config, dev = summary["config"], summary["dev"]
    rules = dev.get("rules", {})
    kinds = "\n".join(
        f"| {kind} | {row['n']} | {row['exact_without_text']} | "
        f"{rules.get('by_kind', {}).get(kind, {}).get('exact_without_text', '')} |"
        for kind, row in dev["by_kind"].items())
    keys = "\n".join(f"| {k} | {v['gold']} | {v['accuracy']} | {v['invented']} |" for k, v in dev["keys"].items())
    size = sum(p.stat().st_size for p in out.glob("adapter_model.safetensors")) / 1e6
    template = (Path(__file__).with_name("rewriter_card.md")).read_text()
    (out / "README.md").write_text(template.format(
        **config, train_rows=summary["train_rows"], seconds=summary["train_seconds"],
        steps_run=summary["steps_run"], train_minutes=summary["train_seconds"] / 60,
        minutes_budget=config["minutes"], final_loss=summary["final_loss"], n=dev["n"],
        exact=dev["exact"], loose=dev["exact_without_text"], valid=dev["valid_json"],
        rules_loose=rules.get("exact_without_text", "n/a"), kinds=kinds, keys=keys, size=size,
        data_command=data_command(Path(config["data"]))))


def data_command(data: Path) -> str:
    """The command that wrote the training data, as `training.rewriter_data` recorded it."""
    recorded = data / "command.txt"
    if recorded.exists():
        return recorded.read_text().strip()
    return f"python -m training.rewriter_data ... --out {data} (command not recorded)"
