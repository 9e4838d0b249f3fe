"""Retrieval metrics as pure functions returning dicts (no positional tuples)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np

DEFAULT_KS = (1, 10, 50)
TOP_K = max(DEFAULT_KS)  # how deep every evaluation ranks: enough for the largest K


def recall_at_k(rankings: Sequence[Sequence[str]], targets: Sequence[Collection[str]], ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """Percentage of queries with at least one target in their top K, for each K.

    A query with no ranking (nothing came back) counts as a miss, never as skipped.
    """
    if len(rankings) != len(targets):
        raise ValueError(f"{len(rankings)} rankings for {len(targets)} target sets")
    if not rankings:
        return {f"recall@{k}": 0.0 for k in ks}
    first_hit = [next((rank for rank, pid in enumerate(ranked) if pid in set(wanted)), None) for ranked, wanted in zip(rankings, targets)]
    return {
        f"recall@{k}": round(100.0 * sum(r is not None and r < k for r in first_hit) / len(rankings), 2)
        for k in ks
    }


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 in milliseconds."""
    if not seconds:
        return {"p50": 0.0, "p95": 0.0}
    ms = np.asarray(seconds) * 1000
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}
