"""Composed-retrieval training sets and benchmarks: a catalogue, Fashion200K, FashionIQ.

Each source becomes `TripletSet`s (photos + (reference, text, targets) triplets), so one
training loop and one evaluation path serve all of them. Image ids are the datasets' own
(a catalogue id, a Fashion200K relative path, a FashionIQ ASIN).

Fashion200K (Han et al., 2017), in the layout of TIRG (Vo et al., 2019), which fixed its
composed-retrieval protocol:
    ROOT/labels/<category>_<split>_detect_all.txt   "path<TAB>detection score<TAB>description"
    ROOT/test_queries.txt                           "source_path target_path" a line
    ROOT/<path>                                     the photos
Training pairs are images whose descriptions differ in one word; the text is TIRG's
"replace <word> with <word>". A test query is a hit when a retrieved image's description
equals the target's, so every test image with that description is a target.

FashionIQ (Wu et al., 2021):
    ROOT/captions/cap.<category>.<split>.json       [{"candidate", "target", "captions": [2]}]
    ROOT/image_splits/split.<category>.<split>.json [image names]
    ROOT/images/<name>.png (or .jpg)
The two captions are joined as in CLIP4Cir ("Is red and has long sleeves"); each category
is its own benchmark, searched over that category's split images, and results are averaged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from offline.triplets import Triplet, TripletSet, mine_triplets
from retrieval.catalog import load_catalog

logger = logging.getLogger(__name__)

DATASETS = ("catalog", "fashion200k", "fashioniq")
FASHIONIQ_CATEGORIES = ("dress", "shirt", "toptee")
FASHIONIQ_IMAGE_SUFFIXES = (".png", ".jpg")
# Sibling descriptions drawn per Fashion200K training image: TIRG draws one per step on the
# fly; a few fixed ones per image keep the triplet list (and an epoch) a manageable size.
FASHION200K_TARGETS_PER_IMAGE = 3
_SHOWN = 5


class DatasetError(ValueError):
    """A dataset folder is not in the expected layout; the message names the file at fault."""


def _files_fingerprint(paths: Iterable[Path]) -> str:
    """Changes when a listing file does; the photos of a published benchmark are taken as fixed."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _check_images(images: dict[str, Path], root: Path) -> None:
    missing = [str(p.relative_to(root)) for p in images.values() if not p.is_file()]
    if missing:
        raise DatasetError(f"{root}: {len(missing)} photos are missing, e.g. {', '.join(missing[:_SHOWN])}")


# --- Fashion200K ---------------------------------------------------------------------------


def _fashion200k_labels(root: Path, split: str) -> tuple[dict[str, str], dict[str, str], list[Path]]:
    """(path -> description, path -> category, label files) of one split; the first listing of a path wins."""
    files = sorted((root / "labels").glob(f"*_{split}_detect_all.txt"))
    if not files:
        raise DatasetError(f"No Fashion200K label files {root / 'labels'}/*_{split}_detect_all.txt")
    descriptions: dict[str, str] = {}
    categories: dict[str, str] = {}
    for file in files:
        category = file.name.split("_")[0]
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                raise DatasetError(f"{file}:{number}: expected 'path<TAB>score<TAB>description', got {line!r}")
            path, description = fields[0].strip(), fields[2].strip()
            if path not in descriptions:
                descriptions[path] = description
                categories[path] = category
    return descriptions, categories, files


def different_words(source: str, target: str) -> tuple[str, str]:
    """The first word of `source` missing from `target`, and the first of `target` missing from `source` (TIRG)."""
    source_words, target_words = source.split(), target.split()
    removed = next((w for w in source_words if w not in target_words), source_words[-1] if source_words else "")
    added = next((w for w in target_words if w not in source_words), target_words[-1] if target_words else "")
    return removed, added


def replace_text(source: str, target: str) -> str:
    """TIRG's modification text for a one-word change of description."""
    removed, added = different_words(source, target)
    return f"replace {removed} with {added}"


def _by_description(descriptions: dict[str, str]) -> dict[str, list[str]]:
    images: dict[str, list[str]] = defaultdict(list)
    for path, description in descriptions.items():
        images[description].append(path)
    return images


def _one_word_siblings(descriptions: Collection[str]) -> dict[str, set[str]]:
    """Descriptions that become equal once one word is dropped from each, for every description."""
    children: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for description in descriptions:
        words = description.split()
        for i in range(len(words)):
            children[tuple(words[:i] + words[i + 1:])].add(description)
    siblings: dict[str, set[str]] = defaultdict(set)
    for group in children.values():
        for description in group:
            siblings[description] |= group - {description}
    return siblings


def _fashion200k_training(descriptions: dict[str, str], categories: dict[str, str], seed: int) -> list[Triplet]:
    rng = random.Random(seed)
    images_of = _by_description(descriptions)
    siblings = _one_word_siblings(images_of)
    triplets = []
    for path, description in descriptions.items():
        options = sorted(siblings.get(description, ()))
        for target in rng.sample(options, min(FASHION200K_TARGETS_PER_IMAGE, len(options))):
            triplets.append(Triplet(path, replace_text(description, target), tuple(images_of[target]), categories[path]))
    return triplets


def _fashion200k_test(root: Path, descriptions: dict[str, str], categories: dict[str, str]) -> list[Triplet]:
    queries_file = root / "test_queries.txt"
    if not queries_file.is_file():
        raise DatasetError(f"No Fashion200K test queries at {queries_file} (TIRG's fixed protocol file)")
    images_of = _by_description(descriptions)
    triplets = []
    for number, line in enumerate(queries_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or any(f not in descriptions for f in fields):
            raise DatasetError(f"{queries_file}:{number}: expected two test image paths from the label files, got {line!r}")
        source, target = fields
        text = replace_text(descriptions[source], descriptions[target])
        triplets.append(Triplet(source, text, tuple(images_of[descriptions[target]]), categories[source]))
    return triplets


def load_fashion200k(root: str | Path, split: str, seed: int = 0) -> TripletSet:
    """`train`: one-word-change triplets mined from the training labels; `test`: the fixed test queries."""
    root = Path(root)
    descriptions, categories, files = _fashion200k_labels(root, split)
    images = {path: root / path for path in descriptions}
    _check_images(images, root)
    if split == "test":
        triplets = _fashion200k_test(root, descriptions, categories)
        files.append(root / "test_queries.txt")
    else:
        triplets = _fashion200k_training(descriptions, categories, seed)
    logger.info("Fashion200K %s: %d images, %d triplets", split, len(images), len(triplets))
    return TripletSet(images, tuple(triplets), _files_fingerprint(files))


# --- FashionIQ -----------------------------------------------------------------------------


def _read_json_list(path: Path) -> list:
    if not path.is_file():
        raise DatasetError(f"No FashionIQ file {path}")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path} is not JSON: {err}") from err
    if not isinstance(rows, list):
        raise DatasetError(f"{path} should hold a JSON list")
    return rows


def join_captions(captions: Sequence[str]) -> str:
    """CLIP4Cir's text for a FashionIQ pair of relative captions: "First one and second one"."""
    parts = [c.strip(".?, ") for c in captions if c.strip(".?, ")]
    if not parts:
        return ""
    return " and ".join([parts[0].capitalize(), *parts[1:]])


def _fashioniq_image(root: Path, name: str) -> Path:
    for suffix in FASHIONIQ_IMAGE_SUFFIXES:
        path = root / "images" / f"{name}{suffix}"
        if path.is_file():
            return path
    return root / "images" / f"{name}{FASHIONIQ_IMAGE_SUFFIXES[0]}"  # reported missing by _check_images


def _fashioniq_triplets(path: Path, category: str) -> list[Triplet]:
    triplets = []
    for number, row in enumerate(_read_json_list(path), 1):
        if not isinstance(row, dict) or not {"candidate", "target", "captions"} <= row.keys():
            raise DatasetError(f"{path}: entry {number} lacks candidate / target / captions (test captions without targets cannot be scored)")
        triplets.append(Triplet(str(row["candidate"]), join_captions(row["captions"]), (str(row["target"]),), category))
    return triplets


def load_fashioniq(root: str | Path, split: str, categories: Sequence[str] = FASHIONIQ_CATEGORIES) -> dict[str, TripletSet]:
    """One TripletSet per category: its split's images (the gallery) plus every image a caption names."""
    root = Path(root)
    sets = {}
    for category in categories:
        captions = root / "captions" / f"cap.{category}.{split}.json"
        listing = root / "image_splits" / f"split.{category}.{split}.json"
        triplets = _fashioniq_triplets(captions, category)
        names = [str(n) for n in _read_json_list(listing)]
        names += [i for t in triplets for i in (t.reference, *t.targets)]
        images = {name: _fashioniq_image(root, name) for name in dict.fromkeys(names)}
        _check_images(images, root)
        sets[category] = TripletSet(images, tuple(triplets), _files_fingerprint([captions, listing]))
        logger.info("FashionIQ %s %s: %d images, %d triplets", category, split, len(images), len(triplets))
    return sets


def merge(sets: Iterable[TripletSet]) -> TripletSet:
    """One set with every photo and triplet (training uses all FashionIQ categories at once)."""
    sets = list(sets)
    images = {i: p for s in sets for i, p in s.images.items()}
    triplets = tuple(t for s in sets for t in s.triplets)
    return TripletSet(images, triplets, "+".join(s.fingerprint for s in sets))


# --- one entry point per use ---------------------------------------------------------------


def load_training_set(dataset: str, root: str | Path, exclude: Collection[str] = (), seed: int = 0) -> TripletSet:
    """Training triplets of `dataset` whose photos are all outside `exclude`."""
    if dataset == "catalog":
        return mine_triplets(load_catalog(root), exclude, seed=seed)
    if dataset == "fashion200k":
        full = load_fashion200k(root, "train", seed)
    elif dataset == "fashioniq":
        full = merge(load_fashioniq(root, "train").values())
    else:
        raise DatasetError(f"Unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    excluded = set(exclude)
    return full.restricted([i for i in full.images if i not in excluded]) if excluded else full


def load_benchmark(dataset: str, root: str | Path, split: str) -> dict[str, TripletSet]:
    """The published evaluation sets of `dataset` by name; each is searched over its own photos."""
    if dataset == "fashion200k":
        return {"fashion200k": load_fashion200k(root, split)}
    if dataset == "fashioniq":
        return load_fashioniq(root, split)
    raise DatasetError(f"No published benchmark for {dataset!r}: choose fashion200k or fashioniq")
