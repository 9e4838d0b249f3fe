"""Evaluate the whole assistant (rewriter, dialogue state, retrieval) on queries or dialogues.

    python -m evaluation.assistant --catalog DIR --encoder SPEC --gallery IDS.txt \
        (--queries Q.jsonl | --dialogs D.jsonl) --llm SPEC [--reference-as catalog|upload] \
        [--limit N] [--method sum|edit|trained] [--composer DIR] [--index-dir DIR] \
        [--trace OUT.jsonl] [--json]

Queries: the reference is either picked from results (`catalog`: shown as the only result and
clicked with `Assistant.select`) or uploaded (`upload`: its pixels only, and its own product
may not vote for its attributes); then one `Assistant.step` with the change text. Dialogues
(`evaluation.dialogues`): every turn runs (`select` clicks result N of the previous turn first,
`image` uploads that product's pixels), and the results shown after the last turn are scored.
A hit at K is a target in the top K, the reference and uploaded products left out. Latency is
per query or turn (photo encoding included), model loading and indexing excluded. The
rewriter's paths (rules; or llm / repaired / fallback) are counted per turn.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from chat.assistant import Assistant, Turn
from chat.factory import open_assistant
from chat.llm import LLMUnavailableError
from chat.state import DialogueState
from evaluation.options import add_retriever_options, assistant_config, check_retriever_options
from evaluation.retrieval import EXPECTED_ERRORS, read_jsonl, reference_for
from offline.metrics import TOP_K, latency_summary, recall_at_k

logger = logging.getLogger(__name__)


@dataclass
class Tally:
    """What the runs collected: one ranking per scored item, one time per turn."""

    rankings: list[list[str]] = field(default_factory=list)
    targets: list[set[str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def score(self, shown: Sequence[str], left_out: set[str], targets: Sequence, group: str) -> list[str]:
        """Record the ranking the shopper sees, without the reference / uploaded products."""
        ranking = [pid for pid in shown if pid not in left_out][:TOP_K]
        self.rankings.append(ranking)
        self.targets.append({str(t) for t in targets})
        self.groups.append(group)
        return ranking

    def summary(self) -> dict:
        """recall@1/10/50 overall and by group (kind of change or dialogue), latency p50/p95."""
        result = {"queries": len(self.rankings), **recall_at_k(self.rankings, self.targets),
                  "turns": len(self.seconds), "latency_ms": latency_summary(self.seconds)}
        rows = defaultdict(list)
        for i, group in enumerate(self.groups):
            rows[group].append(i)
        if len(rows) > 1:
            result["by_kind"] = {g: {"n": len(r), **recall_at_k([self.rankings[i] for i in r], [self.targets[i] for i in r])}
                                 for g, r in sorted(rows.items())}
        return result


class Evaluation:
    """Runs queries and dialogues through one assistant, timing every turn."""

    def __init__(self, assistant: Assistant, trace: TextIO | None = None):
        self.assistant = assistant
        self.tally = Tally()
        self.trace = trace

    def query(self, query: dict, reference_as: str) -> None:
        """One composed query: pick (or upload) the reference, then say the change."""
        reference = str(query["reference"])
        started = time.perf_counter()
        state, image = DialogueState(), None
        if reference_as == "catalog":
            state = self.assistant.select(state.with_results([reference]), 1)
        else:
            image = reference_for(self.assistant.retriever, reference, "upload")
        turn = self.assistant.step(state, query["text"], image=image, k=TOP_K + 1)
        self.tally.seconds.append(time.perf_counter() - started)
        ranking = self.tally.score(turn.state.results, {reference}, query["targets"], query.get("column", "all"))
        self._trace({"reference": reference, "text": query["text"]}, [turn], ranking, query["targets"])

    def dialogue(self, dialogue: dict) -> None:
        """Every turn of one dialogue; scored on what is shown after the last turn."""
        state, uploads, turns = DialogueState(), set(), []
        for said in dialogue["turns"]:
            started = time.perf_counter()
            state, turn = self._turn(state, said)
            self.tally.seconds.append(time.perf_counter() - started)
            if said.get("image"):
                uploads.add(str(said["image"]))
            if turn:
                turns.append(turn)
        ranking = self.tally.score(state.results, uploads, dialogue["targets"], dialogue.get("kind", "all"))
        self._trace({"turns": dialogue["turns"]}, turns, ranking, dialogue["targets"])

    def _turn(self, state: DialogueState, said: dict) -> tuple[DialogueState, Turn | None]:
        """A click (if any), then the message with its photo (if any)."""
        if said.get("select"):
            try:
                state = self.assistant.select(state, int(said["select"]))
            except ValueError as err:  # nothing shown at N: the click does nothing
                logger.info("click ignored: %s", err)
        image = None
        if said.get("image"):
            image = reference_for(self.assistant.retriever, str(said["image"]), "upload")
        if not (said.get("text") or image is not None):
            return state, None
        turn = self.assistant.step(state, said.get("text", ""), image=image, k=TOP_K + 1)
        return turn.state, turn

    def _trace(self, item: dict, turns: list[Turn], ranking: list[str], targets: Sequence) -> None:
        """One JSON line per item for error analysis: intents, replies, the first hit's rank."""
        if self.trace is None:
            return
        wanted = {str(t) for t in targets}
        rank = next((i + 1 for i, pid in enumerate(ranking) if pid in wanted), None)
        steps = [{"reply": t.reply, "intent": t.intent.model_dump(exclude_defaults=True) if t.intent else None}
                 for t in turns]
        self.trace.write(json.dumps({**item, "steps": steps, "hit_rank": rank, "top": ranking[:5]}) + "\n")


def path_counts(rewriter: object, turns: int) -> dict[str, int]:
    """Which path the rewriter took per turn: its own counts, or all "rules"."""
    counts = getattr(rewriter, "path_counts", None)
    return dict(counts) if isinstance(counts, Counter) else {"rules": turns}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluation.assistant", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="catalogue folder (products.csv, images/)")
    parser.add_argument("--encoder", required=True, help="open_clip spec: local-dir:PATH, hf-hub:ORG/NAME or MODEL/TAG")
    parser.add_argument("--gallery", required=True, help="IDS.txt: the index holds exactly these ids")
    items = parser.add_mutually_exclusive_group(required=True)
    items.add_argument("--queries", help="Q.jsonl: {reference, text, targets} a line")
    items.add_argument("--dialogs", help="D.jsonl: {turns: [{text, image?, select?}], targets} a line")
    parser.add_argument("--llm", required=True, help="rules, a transformers model id or folder, a .gguf file, or smollm2")
    add_retriever_options(parser)
    parser.add_argument("--limit", type=int, help="evaluate only the first N queries or dialogues")
    parser.add_argument("--trace", type=Path, help="write one JSON line per item (intents, replies, hit rank)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    args = parser.parse_args(argv)
    check_retriever_options(parser, args)
    return args


def evaluate(args: argparse.Namespace) -> dict:
    """Load everything (untimed), then run the items; the result as one dict."""
    required = ("reference", "text", "targets") if args.queries else ("turns", "targets")
    items = read_jsonl(args.queries or args.dialogs, required)[: args.limit]
    assistant = open_assistant(assistant_config(args, args.llm))
    retriever, rewriter = assistant.retriever, assistant.rewriter
    trace = args.trace.open("w") if args.trace else None
    evaluation = Evaluation(assistant, trace)
    for item in tqdm(items, desc="queries" if args.queries else "dialogues"):
        if args.queries:
            evaluation.query(item, args.reference_as)
        else:
            evaluation.dialogue(item)
    if trace:
        trace.close()
    result = evaluation.tally.summary()
    result.update(rewriter_paths=path_counts(rewriter, result["turns"]), llm=args.llm,
                  method=retriever.settings.method, items="queries" if args.queries else "dialogues")
    if args.queries:
        result["reference_as"] = args.reference_as
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        result = evaluate(args)
    except (*EXPECTED_ERRORS, LLMUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
