"""The cross-check metric on the real kernel: order-9 allocations seen by the tracepoint against
the PMD THP allocations the kernel counted (anon_fault_alloc of the PMD size, plus collapses and
file THPs that other processes may cause meanwhile), both system-wide over the same interval."""

from __future__ import annotations

import pytest

from thpwatch import workload
from thpwatch.probes.crosscheck import PMD_SIZE, read_kernel_counts
from thpwatch.probes.source import BpfSource
from thpwatch.sampler import run_source
from thpwatch.snapshot import State

pytestmark = pytest.mark.bpf


def order9(samples: list) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == "thpwatch_page_alloc_total" and s.label("order") == "9"
    )


def test_order9_allocations_match_anon_fault_alloc_within_one_percent(bpf_ready: None) -> None:
    src = BpfSource(groups=("alloc",))
    try:
        first, _ = run_source(src)
        k0 = read_kernel_counts()[f"mthp:{PMD_SIZE}:anon_fault_alloc"]
        did = workload.alloc_storm(rounds=4, thps=50)
        samples, statuses = run_source(src)
        k1 = read_kernel_counts()[f"mthp:{PMD_SIZE}:anon_fault_alloc"]
    finally:
        src.close()
    assert statuses[0].state is State.OK, statuses[0].reason
    kernel, bpf = k1 - k0, order9(samples) - order9(first)
    assert kernel >= did.counts["thps"] == 200
    assert bpf >= did.counts["thps"]
    # The source reads its maps and the kernel counters back to back at each collect, so its
    # ratio compares the same interval (this test's own reads above bracket it only loosely).
    (ratio,) = [
        s.value
        for s in samples
        if s.name == "thpwatch_crosscheck_disagreement_ratio" and s.label("check") == "pmd_alloc"
    ]
    assert ratio <= 0.01, (ratio, bpf, kernel)
