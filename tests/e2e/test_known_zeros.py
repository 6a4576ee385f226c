"""A fresh `thpwatch run` on this (quiet) host: the counters of every attached probe are on
/metrics with their known label sets at 0 before any event; probes that did not attach
(refused function probes here) export nothing but their state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import require
from prometheus_client.parser import text_string_to_metric_families

from thpwatch.probes.metrics import KNOWN

pytestmark = [pytest.mark.e2e, pytest.mark.bpf]


def samples_by_metric(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_fresh_run_exports_attached_probes_counters_at_zero(thpwatch_exporter, bpf_ready):
    require(os.geteuid() == 0, "needs root")
    exporter = thpwatch_exporter(timeout=180)  # bcc compiles first
    got = samples_by_metric(exporter.metrics())
    states = {
        dict(labels)["probe"]: dict(labels)["state"]
        for labels, v in got["thpwatch_probe_state"].items()
        if v == 1
    }
    assert states.get("madvise") == "ok", states  # tracepoints attach on this host
    checked_attached = checked_missing = 0
    for known in KNOWN:
        if known.probe not in states:
            continue  # its group is not loaded by default (opt-in)
        series = got.get(known.metric, {})
        fixed = all(not callable(v) for _, v in known.values)
        if states[known.probe] == "ok":
            if fixed:
                for labels in known.label_sets(None):
                    assert tuple(sorted(labels.items())) in series, (known.metric, labels)
                checked_attached += 1
        elif fixed:  # absent, blocked, error: none of the samples this probe would give
            present = [ls for ls in known.label_sets(None) if tuple(sorted(ls.items())) in series]
            assert not present, (known.probe, states[known.probe], known.metric, present)
            checked_missing += 1
    assert checked_attached >= 2  # madvise calls and bytes at least
    if not Path("/sys/kernel/mm/reserved_thp").exists():
        # madvise(MADV_RESERVED_THP) can only fail on a kernel without the series: a real 0
        calls = got["thpwatch_madvise_calls_total"]
        assert calls[(("advice", "reserved_thp"), ("result", "ok"))] == 0
        assert (
            got["thpwatch_madvise_bytes_total"][(("advice", "reserved_thp"), ("result", "ok"))] == 0
        )
    if any(s != "ok" for p, s in states.items() if p.startswith(("do_", "__split", "split"))):
        assert checked_missing >= 1
