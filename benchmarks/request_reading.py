"""How each reader reads everyday first requests: what the product is, its colour, for whom, what not.

`eval/dev_requests.tsv` holds first requests in everyday words ("sneakers for men", "a backpack
that isn't black"), one a line: the text, a tab, then `column=value` and `-negative` labels
joined by `;`. A request is read right when the reader sets exactly the labelled kind, colour
and person (no other of the three) and avoids every labelled negative without also wanting it.
Written for this project, outside the test split, so it is a development probe, not a score:
it caught the LLM reader writing kinds from its prior. On the 53 requests here (2026-11-30),
without `chat.grounding` the fine-tuned reader was right on 29, with it on 52, the rules on 52
(the synonyms the probe showed missing were added to `retrieval.vocabulary` for both).

    python -m benchmarks.request_reading --catalog DIR --gallery IDS.txt [--requests TSV] [--llm rules smollm2-shop] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chat.intent import SearchIntent
from chat.state import DialogueState

REQUESTS = Path(__file__).resolve().parent.parent / "eval" / "dev_requests.tsv"


@dataclass(frozen=True)
class Request:
    text: str
    wanted: dict[str, str]
    negatives: frozenset[str]


def read_requests(path: Path) -> list[Request]:
    """The labelled requests of a TSV file; a malformed label names its line."""
    requests = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, _, labels = line.partition("\t")
        parts = [p.strip() for p in labels.split(";") if p.strip()]
        if any("=" not in p and not p.startswith("-") for p in parts):
            raise ValueError(f"{path}:{number}: labels are column=value or -negative, got {labels!r}")
        wanted = dict(p.split("=", 1) for p in parts if "=" in p)
        requests.append(Request(text, wanted, frozenset(p[1:].casefold() for p in parts if p.startswith("-"))))
    return requests


def is_right(request: Request, intent: SearchIntent, columns: Sequence[str]) -> bool:
    """Exactly the labelled values of `columns` wanted, every labelled negative avoided and not wanted."""
    wanted = {c: v for c, v in intent.set_attributes.items() if c in columns}
    avoided = {n.casefold() for n in intent.negatives}
    return (wanted == request.wanted and request.negatives <= avoided
            and not {v.casefold() for v in wanted.values()} & avoided)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.request_reading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--gallery", help="IDS.txt: the vocabulary of these products only")
    parser.add_argument("--requests", type=Path, default=REQUESTS)
    parser.add_argument("--llm", nargs="+", default=["rules", "smollm2-shop"], help="readers to compare")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from chat.factory import make_rewriter
    from retrieval.catalog import load_gallery
    from retrieval.retriever import default_description_columns, reader_matcher

    catalog = load_gallery(args.catalog, args.gallery)
    matcher = reader_matcher(catalog.vocabulary(), default_description_columns(catalog))
    roles = [c for c in (*matcher.kind_columns[:1], matcher.colour_column, matcher.people_column) if c]
    requests = read_requests(args.requests)
    scores = {}
    for spec in args.llm:
        reader = make_rewriter(spec, matcher)
        wrong = [r.text for r in requests if not is_right(r, reader.rewrite(r.text, DialogueState()), roles)]
        scores[spec] = {"right": len(requests) - len(wrong), "requests": len(requests), "wrong": wrong}
        if not args.json:
            print(f"{spec}: {len(requests) - len(wrong)} of {len(requests)} right; wrong: {wrong}")
    if args.json:
        print(json.dumps(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
