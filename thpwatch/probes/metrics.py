"""Metrics the BPF probes emit, gathered from the groups (probes/groups/: each declares its
metrics beside its decoder), and the label sets each has from the moment its probe attaches
(KNOWN)."""

from __future__ import annotations

from thpwatch.metric import Metric
from thpwatch.probes.groups import GROUPS

METRICS = (
    *(m for g in GROUPS for m in g.metrics),
    Metric(
        "thpwatch_crosscheck_disagreement_ratio",
        "gauge",
        "Disagreement between a BPF count and the kernel's own counter over the last interval: "
        "|bpf - kernel| / kernel for exact checks, (bpf - kernel) / kernel above the bound for "
        "at-most checks, 0/1 for activity checks (see docs/probes.md).",
        ("check",),
        "ratio",
    ),
)
KNOWN = tuple(k for g in GROUPS for k in g.known)
