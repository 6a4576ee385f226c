"""Latency histograms: the BPF side's log2(ns) slots and the Prometheus histogram they become.

The BPF programs keep, per CPU, HIST_SLOTS counters (slot s counts values in [2^s, 2^(s+1)) ns)
and the sum (struct thpw_hist, bpf/thpwatch.h; its size comes from here as THPW_HIST_SLOTS).
They are exported with LATENCY_BOUNDS: powers of two of nanoseconds from 2^10 ns (~1 us) to
2^35 ns (~34 s), in seconds, which the slots map onto exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from thpwatch.emitter import Emitter
from thpwatch.snapshot import Histogram

HIST_SLOTS = 63
LATENCY_BOUNDS = tuple(2**k / 1e9 for k in range(10, 36))


@dataclass(frozen=True)
class LogHist:
    """One BPF histogram summed over CPUs: counts per log2(ns) slot and the sum in ns."""

    slots: tuple[int, ...]
    sum_ns: int


def histogram(h: LogHist, bounds: Sequence[float] = LATENCY_BOUNDS) -> Histogram:
    """Prometheus histogram (seconds) from log2-ns slots. Slot s holds values below 2^(s+1) ns,
    so it falls in every bucket whose bound is >= 2^(s+1) ns; bounds must be such powers of two."""
    running, below = 0, [0]  # below[k]: observations in slots 0..k-1
    for c in h.slots:
        running += c
        below.append(running)
    cumulative = []
    for bound in bounds:
        limit_ns = round(bound * 1e9)
        # slots s with 2^(s+1) <= limit_ns: s <= log2(limit_ns) - 1
        full = min(max(limit_ns.bit_length() - 1, 0), len(h.slots))
        cumulative.append(below[full])
    return Histogram(tuple(bounds), tuple(cumulative), running, h.sum_ns / 1e9)


def add_histograms(
    out: Emitter,
    metric: str,
    label: str,
    values: Sequence[str],
    probes: Sequence[str],
    hists: Sequence[LogHist],
    attached: Collection[str],
) -> None:
    """A histogram array map's entries as `metric`, entry i labelled values[i], for those whose
    probes[i] is attached."""
    for value, probe, h in zip(values, probes, hists, strict=True):
        if probe in attached:
            out.add(metric, histogram(h), **{label: value})
