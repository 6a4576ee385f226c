"""Summaries of repeated measurements: medians, percentiles and ratios of paired A/B runs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p99: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    return Summary(
        len(values), statistics.median(values), percentile(values, 99), min(values), max(values)
    )


@dataclass(frozen=True)
class Paired:
    """Ratios B/A of runs paired in time (A and B alternated in one session)."""

    n: int
    median_ratio: float  # median of the per-pair ratios B/A
    q1_ratio: float  # interquartile range of the ratios: how noisy the pairs were
    q3_ratio: float
    median_a: float
    median_b: float

    @property
    def added_percent(self) -> float:
        return (self.median_ratio - 1) * 100

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "added_percent": self.added_percent}


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Pair a[i] with b[i] (measured next to each other) and summarize the ratios b/a."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired runs need equal, non-zero counts (got {len(a)} and {len(b)})")
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    return Paired(
        len(ratios),
        statistics.median(ratios),
        percentile(ratios, 25),
        percentile(ratios, 75),
        statistics.median(a),
        statistics.median(b),
    )


def alternation(conditions: Sequence[str], rounds: int) -> list[str]:
    """The order to run conditions in: every round runs each once, and the order is reversed
    every other round (A B, B A, A B ...) so a drift in the machine hits both sides alike."""
    order: list[str] = []
    for r in range(rounds):
        order.extend(conditions if r % 2 == 0 else reversed(conditions))
    return order
