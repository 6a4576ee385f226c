"""Every tracepoint probe attaches here and counts a real workload of this process
(pid-filtered, so other processes' work does not count), decoded into catalog samples."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from thpwatch import workload
from thpwatch.kernel import facts
from thpwatch.kernel.vmstat import read_vmstat
from thpwatch.probes.decode import read_maps
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.source import BpfSource
from thpwatch.sampler import run_source
from thpwatch.snapshot import Histogram, Sample, State

pytestmark = pytest.mark.bpf
TRACEPOINT_GROUPS = ("alloc", "madvise", "stalls", "khugepaged")


@pytest.fixture(scope="module")
def source(bpf_ready: None) -> Iterator[BpfSource]:
    src = BpfSource(groups=TRACEPOINT_GROUPS, pid=os.getpid(), pid_labels=True)
    run_source(src)  # compile + attach once for the module
    yield src
    src.close()


def collect(src: BpfSource) -> dict[tuple[str, tuple[tuple[str, str], ...]], Sample]:
    samples, statuses = run_source(src)
    assert statuses[0].state is State.OK, statuses[0].reason
    return {(s.name, s.labels): s for s in samples}


def counter(samples: dict, name: str, **labels: str) -> float:
    s = samples.get((name, tuple(sorted(labels.items()))))
    return 0.0 if s is None else float(s.value)


def test_every_tracepoint_probe_attaches(source: BpfSource) -> None:
    _, statuses = run_source(source)
    probes = {s.name: s for s in statuses if s.kind == "probe"}
    assert set(probes) == {
        "mm_page_alloc",
        "madvise",
        "direct_reclaim",
        "compaction",
        "collapse_huge_page",
        "migrate_pages",
    }
    for st in probes.values():
        assert st.state is State.OK, f"{st.name}: {st.reason}"
        assert dict(st.detail)["method"] == "tracepoint"


def test_order9_allocations_of_this_process_equal_the_thps_it_faulted(source: BpfSource) -> None:
    before = collect(source)
    did = workload.thp_faults(count=48)
    after = collect(source)
    labels = {"order": str(facts.PMD_ORDER), "migratetype": "Movable", "reserved_gfp": "no"}
    got = counter(after, "thpwatch_page_alloc_total", **labels) - counter(
        before, "thpwatch_page_alloc_total", **labels
    )
    assert got == did.counts["thps"] == 48


def test_madvise_counts_equal_the_calls_made(source: BpfSource) -> None:
    before = collect(source)
    did = workload.madvise_storm(rounds=8)
    after = collect(source)
    assert ("hugepage", "EINVAL") in did.madvise_calls  # both results exercised
    for (advice, result), calls in did.madvise_calls.items():
        for name, want in (
            ("thpwatch_madvise_calls_total", calls),
            ("thpwatch_madvise_bytes_total", did.madvise_bytes[(advice, result)]),
        ):
            got = counter(after, name, advice=advice, result=result) - counter(
                before, name, advice=advice, result=result
            )
            assert got == want, (name, advice, result)
    mine = [s for k, s in after.items() if k[0] == "thpwatch_madvise_top_process_calls_total"]
    assert [s.label("pid") for s in mine] == [str(os.getpid())]


def test_madvise_collapse_is_counted_by_status_name(source: BpfSource) -> None:
    before = collect(source)
    did = workload.collapse(count=2)
    after = collect(source)
    assert did.counts["collapsed_ranges"] == 2
    got = counter(after, "thpwatch_khugepaged_collapse_total", status="succeeded") - counter(
        before, "thpwatch_khugepaged_collapse_total", status="succeeded"
    )
    assert got >= 2  # khugepaged may collapse other processes' memory meanwhile (no pid filter)
    statuses = {k[1] for k in after if k[0] == "thpwatch_khugepaged_collapse_total"}
    assert all(not dict(lbl)["status"].isdigit() for lbl in statuses)


def test_compaction_latency_and_thp_migration_match_the_kernel(source: BpfSource) -> None:
    """Writing compact_memory compacts every zone in this process: one compaction run per zone,
    timed; THP migrations counted by the tracepoint equal vmstat's thp_migration_* deltas."""
    root = Path("/")
    vm0 = read_vmstat(root)
    before = collect(source)
    Path("/proc/sys/vm/compact_memory").write_text("1\n")
    after = collect(source)
    vm1 = read_vmstat(root)
    key = ("thpwatch_compaction_seconds", ())
    hist = after[key].value
    assert isinstance(hist, Histogram)
    runs = hist.count - before[key].value.count
    assert runs >= 1
    assert hist.total > before[key].value.total
    for result, stat in (
        ("succeeded", "thp_migration_success"),
        ("failed", "thp_migration_fail"),
        ("split", "thp_migration_split"),
    ):
        got = counter(after, "thpwatch_thp_migration_total", result=result) - counter(
            before, "thpwatch_thp_migration_total", result=result
        )
        assert got == vm1.get(stat) - vm0.get(stat), result


def test_direct_reclaim_histogram_is_exported(source: BpfSource) -> None:
    """Global direct reclaim needs host-wide memory pressure, which a test must not cause on a
    shared machine: this only checks the attached probe exports its (possibly empty) histogram."""
    after = collect(source)
    assert isinstance(after[("thpwatch_direct_reclaim_seconds", ())].value, Histogram)


def test_each_group_attaches_alone(bpf_ready: None) -> None:
    for group in TRACEPOINT_GROUPS:
        with ProbeSet(groups=(group,), pid=os.getpid()) as ps:
            assert ps.states and all(st.state is State.OK for st in ps.states.values()), group
            assert read_maps(ps.objects), group  # its maps were found
