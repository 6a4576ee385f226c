"""Group splits (bpf/splits.bpf.c): THP splits per level (PMD, PUD, folio), counted by result
and timed. Split functions are void on current kernels and may return an int (-errno) later:
the result is named only where the BTF prototype returns one (Names.split_returns_value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.errors import result_name
from thpwatch.probes.group import CEnum, Decoding, Known, Names, ProbeGroup, function_probe
from thpwatch.probes.histogram import add_histograms
from thpwatch.probes.maps import Counts, HistArray, RawMaps

SPLIT = CEnum("SPLIT", ("pmd", "pud", "folio"))  # split_hist index, split_key level
SPLIT_PROBES = (facts.FN_SPLIT_HUGE_PMD, facts.FN_SPLIT_HUGE_PUD, facts.FN_SPLIT_HUGE_PAGE)


class SplitKey(NamedTuple):  # struct split_key
    level: int  # SPLIT index
    ret: int  # 0 or -errno (0 from a void function)


SPLIT_HIST = HistArray("split_hist")
SPLIT_COUNTS = Counts("split_counts", SplitKey, "=Ii")

SPLIT_SECONDS = Metric(
    "thpwatch_split_seconds",
    "histogram",
    "THP split latency by level (pmd, pud, folio).",
    ("level",),
    "seconds",
)
SPLITS_TOTAL = Metric(
    "thpwatch_splits_total",
    "counter",
    "THP splits by level and result: ok or an errno name where the function returns an int, "
    "`returned` where it is void (no failure can be seen).",
    ("level", "result"),
)


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    hists, counts = SPLIT_HIST.of(raw), SPLIT_COUNTS.of(raw)
    if hists is None or counts is None:
        return
    add_histograms(out, SPLIT_SECONDS.name, "level", SPLIT.members, SPLIT_PROBES, hists, d.attached)
    for k, n in sorted(counts.items()):
        probe = SPLIT_PROBES[k.level]
        if probe not in d.attached:
            continue
        result = result_name(k.ret) if d.names.split_returns_value.get(probe) else "returned"
        out.add(SPLITS_TOTAL.name, n, level=SPLIT.members[k.level], result=result)


def split_calls(level: str) -> Callable[[RawMaps], int | None]:
    index = SPLIT.index(level)

    def total(raw: RawMaps) -> int | None:
        counts = SPLIT_COUNTS.of(raw)
        if counts is None:
            return None
        return sum(n for k, n in counts.items() if k.level == index)

    return total


def _split_result(probe: str) -> Callable[[Names], tuple[str, ...]]:
    return lambda names: ("ok",) if names.split_returns_value.get(probe) else ("returned",)


GROUP = ProbeGroup(
    "splits",
    (
        # split_huge_pmd_locked: PMD splits by reclaim/migration that bypass __split_huge_pmd
        function_probe(
            facts.FN_SPLIT_HUGE_PMD, "splits", helpers=(facts.FN_SPLIT_HUGE_PMD_LOCKED,)
        ),
        function_probe(facts.FN_SPLIT_HUGE_PUD, "splits"),
        function_probe(
            facts.FN_SPLIT_HUGE_PAGE, "splits", alternatives=(facts.FN_SPLIT_HUGE_PAGE_OLD,)
        ),
    ),
    maps=(SPLIT_HIST, SPLIT_COUNTS),
    metrics=(SPLIT_SECONDS, SPLITS_TOTAL),
    known=tuple(
        Known(SPLITS_TOTAL.name, probe, (("level", (level,)), ("result", _split_result(probe))))
        for level, probe in zip(SPLIT.members, SPLIT_PROBES, strict=True)
    ),
    enums=(SPLIT,),
    emit=emit,
)
