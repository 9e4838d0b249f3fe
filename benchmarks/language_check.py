"""How often the English check (`chat.language`) is wrong: false alarms on the English dev
files, misses on messages in other languages written for this check.

    python -m benchmarks.language_check --catalog ../shared/data/fashion-products [--json]

A false alarm is an English message the rules reader would answer with "I only read English"
(it names no catalogue value and the check calls it foreign): every message of the dev query
files, dialogue and move files and everyday requests is English. The foreign messages below
are this script's own, in the languages shoppers here most likely use.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from chat.language import ForeignCheck
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.catalog import load_catalog
from retrieval.retriever import default_description_columns, reader_matcher

ENGLISH_FILES = ("eval/dev_captions.jsonl", "eval/dev_shades.jsonl", "eval/dev_queries.jsonl", "eval/dev_dialogs.jsonl",
                 "eval/dev_moves.jsonl", "eval/dev_caption_dialogs.jsonl", "eval/dev_requests.tsv")
FOREIGN = (
    "zapatos rojos para mi esposa", "una falda larga de color verde", "busco unas gafas de sol", "¿lo tienen en negro?",
    "je voudrais une chemise blanche", "des baskets pour mon fils", "un sac à main en cuir marron", "pareil en bleu marine",
    "ich brauche eine Winterjacke", "rote Schuhe für meine Frau", "gibt es das auch in Grau?", "eine Uhr für meinen Vater",
    "cerco una maglietta nera", "scarpe da ginnastica per bambini", "vorrei un vestito elegante", "lo stesso ma in rosso",
    "quero um relógio dourado", "uma bolsa preta por favor", "tem essa camisa em verde?", "sandálias para a minha filha",
    "ik zoek een blauwe spijkerbroek", "heeft u dit in het zwart?", "kırmızı bir elbise arıyorum", "czarne buty dla męża",
    "платье синего цвета", "红色的连衣裙", "青いシャツはありますか", "لدي حقيبة سوداء", "नीली कमीज़ चाहिए",
)


def english_messages(root: Path) -> list[str]:
    """Every message of the English dev files."""
    texts: list[str] = []
    for name in ENGLISH_FILES:
        path = root / name
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if name.endswith(".tsv"):
                texts.append(line.split("\t")[0])
                continue
            row = json.loads(line)
            if row.get("kind") == "foreign":  # the move files' turns in other languages
                texts += [t["text"] for t in row["turns"][:1]]
                continue
            texts += [t["text"] for t in row["turns"]] if "turns" in row else [row["text"]]
    return [t for t in texts if t.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.language_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    catalog = load_catalog(args.catalog)
    matcher = reader_matcher(catalog.vocabulary(), default_description_columns(catalog))
    rules = RulesRewriter(matcher, foreign=ForeignCheck(catalog.words()))
    english = english_messages(Path("."))
    foreign = [t for t in english if rules.rewrite(t, DialogueState()).small_talk == "foreign"]
    caught = [t for t in FOREIGN if rules.rewrite(t, DialogueState()).small_talk == "foreign"]
    result = {"english_messages": len(english), "false_alarms": len(foreign), "false_alarm_examples": foreign[:10],
              "foreign_messages": len(FOREIGN), "caught": len(caught),
              "missed": [t for t in FOREIGN if t not in caught]}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
