"""PUD (1 GiB) THP on a real kernel in a 6 GiB guest: the size in every sink, PUD faults and
their latency from the probes against the kernel's counters, splits, and a process scan that
does not destroy the 1 GiB pages it looks at."""

from __future__ import annotations

import os
import time

import pytest
from thpcli import Exporter, delta, probe_states, record, snapshot, thpwatch, wait_for_process
from workload import (
    MADV_PAGEOUT,
    PAGE,
    PMD_SIZE,
    PROT_READ,
    PUD_SIZE,
    Holder,
    Region,
    byte,
    madvise,
    mprotect,
    mthp_stat,
    munmap,
    touch,
    vmstat,
)

PUD = "1048576kB"
PMD = "2048kB"
THP = "/sys/kernel/mm/transparent_hugepage"
# "fallback" is left out: the PUD handler also returns VM_FAULT_FALLBACK, uncounted by the
# kernel, whenever a fault opens a PUD range that cannot hold a 1 GiB page (the 2 MiB THPs'
# region here), so the probe's fallbacks exceed anon_fault_fallback by design.
FAILED_OUTCOMES = ("oom", "sigbus", "error")
SCAN_INTERVAL_S = 5  # the exporter fixture's --scan-interval


@pytest.fixture(autouse=True)
def pud_thp_enabled(sysfs) -> None:  # type: ignore[no-untyped-def]
    sysfs(f"{THP}/hugepages-{PUD}/enabled", "always")


def fault_pud_thp(pmd_thps: int = 0) -> dict[str, int]:
    """One 1 GiB THP (a single write fault) and `pmd_thps` 2 MiB THPs beside it."""
    region = Region(PUD_SIZE, PUD_SIZE)
    touch(region, 0, 1)
    if pmd_thps:
        touch(Region(pmd_thps * PMD_SIZE, PMD_SIZE))
    return {"addr": region.addr}


def test_pud_faults_counted_with_latency_beside_pmd(exporter: Exporter, record_property) -> None:  # type: ignore[no-untyped-def]
    before = exporter.scrape()
    alloc_before = mthp_stat(PUD, "anon_fault_alloc")
    fallback_before = mthp_stat(PUD, "anon_fault_fallback")
    with Holder("pud-fault", lambda: fault_pud_thp(pmd_thps=16)):
        alloc = mthp_stat(PUD, "anon_fault_alloc") - alloc_before
    after = exporter.scrape()
    assert probe_states(after).get("do_huge_pud_anonymous_page") == "ok"
    kernel_fallback = mthp_stat(PUD, "anon_fault_fallback") - fallback_before
    outcomes = {
        o: delta(before, after, "thpwatch_faults_total", fault="pud_anon", outcome=o)
        for o in ("ok", "retry", "fallback", *FAILED_OUTCOMES)
    }
    ok = outcomes["ok"]
    assert alloc == 1 and ok == alloc, outcomes
    # A first attempt that returned VM_FAULT_RETRY is counted as "retry", never as a failure.
    assert not any(outcomes[o] for o in FAILED_OUTCOMES), outcomes
    assert kernel_fallback == 0
    pud_count = delta(before, after, "thpwatch_fault_seconds_count", fault="pud_anon")
    pud_sum = delta(before, after, "thpwatch_fault_seconds_sum", fault="pud_anon")
    pmd_count = delta(before, after, "thpwatch_fault_seconds_count", fault="pmd_anon")
    pmd_sum = delta(before, after, "thpwatch_fault_seconds_sum", fault="pmd_anon")
    timed = sum(outcomes.values()) - outcomes["retry"]
    assert pud_count == timed, "every attempt but VM_FAULT_RETRY ones is timed"
    assert pmd_count >= 16
    # Zeroing 1 GiB against 2 MiB: the PUD fault's mean latency is far above the PMD faults'.
    assert pud_sum / pud_count > pmd_sum / pmd_count > 0
    record(
        record_property,
        pud_fault_outcomes=outcomes,
        kernel_anon_fault_fallback_1G=kernel_fallback,
        anon_fault_alloc_1G=alloc,
        pud_fault_mean_s=round(pud_sum / pud_count, 4),
        pmd_fault_mean_s=round(pmd_sum / pmd_count, 6),
        pmd_faults=pmd_count,
    )


def split_by(how: str) -> dict[str, int]:
    """Fault a 1 GiB THP, split it one way, check the data survived."""
    region = Region(PUD_SIZE, PUD_SIZE)
    touch(region, 0, PMD_SIZE, step=PAGE)  # the first write faults the whole 1 GiB THP
    if how == "munmap":
        assert munmap(region, PUD_SIZE - PMD_SIZE, PMD_SIZE) == 0
    elif how == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    elif how == "mprotect":
        assert mprotect(region, PROT_READ, 0, PMD_SIZE) == 0
    elif how == "pageout":
        assert madvise(region, MADV_PAGEOUT) == "ok"
    return {"intact": int(byte(region, 0) == 0x5A and byte(region, PMD_SIZE - PAGE) == 0x5A)}


@pytest.mark.parametrize("how", ["munmap", "fork", "mprotect", "pageout"])
def test_pud_split_seen_by_vmstat_and_split_probe(
    exporter: Exporter,
    how: str,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    before = exporter.scrape()
    kernel_before = vmstat("thp_split_pud")
    with Holder(f"pud-{how}", lambda: split_by(how)) as holder:
        assert holder.result == {"intact": 1}
    kernel = vmstat("thp_split_pud") - kernel_before
    after = exporter.scrape()
    assert kernel == 1
    assert delta(before, after, "thpwatch_vmstat_thp_split_pud_total") == 1
    assert delta(before, after, "thpwatch_splits_total", level="pud") == kernel
    assert delta(before, after, "thpwatch_split_seconds_count", level="pud") == kernel
    record(record_property, thp_split_pud=kernel)


def test_pud_thp_in_every_sink_and_left_unsplit_by_scans(
    exporter: Exporter,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """A process holds one 1 GiB THP while the exporter's process scan (smaps walks: safe on
    this kernel, which has the PUD walker), `snapshot` and `top` look at it: each shows the
    1 GiB size, and the THP is still one 1 GiB THP afterwards."""
    splits_before = vmstat("thp_split_pud")
    with Holder("pud-scanned", fault_pud_thp):
        assert mthp_stat(PUD, "nr_anon") == 1
        first = wait_for_process(
            exporter, "pud-scanned", "thpwatch_process_anon_huge_bytes", at_least=PUD_SIZE
        )
        time.sleep(SCAN_INTERVAL_S + 1)  # and one more scan
        metrics = exporter.scrape()
        snap = snapshot()
        top = thpwatch("top", "--once", "--no-bpf", "--interval", "0.5")
        still_huge = mthp_stat(PUD, "nr_anon")
        splits = vmstat("thp_split_pud") - splits_before
    for reading in (snap, metrics):
        assert reading.get("thpwatch_mthp_enabled", size=PUD, mode="always") == 1
        assert reading.get("thpwatch_mthp_nr_anon", size=PUD) == 1
        assert reading.series("thpwatch_kernel_info", pud_thp="yes")
    assert top.returncode == 0, top.stderr
    assert f"kernel {os.uname().release}" in top.stdout, top.stdout  # the header's feature line
    rows = [line.split() for line in top.stdout.splitlines() if line.split()[:1] == [PUD]]
    assert rows and rows[0][1:3] == ["always", "1"], top.stdout  # size, mode, nr_anon
    huge = [
        r.total("thpwatch_process_anon_huge_bytes", comm="pud-scanned") for r in (first, metrics)
    ]
    assert huge == [PUD_SIZE, PUD_SIZE], "the scan reads the THP through smaps"
    assert splits == 0 and still_huge == 1, "thpwatch split the 1 GiB THP it was looking at"
    record(record_property, thp_split_pud_during_scans=splits, anon_huge_bytes_seen=huge)
