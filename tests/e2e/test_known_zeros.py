"""A fresh `thpwatch run` on this (quiet) host: the counters of every attached probe are on
/metrics with their known label sets at 0 before any event; probes that did not attach
(refused function probes here) export nothing but their state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import require
from prometheus_client.parser import text_string_to_metric_families

from thpwatch.probes.group import Names
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
    # the names the source reads at start-up that this test can know without BPF
    names = Names(reserved_thp=Path("/sys/kernel/mm/reserved_thp").is_dir())
    checked_attached = checked_missing = 0
    for known in KNOWN:
        if known.probe not in states:
            continue  # its group is not loaded by default (opt-in)
        series = got.get(known.metric, {})
        label_sets = [tuple(sorted(ls.items())) for ls in known.label_sets(names)]
        if not label_sets:
            continue  # values from tracefs or pagetypeinfo (collapse statuses, migratetypes)
        if states[known.probe] == "ok":
            missing = [ls for ls in label_sets if ls not in series]
            assert not missing, (known.metric, missing)
            checked_attached += 1
        else:  # absent, blocked, error: none of the samples this probe would give
            present = [ls for ls in label_sets if ls in series]
            assert not present, (known.probe, states[known.probe], known.metric, present)
            checked_missing += 1
    assert checked_attached >= 2  # madvise calls and bytes at least
    if not names.reserved_thp:
        # a kernel without the series: MADV_RESERVED_THP has no `ok` to count (absent, not 0)
        calls = got["thpwatch_madvise_calls_total"]
        assert (("advice", "reserved_thp"), ("result", "ok")) not in calls
        assert (("advice", "hugepage"), ("result", "ok")) in calls
    if any(s != "ok" for p, s in states.items() if p.startswith(("do_", "__split", "split"))):
        assert checked_missing >= 1
