"""Fine-tuning data for the chat reader: train.jsonl and dev.jsonl of {kind, prompt, answer}.

    python -m training.rewriter_data --catalog ../shared/data/fashion-products \
        --exclude eval/test_ids.txt --out runs/rewriter_data --seed 0 \
        [--queries-out eval --gallery eval/dev_ids.txt]

Two sources: FashionIQ caption pairs (real shoppers' language, labelled offline by
`training.caption_labels`) placed in dialogue states with a current item of the matching
kind, and synthetic turns (`training.synthetic_turns`) for every dialogue move. A fixed,
seeded 15% of the caption pairs is the development set and is never trained on. Products
in `--exclude` (the test split) never appear, and no message equals a text of the
evaluation files. With `--queries-out`, also writes the development query files
dev_captions.jsonl and dev_shades.jsonl (`training.dev_queries`).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
from collections import Counter
from pathlib import Path

from chat.reader_format import answer_json, prompt_names, reader_prompt
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.catalog import Catalog, load_catalog, read_ids
from retrieval.vocabulary import VocabularyMatcher, phrase_key
from training.caption_labels import CAPTION_KINDS, CAPTIONS, CaptionLabel, CaptionPair, label_pair, load_pairs, split_pairs
from training.dev_queries import write_query_files
from training.synthetic_turns import Turn, TurnMaker, synthetic_turns

EVAL = Path(__file__).resolve().parents[1] / "eval"


def evaluation_texts(folder: Path = EVAL) -> set[str]:
    """Keys of every message in the evaluation files: a training message must not be one."""
    texts = set()
    for path in folder.glob("*.jsonl"):  # query files ({text}) and dialogue files ({turns})
        for line in path.open():
            row = json.loads(line)
            turns = row.get("turns", [row])
            texts |= {phrase_key(t["text"]) for t in turns if t.get("text")}
    return texts


def caption_turn(maker: TurnMaker, pair: CaptionPair, label: CaptionLabel) -> Turn:
    """The pair as a turn about a current item of its kind whose colour it changes."""
    rng, kinds = maker.rng, CAPTION_KINDS[pair.category]
    where = rng.choices(("picked", "photo", "upload"), (0.7, 0.15, 0.15))[0]
    for _ in range(20):
        state = maker.state("photo" if where == "upload" else where, kinds)
        if state.reference.attributes.get(maker.colour) != label.colour:
            break
    intent = label.intent(maker.m)
    if where == "upload":
        state = DialogueState(results=state.results, constraints=state.constraints)
        intent = intent.model_copy(update={"reference": "upload"})
    return Turn(f"caption_{pair.category}", pair.message, state, where == "upload", intent)


def caption_turns(maker: TurnMaker, pairs: list[CaptionPair], n: int) -> list[Turn]:
    """Up to `n` labelled pairs as turns (ambiguous pairs are skipped)."""
    turns = []
    for pair in maker.rng.sample(pairs, len(pairs)):
        label = label_pair(pair.captions, maker.m)
        if label is not None:
            turns.append(caption_turn(maker, pair, label))
        if len(turns) >= n:
            break
    return turns


def example(turn: Turn, matcher: VocabularyMatcher, names: dict[str, str],
            rules: RulesRewriter | None = None) -> dict:
    """One JSONL row: the user prompt (the reader adds the system line) and the answer; with
    `rules`, also the rules reader's answer for the same turn, to score it beside the model."""
    row = {"kind": turn.kind,
           "prompt": reader_prompt(turn.message, turn.state, turn.has_upload, matcher),
           "answer": answer_json(turn.intent, names)}
    if rules is not None:
        row["rules"] = answer_json(rules.rewrite(turn.message, turn.state, turn.has_upload), names)
    return row


def build(catalog: Catalog, excluded: set[str], seed: int, captions: int, synthetic: int,
          dev_size: int, pairs: list[CaptionPair]) -> tuple[list[dict], list[dict]]:
    """(train rows, dev rows), reproducible from `seed`."""
    matcher = VocabularyMatcher(catalog.vocabulary())
    names = prompt_names(matcher)
    items = [(pid, catalog.attributes(pid)) for pid in catalog.ids if pid not in excluded]
    train_pairs, dev_pairs = split_pairs(pairs)
    banned = evaluation_texts()
    rows = {}
    for split, rng_seed, pool, n_captions, n_synthetic in (
            ("train", seed, train_pairs, captions, synthetic),
            ("dev", seed + 1, dev_pairs, dev_size // 2, dev_size - dev_size // 2)):
        maker = TurnMaker(matcher, items, random.Random(rng_seed))
        turns = caption_turns(maker, pool, n_captions) + synthetic_turns(maker, n_synthetic)
        maker.rng.shuffle(turns)
        rules = RulesRewriter(matcher) if split == "dev" else None
        rows[split] = [example(t, matcher, names, rules) for t in turns
                       if phrase_key(t.message) not in banned]
    return rows["train"], rows["dev"]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.rewriter_data",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (products.csv)")
    parser.add_argument("--exclude", required=True, help="IDS.txt of products never to use (test split)")
    parser.add_argument("--out", required=True, type=Path, help="folder for train.jsonl and dev.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--captions", type=int, default=2400, help="caption turns to train on")
    parser.add_argument("--synthetic", type=int, default=2400, help="synthetic turns to train on")
    parser.add_argument("--dev", type=int, default=600, help="dev turns (half captions)")
    parser.add_argument("--captions-dir", type=Path, default=CAPTIONS)
    parser.add_argument("--queries-out", type=Path, help="also write dev query files here")
    parser.add_argument("--gallery", default=str(EVAL / "dev_ids.txt"), help="IDS.txt of the dev gallery")
    args = parser.parse_args(argv)
    catalog = load_catalog(args.catalog)
    excluded = set(read_ids(args.exclude))
    pairs = load_pairs(args.captions_dir)
    train, dev = build(catalog, excluded, args.seed, args.captions, args.synthetic, args.dev, pairs)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "dev.jsonl", dev)
    arguments = sys.argv[1:] if argv is None else argv
    (args.out / "command.txt").write_text(" ".join(["python -m training.rewriter_data", *map(shlex.quote, arguments)]) + "\n")
    print(f"wrote {len(train)} train and {len(dev)} dev rows to {args.out}")
    print("train kinds:", dict(Counter(r["kind"] for r in train).most_common()))
    if args.queries_out:
        write_query_files(catalog, read_ids(args.gallery), split_pairs(pairs)[1],
                          args.queries_out, args.seed)


if __name__ == "__main__":
    main()
