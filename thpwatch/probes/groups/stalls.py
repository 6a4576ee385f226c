"""Group stalls (bpf/stalls.bpf.c): stalls behind THP faults, direct reclaim and compaction
latency (vmscan and compaction begin/end tracepoints)."""

from __future__ import annotations

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.group import CEnum, Decoding, ProbeGroup, tracepoint_probe
from thpwatch.probes.histogram import histogram
from thpwatch.probes.maps import HistArray, RawMaps

STALL = CEnum("STALL", ("direct_reclaim", "compaction"))  # stall_hist index; = probe names
STALL_HIST = HistArray("stall_hist")

STALL_METRICS = (
    Metric(
        "thpwatch_direct_reclaim_seconds",
        "histogram",
        "Direct reclaim stalls (vmscan direct_reclaim_begin to _end).",
        (),
        "seconds",
    ),
    Metric(
        "thpwatch_compaction_seconds",
        "histogram",
        "Compaction runs (compaction begin to end), direct and kcompactd.",
        (),
        "seconds",
    ),
)


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    hists = STALL_HIST.of(raw)
    if hists is None:
        return
    for metric, probe, h in zip(STALL_METRICS, STALL.members, hists, strict=True):
        if probe in d.attached:
            out.add(metric.name, histogram(h))


GROUP = ProbeGroup(
    "stalls",
    (
        tracepoint_probe(
            "direct_reclaim", "stalls", facts.TP_DIRECT_RECLAIM_BEGIN, facts.TP_DIRECT_RECLAIM_END
        ),
        tracepoint_probe(
            "compaction", "stalls", facts.TP_COMPACTION_BEGIN, facts.TP_COMPACTION_END
        ),
    ),
    maps=(STALL_HIST,),
    metrics=STALL_METRICS,
    enums=(STALL,),
    emit=emit,
)
