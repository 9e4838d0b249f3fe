"""One-attribute changes of catalogue products: the unit both the composer's training triplets
(`offline.triplets`) and the evaluation's queries (`evaluation.queries`) are made of, so the
two agree on what a change is while wording it differently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.catalog import Catalog


@dataclass(frozen=True)
class OneChange:
    """Product `reference` with `column` set to `value`: the products whose key is `target_key` match."""

    reference: str
    column: str
    value: str
    target_key: tuple[str, ...]


def attribute_keys(catalog: Catalog, ids: Sequence[str], columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each product's values of `columns`, in order: two products match when their keys are equal."""
    return {pid: tuple(catalog.attributes(pid)[c] for c in columns) for pid in ids}


def group_by_key(keys: Mapping[str, tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    """The products that share each key, in `keys` order."""
    by_key: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for pid, key in keys.items():
        by_key[key].append(pid)
    return by_key


def one_changes(keys: Mapping[str, tuple[str, ...]], columns: Sequence[str]) -> dict[str, list[OneChange]]:
    """Every change of exactly one column that leads from a product to at least one other, by column.

    Used for evaluation queries and for training triplets (with other phrasings), so the two
    agree on what a one-attribute change is.
    """
    present = set(keys.values())
    changes: dict[str, list[OneChange]] = {}
    for position, column in enumerate(columns):
        values_by_rest: dict[tuple, set[str]] = defaultdict(set)
        for key in present:
            values_by_rest[_without(key, position)].add(key[position])
        changes[column] = [
            OneChange(pid, column, value, key[:position] + (value,) + key[position + 1:])
            for pid, key in keys.items()
            for value in sorted(values_by_rest[_without(key, position)] - {key[position]})
        ]
    return changes


def _without(key: tuple, position: int) -> tuple:
    return key[:position] + key[position + 1:]
