"""The RFC's original allocator (rfc-slowpath-unfixed.patch): a reserved fault that reaches the
slowpath converts an ordinary pageblock into an extra ReserveTHP block counted nowhere.
thpwatch must flag it on /metrics, in `top --once` and in `doctor`."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time

import pytest
from doctorjson import doctor, findings_mentioning, where_mentioned
from thpcli import Exporter, record, thpwatch
from workload import (
    MADV_NOHUGEPAGE,
    MADV_RESERVED_THP,
    PMD_SIZE,
    Holder,
    Region,
    free_lists,
    madvise,
    pagetypeinfo,
    reserve,
    reserve_thp_blocks,
    reserved_pool,
    touch,
)

POOL = 16  # thp_reserved_nr of this boot
# The stealing fault takes well under a second when it works; a fault the slowpath cannot serve
# returns VM_FAULT_OOM and refaults until killed (shared/kernel/README.md), so it is bounded.
FAULT_TIMEOUT_S = 120
PIPE_MIB = 64  # unmovable kernel memory allocated and freed to leave free Unmovable pageblocks
CHECK = "reserve_pageblocks_match_pool"
THP = "/sys/kernel/mm/transparent_hugepage"


def free_unmovable_chunks() -> int:
    """Free blocks of pageblock order or more on the Unmovable free lists (/proc/pagetypeinfo),
    what the unfixed slowpath steals from (shared/kernel/README.md: "steals an ordinary
    Unmovable pageblock"; it indexes the fallbacks table with MIGRATE_RESERVED_THP)."""
    block_order, counts = free_lists(pagetypeinfo(), "Unmovable")
    return sum(sum(row[block_order:]) for row in counts)


def leave_free_unmovable_pageblocks() -> None:
    """Pipe buffers are unmovable kernel pages: filling PIPE_MIB of them makes the allocator
    take whole free pageblocks over as Unmovable; closing the pipes frees those blocks, which
    stay Unmovable. Without this the recipe's fault found no Unmovable block to steal in some
    boots and refaulted forever (VM_FAULT_OOM, "Huh VM_FAULT_OOM leaked out")."""
    pipes = [os.pipe() for _ in range(PIPE_MIB)]
    try:
        for _, w in pipes:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
            os.set_blocking(w, False)
            os.write(w, bytes(1 << 20))
    finally:
        for fd in (fd for pair in pipes for fd in pair):
            os.close(fd)


def convert_a_pageblock() -> dict[str, int | str]:
    """The recipe of shared/kernel/README.md: fill the pool, drop the quota with
    MADV_NOHUGEPAGE (the THPs stay), reserve one more hpage and fault it with defrag=always."""
    leave_free_unmovable_pageblocks()
    free_chunks = free_unmovable_chunks()
    region = Region(POOL * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_RESERVED_THP) == "ok"
    touch(region)
    assert madvise(region, MADV_NOHUGEPAGE) == "ok"
    pid = os.fork()
    if pid == 0:
        reserve(1, touched=1)  # "succeeds" on this kernel: the slowpath stole a block
        os._exit(0)
    return {"child_exit": wait_or_kill(pid, FAULT_TIMEOUT_S), "unmovable_free_chunks": free_chunks}


def wait_or_kill(pid: int, timeout: float) -> int | str:
    """The child's exit code, or, if it is still running after `timeout` seconds, what the
    kernel says it is doing (state, wchan, the kernel log's tail) once it has been killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.2)
    with open(f"/proc/{pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    with open(f"/proc/{pid}/wchan") as f:
        wchan = f.read()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    kmsg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()[-15:]
    return f"still faulting after {timeout:.0f} s (state {state}, wchan {wchan}): " + " | ".join(
        kmsg
    )


@pytest.fixture
def converted(sysfs) -> dict[str, int | str]:  # type: ignore[no-untyped-def]
    sysfs(f"{THP}/defrag", "always")
    with Holder("rt-convert", convert_a_pageblock) as holder:
        pass
    blocks, _free = reserve_thp_blocks()
    assert holder.result["unmovable_free_chunks"] > 0, "no free Unmovable block to steal"
    assert holder.result["child_exit"] == 0, holder.result
    assert reserved_pool()["total"] == POOL
    # The fallback takes the largest free Unmovable chunk whole: one pageblock, or two when the
    # chunk was of order pageblock_order + 1 (pagetypeinfo showed 17 and 18 for a pool of 16).
    assert blocks in (POOL + 1, POOL + 2), "the unfixed slowpath should have converted a block"
    return {"reserve_thp_blocks": blocks, **holder.result}


def test_converted_pageblock_flagged_everywhere(converted, record_property) -> None:  # type: ignore[no-untyped-def]
    daemon = Exporter("--no-bpf")
    try:
        metrics = daemon.wait_ready("thpwatch_check_violation")
    finally:
        daemon.stop()
    assert metrics.get("thpwatch_check_violation", check=CHECK) == 1
    blocks = converted["reserve_thp_blocks"]
    assert metrics.get("thpwatch_check_observed", check=CHECK) == blocks
    assert metrics.get("thpwatch_check_limit", check=CHECK) == POOL
    assert metrics.get("thpwatch_reserved_thp_pageblocks") == blocks

    top = thpwatch("top", "--once", "--no-bpf", "--interval", "0.5")
    assert top.returncode == 0, top.stderr
    assert f"VIOLATION {CHECK}" in top.stdout, top.stdout

    report = doctor()
    assert findings_mentioning(report, CHECK), (
        f"no doctor finding names {CHECK}; findings {report['findings']}; "
        f"elsewhere in doctor: {where_mentioned(report, CHECK)}"
    )
    record(record_property, **converted, top_violation_line=f"VIOLATION {CHECK}")
