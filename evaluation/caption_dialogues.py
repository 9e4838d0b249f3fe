"""Caption queries as dialogues: the same crowd-written changes, said over several turns.

    python -m evaluation.dialogues --catalog DIR --gallery IDS.txt --captions Q.jsonl \
        --caption-folder ../shared/data/fashioniq-captions --out D.jsonl

A caption query (`eval/dev_captions.jsonl`) joins a FashionIQ pair's two captions with " and "
("is coral with the straps and is a brighter color with a polka dot pattern"). Here each becomes
a dialogue that uploads the reference photo and says the captions one turn at a time:

- captions-2: the photo with the first caption, then the second;
- captions-3: the photo with "anything like this?", then each caption.

Scored against the same captions as single turns (`evaluation.assistant --queries Q.jsonl
--reference-as upload`), the gap is what the dialogue loses between turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

OPENERS = ("anything like this?", "do you have something like this?", "similar to this please")


def caption_pairs(folder: Path) -> dict[str, tuple[str, str]]:
    """FashionIQ caption pairs by the message they make joined ("c1 and c2" -> (c1, c2))."""
    pairs = {}
    for path in sorted(folder.glob("cap.*.json")):
        for row in json.loads(path.read_text()):
            first, second = (c.strip() for c in row["captions"])
            pairs[f"{first} and {second}"] = (first, second)
    return pairs


def caption_dialogues(queries: Iterable[dict], pairs: dict[str, tuple[str, str]]) -> list[dict]:
    """Two dialogues per caption query whose captions are found (see the module)."""
    dialogues = []
    for i, query in enumerate(queries):
        captions = pairs.get(query["text"])
        if captions is None:
            continue
        reference, targets = str(query["reference"]), query["targets"]
        dialogues.append({"turns": [{"text": captions[0], "image": reference}, {"text": captions[1]}],
                          "targets": targets, "kind": "captions-2"})
        dialogues.append({"turns": [{"text": OPENERS[i % len(OPENERS)], "image": reference},
                                    {"text": captions[0]}, {"text": captions[1]}],
                          "targets": targets, "kind": "captions-3"})
    return dialogues
