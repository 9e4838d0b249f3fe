"""Generate composed queries (Q.jsonl) from a catalogue's attributes.

Each query takes a reference product, changes exactly one attribute (colour, article type or
gender by default), keeps the others, and lists every gallery item that matches the result as
a target. Phrasings vary so that nothing is tuned to one template. Run it on the non-test ids
to tune, on the test ids to report:

    python -m evaluation.queries --catalog DIR --gallery IDS.txt --out Q.jsonl [--n 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from offline.changes import attribute_keys, group_by_key, one_changes
from retrieval.catalog import Catalog, load_gallery

# Columns changed, and how a shopper might ask for each new value ({v} is the value, lower case).
PHRASINGS: dict[str, tuple[str, ...]] = {
    "baseColour": ("make it {v}", "in {v}", "same but {v}", "I want it in {v}", "{v} instead", "change the colour to {v}"),
    "articleType": ("as {v}", "make it {v}", "same style but {v}", "I'd rather have {v}", "show me {v} like this"),
    "gender": ("for {v}", "same but for {v}", "make it for {v}", "a {v} version", "do you have it for {v}"),
}


def phrase_change(column: str, value: str, rng: random.Random) -> str:
    """One of the ways a shopper asks for `column` = `value`, picked with `rng`."""
    return rng.choice(PHRASINGS[column]).format(v=value.lower())


def make_queries(catalog: Catalog, n: int, seed: int, columns: Sequence[str] = tuple(PHRASINGS)) -> list[dict]:
    """Up to `n` one-attribute-change queries whose targets are in `catalog` (the gallery)."""
    rng = random.Random(seed)
    keys = attribute_keys(catalog, catalog.ids, columns)
    by_key = group_by_key(keys)
    candidates = one_changes(keys, columns)
    for pool in candidates.values():
        rng.shuffle(pool)
    # Round-robin over the columns so each kind of change is equally represented.
    balanced = [q for group in itertools.zip_longest(*candidates.values()) for q in group if q]
    return [
        {"reference": c.reference, "text": phrase_change(c.column, c.value, rng), "targets": sorted(by_key[c.target_key]), "column": c.column}
        for c in balanced[:n]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.queries", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--gallery", required=True, help="IDS.txt: references and targets come from these ids")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    queries = make_queries(load_gallery(args.catalog, args.gallery), args.n, args.seed)
    args.out.write_text("".join(json.dumps(q) + "\n" for q in queries))
    print(f"wrote {len(queries)} queries to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
