"""Reserved THP on a real kernel booted with thp_reserved_nr=16: thpwatch's snapshot, probes,
kernel-log source, process scan and checks against the kernel's own files and real workloads."""

from __future__ import annotations

import errno
import os
import time

import pytest
from thpcli import Exporter, delta, probe_states, record, snapshot, wait_for_process
from workload import (
    MADV_NOHUGEPAGE,
    MADV_RESERVED_THP,
    PAGE,
    PMD_SIZE,
    Holder,
    Region,
    madvise,
    mremap_grow,
    reserve,
    reserve_thp_blocks,
    reserved_pool,
    touch,
)

POOL = 16  # thp_reserved_nr of this boot (tests/kernel/lane.py)
REFAULT_SECONDS = 5  # how long the child of the over-promised pool refaults before it is killed


@pytest.fixture(autouse=True)
def whole_pool_free() -> None:
    assert reserved_pool() == {"total": POOL, "free": POOL, "used": 0}, (
        "each test starts with the whole pool free (did a previous test leak a reservation?)"
    )


def test_pool_sizes_in_snapshot_match_sysfs(record_property) -> None:  # type: ignore[no-untyped-def]
    with Holder("rt-pool", lambda: reserve(5, touched=3)):
        kernel = reserved_pool()
        blocks, free_blocks = reserve_thp_blocks()
        snap = snapshot()
    assert kernel == {"total": POOL, "free": POOL - 5, "used": 5}
    assert snap.get("thpwatch_reserved_thp_pool_hpages") == kernel["total"]
    assert snap.get("thpwatch_reserved_thp_free_hpages") == kernel["free"]
    assert snap.get("thpwatch_reserved_thp_used_hpages") == kernel["used"]
    assert snap.get("thpwatch_reserved_thp_pool_bytes") == kernel["total"] * PMD_SIZE
    assert snap.get("thpwatch_reserved_thp_free_bytes") == kernel["free"] * PMD_SIZE
    assert snap.get("thpwatch_reserved_thp_used_bytes") == kernel["used"] * PMD_SIZE
    assert snap.get("thpwatch_reserved_thp_requested_hpages") == POOL
    assert snap.get("thpwatch_reserved_thp_pageblocks") == blocks == POOL
    assert snap.get("thpwatch_reserved_thp_resident_hpages") == blocks - free_blocks == 3
    record(record_property, sysfs=kernel, reserve_thp_blocks=blocks, free_blocks=free_blocks)


def test_resident_reserved_thps_follow_faults(exporter: Exporter, record_property) -> None:  # type: ignore[no-untyped-def]
    seen = []
    for touched in (0, 2, 7):
        with Holder("rt-resident", lambda n=touched: reserve(8, touched=n)):
            blocks, free_blocks = reserve_thp_blocks()
            resident = exporter.scrape().get("thpwatch_reserved_thp_resident_hpages")
        seen.append(resident)
        assert resident == touched == blocks - free_blocks
    record(record_property, resident_after_0_2_7_faults=seen)


def test_madvise_results_and_charge_failures_seen_by_probes(
    exporter: Exporter,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    def workload() -> dict[str, str]:
        ok = Region(4 * PMD_SIZE, PMD_SIZE)
        misaligned = Region(4 * PMD_SIZE, PMD_SIZE)
        over = Region(POOL * PMD_SIZE, PMD_SIZE)
        return {
            "ok": madvise(ok, MADV_RESERVED_THP),
            "misaligned": madvise(misaligned, MADV_RESERVED_THP, PAGE, PMD_SIZE),
            "over_quota": madvise(over, MADV_RESERVED_THP),
        }

    before = exporter.scrape()
    with Holder("rt-madvise", workload) as holder:
        pass
    after = exporter.scrape()
    assert holder.result == {"ok": "ok", "misaligned": "EINVAL", "over_quota": "EAGAIN"}
    states = probe_states(after)
    assert states.get("madvise") == "ok", states
    assert states.get("reserved_thp_charge") == "ok", states
    calls = {
        result: delta(
            before, after, "thpwatch_madvise_calls_total", advice="reserved_thp", result=result
        )
        for result in ("ok", "EINVAL", "EAGAIN")
    }
    assert calls == {"ok": 1, "EINVAL": 1, "EAGAIN": 1}
    ok_bytes = delta(
        before, after, "thpwatch_madvise_bytes_total", advice="reserved_thp", result="ok"
    )
    assert ok_bytes == 4 * PMD_SIZE
    charges = {
        result: delta(before, after, "thpwatch_reserved_thp_charge_total", result=result)
        for result in ("ok", "ENOMEM")
    }
    assert charges == {"ok": 1, "ENOMEM": 1}, "madvise's EAGAIN is the charge's -ENOMEM"
    refused = delta(before, after, "thpwatch_reserved_thp_charge_hpages_total", result="ENOMEM")
    assert refused == POOL
    assert delta(before, after, "thpwatch_reserved_thp_uncharge_hpages_total") == 4  # at exit
    record(record_property, madvise_calls=calls, charges=charges)


def test_mremap_and_fork_over_quota_fail_with_enomem(
    exporter: Exporter,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    def workload() -> dict[str, int]:
        region = Region(10 * PMD_SIZE, PMD_SIZE)
        assert madvise(region, MADV_RESERVED_THP) == "ok"
        grow = mremap_grow(region, 20 * PMD_SIZE)
        try:
            pid = os.fork()
        except OSError as exc:
            fork = exc.errno or -1
        else:
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            fork = 0
        return {"mremap": grow, "fork": fork, **reserved_pool()}

    before = exporter.scrape()
    with Holder("rt-overquota", workload) as holder:
        pass
    after = exporter.scrape()
    assert holder.result == {
        "mremap": errno.ENOMEM,
        "fork": errno.ENOMEM,
        "total": POOL,
        "free": POOL - 10,
        "used": 10,
    }
    enomem = delta(before, after, "thpwatch_reserved_thp_charge_total", result="ENOMEM")
    assert enomem == 2, "mremap growth and fork each failed one charge"
    record(record_property, charge_enomem=enomem)


def test_reserved_allocations_on_mm_page_alloc(exporter: Exporter, record_property) -> None:  # type: ignore[no-untyped-def]
    before = exporter.scrape()
    with Holder("rt-alloc", lambda: reserve(6, touched=6)):
        pass
    after = exporter.scrape()
    reserved = delta(
        before,
        after,
        "thpwatch_page_alloc_total",
        order="9",
        migratetype="ReserveTHP",
        reserved_gfp="yes",
    )
    assert reserved == 6
    # The GFP bit and the migratetype go together: no reserved-GFP allocation elsewhere.
    assert delta(before, after, "thpwatch_page_alloc_total", reserved_gfp="yes") == 6
    record(record_property, reserved_order9_allocations=reserved)


def test_rt_vmas_per_process(exporter: Exporter, record_property) -> None:  # type: ignore[no-untyped-def]
    with Holder("rt-holder", lambda: reserve(3, touched=2)):
        reading = wait_for_process(exporter, "rt-holder", "thpwatch_process_reserved_thp_bytes")
    size = reading.total("thpwatch_process_reserved_thp_bytes", comm="rt-holder")
    resident = reading.total("thpwatch_process_reserved_thp_resident_bytes", comm="rt-holder")
    assert size == 3 * PMD_SIZE
    assert resident == 2 * PMD_SIZE
    assert reading.total("thpwatch_process_scan_reserved_thp_processes") == 1
    record(record_property, rt_bytes=size, rt_resident_bytes=resident)


def fill_then_release_quota() -> dict[str, int]:
    """Fault the whole pool, then MADV_NOHUGEPAGE: the quota is given back, the THPs stay."""
    region = Region(POOL * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_RESERVED_THP) == "ok"
    touch(region)
    assert madvise(region, MADV_NOHUGEPAGE) == "ok"
    return reserved_pool()


def refault_until_killed() -> int:
    """A reservation the pool cannot back: the fault returns VM_FAULT_OOM and retries forever.
    Runs in a child killed after REFAULT_SECONDS; its exit status says it never got the page."""
    pid = os.fork()
    if pid == 0:
        reserve(1, touched=1)
        os._exit(0)  # not reached while the pool is over-promised
    time.sleep(REFAULT_SECONDS)
    finished, status = os.waitpid(pid, os.WNOHANG)
    if not finished:
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_over_promised_pool_fault_is_oom(exporter: Exporter, record_property) -> None:  # type: ignore[no-untyped-def]
    before = exporter.scrape()
    with Holder("rt-overpromise", fill_then_release_quota) as holder:
        assert holder.result == {"total": POOL, "free": POOL, "used": 0}
        during = exporter.scrape()
        child_status = refault_until_killed()
        after = exporter.scrape()
    assert child_status == -9, "the child's reserved fault must never succeed"
    check = "quota_backed_by_free_blocks"
    assert during.get("thpwatch_check_violation", check=check) == 1
    assert during.get("thpwatch_check_observed", check=check) == POOL  # free_hpages
    assert during.get("thpwatch_check_limit", check=check) == 0  # free ReserveTHP hpages
    oom = delta(during, after, "thpwatch_faults_total", fault="pmd_anon", outcome="oom")
    assert oom >= 1
    leaked = delta(before, after, "thpwatch_kmsg_oom_leaked_lines_total")
    assert leaked >= 1
    record(record_property, pmd_oom_faults=oom, kmsg_oom_leaked_lines=leaked)
