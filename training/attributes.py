"""Learn the attribute heads that read uploaded photos, with a report and a card.

    python -m training.attributes --catalog DIR --encoder SPEC [--gallery IDS.txt] [--index-dir DIR] [--json]

The heads are what the app and the evaluations use: saved beside the index of the gallery
(the app learns them itself on a first start; this command does it ahead, or again). With a
gallery they learn from the catalogue's other products (an evaluation's gallery stays
unseen), without one from every product; a fifth of those is held out to calibrate. The
report (held-out accuracy, log-likelihood and calibration error per column, before and after
pooling) is printed and saved as report.json beside the heads, with a card (card.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from retrieval.attribute_heads import AttributeHeads
from retrieval.catalog import load_catalog, read_ids
from retrieval.encoder import load_encoder
from retrieval.heads_learning import HeadsPlan
from retrieval.index import heads_folder


@dataclass(frozen=True)
class Config:
    catalog: str
    encoder: str
    gallery: Path | None = None
    index_dir: Path | None = None
    json: bool = False


def plan_for(config: Config) -> HeadsPlan:
    """The same plan `retrieval.retriever.open_retriever` follows for this catalogue and gallery."""
    catalog = load_catalog(config.catalog)
    encoder = load_encoder(config.encoder)
    indexed = catalog.subset(read_ids(config.gallery)) if config.gallery else catalog
    return HeadsPlan(catalog, tuple(indexed.ids) if config.gallery else None, encoder,
                     heads_folder(indexed, encoder, config.index_dir), config.index_dir)


class StageBar:
    """One tqdm bar per stage of the learning ("Encoding…", "Reading colours…", "Learning…")."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None or self.bar.desc != stage:
            self.close()
            self.bar = tqdm(total=total, desc=stage, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def card(heads: AttributeHeads, plan: HeadsPlan) -> str:
    """What the heads are, what they learned from, how sure they are, and where they fall short."""
    report = heads.report
    rows = []
    for column, figures in report["columns"].items():
        alone, pooled = figures.get("head_alone", {}), figures.get("pooled_with_colour", figures.get("pooled", {}))
        rows.append(f"| {column} | {figures.get('held_out', 0)} | {alone.get('accuracy', '–')} | {pooled.get('accuracy', '–')} "
                    f"| {alone.get('ece', '–')} → {pooled.get('ece', '–')} | {figures.get('weights_with_colour', figures.get('weights', {}))} |")
    return "\n".join([
        "# Attribute heads", "",
        f"Encoder `{plan.encoder.spec.text}`, catalogue `{plan.catalog.root}` (fingerprint {heads.key['catalog_fingerprint']}).",
        f"Learned from {report['learned_from']} products, calibrated on {report['held_out']} held out "
        f"({'outside the gallery' if plan.gallery and plan.ids() != plan.catalog.ids else 'the whole catalogue'}).",
        f"Colour reading (product pixels on a light backdrop): {report['colour_reading']}.", "",
        "Per column, on the held-out products: accuracy of the image head alone, of the pooled and",
        "calibrated reading, and the expected calibration error (percent) before → after pooling.", "",
        "| column | held out | head alone | pooled | ECE | weights |", "|---|---|---|---|---|---|", *rows, "",
        "Limits: the held-out products are the catalogue's own; an encoder trained on this catalogue has",
        "seen them, so these figures are optimistic for photos it never saw (benchmarks/README_photos.md",
        "has the test-split figures). Labels are the catalogue's and a little noisy (Navy Blue / Blue).", ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.attributes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--gallery", type=Path, help="IDS.txt of the index the heads serve (held out from learning)")
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--json", action="store_true", help="end stdout with the report as one JSON line")
    config = Config(**vars(parser.parse_args(argv)))
    plan = plan_for(config)
    bar = StageBar()
    try:
        heads = plan.learn(progress=True, on_progress=bar)
    finally:
        bar.close()
    (plan.folder / "report.json").write_text(json.dumps(heads.report, indent=2))
    (plan.folder / "card.md").write_text(card(heads, plan))
    print(f"Attribute heads, report and card saved in {plan.folder}", file=sys.stderr)
    print(json.dumps(heads.report) if config.json else json.dumps(heads.report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
