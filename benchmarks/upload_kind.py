"""Does "same but in blue" on an uploaded photo keep the photo's kind? The share of the top 12
with the reference's article type (and gender), with and without the photo's inferred kind
and gender as filters, for a sweep of the confidence needed to trust them.

    python -m benchmarks.upload_kind --catalog DIR --encoder SPEC --gallery IDS.txt \
        (--queries Q.jsonl | --generate N) [--thresholds 0.4 0.6 ...] [--json]

Upload semantics: the assistant gets only the reference's pixels (its vector, inferred with
the product itself kept out of the neighbour vote), never its catalogue record. Only colour
changes (`"column": "baseColour"` in Q.jsonl) are measured: the kind and gender must stay.
`--generate N` writes N colour changes of gallery items instead (for picking the threshold
on development items, never on the test split). A threshold above 1 is "before": nothing
inferred is trusted. Where the assistant asks "Is this a dress or a kurta?", the share after
the shopper clicks the right answer (when it is offered) is reported too, with how often the
answer was needed (the likelier of the two kinds offered was wrong) and how often a kind was
filtered on without asking and was wrong (a question that should have been asked).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from chat.assistant import Assistant, Turn
from chat.factory import AssistantConfig, open_assistant
from chat.state import DialogueState
from retrieval.reference import Reference

SHOWN = 12
NEVER = 1.01  # a threshold no probability reaches: inferred filters off (the "before")
PHRASINGS = ("same but in {c}", "this in {c}", "make it {c}", "I'd like it in {c}", "same style but {c}")


def colour_queries(path: Path) -> list[dict]:
    """The colour changes of a Q.jsonl file."""
    queries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [q for q in queries if q.get("column") == "baseColour"]


def generated_queries(assistant: Assistant, n: int, seed: int = 0) -> list[dict]:
    """`n` colour changes of gallery items, to a colour that some item of the same kind and
    gender has (those items are the targets)."""
    retriever = assistant.retriever
    m = retriever.matcher
    kind, people, colour = m.kind_columns[0], m.people_column, m.colour_column
    records = {i: retriever.catalog.attributes(i) for i in retriever.store.ids}
    rng = random.Random(seed)
    queries = []
    for pid in rng.sample(sorted(records), len(records)):
        own = records[pid]
        alike = [i for i, r in records.items() if (r[kind], r[people]) == (own[kind], own[people])]
        colours = sorted({records[i][colour] for i in alike} - {own[colour], ""})
        if colours:
            wanted = rng.choice(colours)
            queries.append({"reference": pid, "text": rng.choice(PHRASINGS).format(c=wanted.lower()),
                            "targets": [i for i in alike if records[i][colour] == wanted], "column": "baseColour"})
        if len(queries) == n:
            break
    return queries


def shown(turn: Turn, reference: str) -> list[str]:
    return [r.id for r in turn.results if r.id != reference][:SHOWN]


def share(assistant: Assistant, ids: list[str], column: str, value: str) -> float:
    catalog = assistant.retriever.catalog
    return sum(catalog.attributes(i)[column] == value for i in ids) / max(len(ids), 1)


def uploads(assistant: Assistant, queries: Sequence[dict]) -> dict[str, Reference]:
    """Each reference as an upload: its pixels encoded, attributes inferred without itself."""
    retriever = assistant.retriever
    ids = dict.fromkeys(str(q["reference"]) for q in queries)
    return {pid: retriever.reference_from_image(retriever.catalog.image_path(pid), exclude_ids=[pid]) for pid in ids}


def measure(assistant: Assistant, queries: Sequence[dict], photos: dict[str, Reference], threshold: float) -> dict:
    """Mean shares (percent), recall@10, and how often the photo's kind was trusted or asked."""
    m = assistant.retriever.matcher
    kind, people = m.kind_columns[0], m.people_column
    assistant.trust_inferred = threshold
    totals = {"kind_share": 0.0, "gender_share": 0.0, "recall@10": 0.0, "kind_filtered": 0, "asked": 0,
              "kind_share_after_answer": 0.0, "right_answer_offered": 0, "answer_needed": 0, "wrong_kind_filter": 0}
    for query in queries:
        pid = str(query["reference"])
        truth = assistant.retriever.catalog.attributes(pid)
        turn = assistant.step(DialogueState(), query["text"], image=photos[pid], k=SHOWN + 1)
        ids = shown(turn, pid)
        totals["kind_share"] += share(assistant, ids, kind, truth[kind])
        totals["gender_share"] += share(assistant, ids, people, truth[people])
        totals["recall@10"] += bool(set(ids[:10]) & set(query["targets"]))
        totals["kind_filtered"] += kind in turn.state.constraints
        totals["wrong_kind_filter"] += turn.state.constraints.get(kind, truth[kind]) != truth[kind]
        answered = ids
        if turn.question is not None:
            totals["asked"] += 1
            totals["answer_needed"] += turn.question.options[0] != truth[kind]
            if truth[kind] in turn.question.options:
                totals["right_answer_offered"] += 1
                answered = shown(assistant.choose(turn.state, kind, truth[kind], k=SHOWN + 1), pid)
        totals["kind_share_after_answer"] += share(assistant, answered, kind, truth[kind])
    n = max(len(queries), 1)
    rates = ("kind_share", "gender_share", "recall@10", "kind_filtered", "asked", "kind_share_after_answer")
    counts = ("right_answer_offered", "answer_needed", "wrong_kind_filter")
    return {"threshold": threshold, **{k: round(100 * totals[k] / n, 1) for k in rates}, **{k: totals[k] for k in counts}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload_kind", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", required=True, type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--queries", type=Path, help="Q.jsonl; its colour changes are measured")
    source.add_argument("--generate", type=int, help="generate this many colour changes of gallery items")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[NEVER, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    parser.add_argument("--limit", type=int, help="measure only the first N queries")
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--zero-shot", action="store_true", help="read photos as before attribute heads (neighbours, prompts)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    assistant = open_assistant(AssistantConfig(catalog=args.catalog, encoder=args.encoder, gallery=args.gallery,
                                               index_dir=args.index_dir))
    if args.zero_shot:
        assistant.retriever.use_heads(None)
    queries = (colour_queries(args.queries) if args.queries else generated_queries(assistant, args.generate))[:args.limit]
    photos = uploads(assistant, queries)
    rows = [measure(assistant, queries, photos, t) for t in args.thresholds]
    result = {"queries": len(queries), "gallery": str(args.gallery), "by_threshold": rows}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
