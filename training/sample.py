"""Draw the small catalogue sample the repository ships (`sample/catalog/`), so a clone without
`../shared` can run the app and the whole test suite.

    python -m training.sample --catalog ../shared/data/fashion-products --exclude eval/test_ids.txt \
        --out sample/catalog [--size 600] [--seed 0] [--include GENDER/TYPE/COLOUR ...]

Products are grouped by (gender, article type, colour). Each gender gets a share of `--size`
in proportion to the square root of its product count, so women, unisex items and children
are not drowned by the catalogue's majority of men's items. Within a gender the article types
take turns, biggest first, each offering its next biggest colour; a group enters with several
products (more for big groups), because a search with a kind, a colour and a person as
filters must find more than one product. Items in `--exclude` (the test split) are never drawn.
Photos are downscaled thumbnails, so the sample stays a few MB.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from retrieval.catalog import CatalogError, load_catalog, read_ids

GROUP_COLUMNS = ("gender", "articleType", "baseColour")
# A group enters with at least this many products (children's groups are small: two will do),
# and at most MAX_PER_GROUP: twelve results of one kind, colour and person fill a results page.
MIN_PER_GROUP = 3
MIN_PER_CHILDREN_GROUP = 2
MAX_PER_GROUP = 14
MAIN_SHARE = 0.6
INCLUDED_PER_GROUP = 6
CHILDREN = ("Boys", "Girls")


@dataclass(frozen=True)
class SampleConfig:
    catalog: str
    out: str
    exclude: str | None = None
    size: int = 600
    seed: int = 0
    width: int = 150
    height: int = 200
    quality: int = 80
    include: tuple[str, ...] = ()


def gender_budgets(counts: pd.Series, size: int) -> dict[str, int]:
    """Each gender's share of `size`, in proportion to the square root of its product count."""
    roots = {gender: math.sqrt(n) for gender, n in counts.items()}
    total = sum(roots.values())
    return {gender: round(size * root / total) for gender, root in roots.items()}


def main_quota(group_size: int) -> int:
    """Products taken from one of a gender's biggest groups: about a ninth of it, within the bounds."""
    return min(group_size, MAX_PER_GROUP, max(MIN_PER_GROUP, round(group_size / 9)))


def pick_groups(rows: pd.DataFrame, budget: int, children: bool) -> dict[tuple[str, str], int]:
    """{(article type, colour): products} for one gender's rows.

    MAIN_SHARE of the budget goes to the biggest groups, in size order, many products each
    (the searches most shoppers make find a page of them); the rest to variety: article types
    take turns, biggest first, each offering a few products of its colour least represented
    so far (of two such colours, the bigger group).
    """
    floor = MIN_PER_CHILDREN_GROUP if children else MIN_PER_GROUP
    sizes = rows.groupby(["articleType", "baseColour"]).size()
    sizes = sizes[sizes >= floor].sort_values(ascending=False, kind="stable")
    picked: dict[tuple[str, str], int] = {}
    main_budget = 0 if children else round(MAIN_SHARE * budget)
    for key, size in sizes.items():
        if sum(picked.values()) + main_quota(int(size)) <= main_budget:
            picked[key] = main_quota(int(size))
    kinds = list(rows["articleType"].value_counts().index)
    left = {kind: [key for key in sizes.index if key[0] == kind and key not in picked] for kind in kinds}
    while any(left.values()) and sum(picked.values()) + floor <= budget:
        for kind in (k for k in kinds if left[k]):
            if sum(picked.values()) + floor <= budget:
                key = min(left[kind], key=lambda k: _colour_count(picked, k[1]))  # size order breaks ties
                left[kind].remove(key)
                picked[key] = floor
    return picked


def _colour_count(picked: dict[tuple[str, str], int], colour: str) -> int:
    return sum(n for (_, c), n in picked.items() if c == colour)


def draw_sample(table: pd.DataFrame, size: int, seed: int, include: Sequence[str] = ()) -> pd.DataFrame:
    """The sampled rows, in id order. `include` names groups as "gender/type/colour" that get
    up to INCLUDED_PER_GROUP products on top of `size` (groups the tests' dialogues search)."""
    rng = np.random.default_rng(seed)
    table = table[table["baseColour"] != ""]
    chosen = []
    for gender, budget in gender_budgets(table["gender"].value_counts(), size).items():
        rows = table[table["gender"] == gender]
        for (kind, colour), quota in pick_groups(rows, budget, gender in CHILDREN).items():
            group = rows[(rows["articleType"] == kind) & (rows["baseColour"] == colour)]
            chosen.extend(rng.choice(group["id"].to_numpy(), size=quota, replace=False))
    for name in include:
        gender, kind, colour = name.split("/")
        group = table[(table["gender"] == gender) & (table["articleType"] == kind) & (table["baseColour"] == colour)]
        if group.empty:
            raise ValueError(f"--include {name}: no such group among the items that may be drawn")
        left = group["id"][~group["id"].isin(set(chosen))].to_numpy()
        wanted = INCLUDED_PER_GROUP - (len(group) - len(left))  # those already drawn count
        chosen.extend(rng.choice(left, size=max(0, min(wanted, len(left))), replace=False))
    picked = table[table["id"].isin(set(chosen))]
    return picked.sort_values("id", key=lambda ids: ids.astype(int) if ids.str.isdigit().all() else ids)


def write_thumbnail(source: Path, target: Path, config: SampleConfig) -> None:
    """The photo fitted inside width x height (aspect kept), as a JPEG."""
    with Image.open(source) as photo:
        photo = photo.convert("RGB")
        photo.thumbnail((config.width, config.height), Image.Resampling.LANCZOS)
        photo.save(target, "JPEG", quality=config.quality, optimize=True)


def run(config: SampleConfig) -> pd.DataFrame:
    catalog = load_catalog(config.catalog)
    table = pd.read_csv(Path(config.catalog) / "products.csv", dtype=str, keep_default_na=False)
    excluded = set(read_ids(config.exclude)) if config.exclude else set()
    table = table[table["id"].isin(set(catalog.ids) - excluded)]
    sample = draw_sample(table, config.size, config.seed, config.include)
    out = Path(config.out)
    if (out / "images").exists():
        shutil.rmtree(out / "images")
    (out / "images").mkdir(parents=True)
    sample.to_csv(out / "products.csv", index=False)
    for pid in tqdm(sample["id"], desc="thumbnails", unit="photo"):
        write_thumbnail(catalog.image_path(pid), out / "images" / f"{pid}.jpg", config)
    return sample


def parse_args(argv: Sequence[str] | None = None) -> SampleConfig:
    parser = argparse.ArgumentParser(prog="python -m training.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="the full catalogue folder")
    parser.add_argument("--out", required=True, help="folder for the sample (its images/ is replaced)")
    parser.add_argument("--exclude", help="IDS.txt: ids never drawn (the test split)")
    parser.add_argument("--include", action="append", default=[], metavar="GENDER/TYPE/COLOUR",
                        help=f"a group to hold up to {INCLUDED_PER_GROUP} products, on top of --size (repeatable)")
    defaults = SampleConfig("", "")
    for name in ("size", "seed", "width", "height", "quality"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name), help=f"default: {getattr(defaults, name)}")
    args = vars(parser.parse_args(argv))
    return SampleConfig(**{**args, "include": tuple(args["include"])})


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        sample = run(config)
    except (CatalogError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for column in GROUP_COLUMNS:
        print(f"{column}: {sample[column].nunique()} values", sample[column].value_counts().head(12).to_dict())
    print(f"{len(sample)} products written to {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
