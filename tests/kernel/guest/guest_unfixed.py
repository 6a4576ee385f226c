"""The RFC's original allocator (rfc-slowpath-unfixed.patch): a reserved fault that reaches the
slowpath converts an ordinary pageblock into an extra ReserveTHP block counted nowhere.
thpwatch must flag it on /metrics, in `top --once` and in `doctor`."""

from __future__ import annotations

import os

import pytest
from doctorjson import doctor, findings_mentioning, where_mentioned
from thpcli import Exporter, record, thpwatch
from workload import (
    MADV_NOHUGEPAGE,
    MADV_RESERVED_THP,
    PMD_SIZE,
    Holder,
    Region,
    madvise,
    reserve,
    reserve_thp_blocks,
    reserved_pool,
    touch,
)

POOL = 16  # thp_reserved_nr of this boot
CHECK = "reserve_pageblocks_match_pool"
THP = "/sys/kernel/mm/transparent_hugepage"


def convert_a_pageblock() -> dict[str, int]:
    """The recipe of shared/kernel/README.md: fill the pool, drop the quota with
    MADV_NOHUGEPAGE (the THPs stay), reserve one more hpage and fault it with defrag=always."""
    region = Region(POOL * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_RESERVED_THP) == "ok"
    touch(region)
    assert madvise(region, MADV_NOHUGEPAGE) == "ok"
    pid = os.fork()
    if pid == 0:
        reserve(1, touched=1)  # "succeeds" on this kernel: the slowpath stole a block
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return {"child_exit": os.waitstatus_to_exitcode(status)}


@pytest.fixture
def converted(sysfs) -> dict[str, int]:  # type: ignore[no-untyped-def]
    sysfs(f"{THP}/defrag", "always")
    with Holder("rt-convert", convert_a_pageblock) as holder:
        pass
    blocks, _free = reserve_thp_blocks()
    assert holder.result == {"child_exit": 0}
    assert reserved_pool()["total"] == POOL
    assert blocks == POOL + 1, "the unfixed slowpath should have converted one pageblock"
    return {"reserve_thp_blocks": blocks}


def test_converted_pageblock_flagged_everywhere(converted, record_property) -> None:  # type: ignore[no-untyped-def]
    daemon = Exporter("--no-bpf")
    try:
        metrics = daemon.wait_ready("thpwatch_check_violation")
    finally:
        daemon.stop()
    assert metrics.get("thpwatch_check_violation", check=CHECK) == 1
    assert metrics.get("thpwatch_check_observed", check=CHECK) == POOL + 1
    assert metrics.get("thpwatch_check_limit", check=CHECK) == POOL
    assert metrics.get("thpwatch_reserved_thp_pageblocks") == POOL + 1

    top = thpwatch("top", "--once", "--no-bpf", "--interval", "0.5")
    assert top.returncode == 0, top.stderr
    assert f"VIOLATION {CHECK}" in top.stdout, top.stdout

    report = doctor()
    assert findings_mentioning(report, CHECK), (
        f"no doctor finding names {CHECK}; findings {report['findings']}; "
        f"elsewhere in doctor: {where_mentioned(report, CHECK)}"
    )
    record(record_property, **converted, top_violation_line=f"VIOLATION {CHECK}")
