"""Kernel log source: record parsing, fixture logs, incremental reads, and the real /dev/kmsg."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, require
from unit.fixturetree import tree

from thpwatch.catalog import catalog
from thpwatch.kernel.kmsg import KmsgFacts, parse_record
from thpwatch.sampler import run_source
from thpwatch.snapshot import Snapshot, State
from thpwatch.sources.kmsg import KmsgSource


def collect(source: KmsgSource):
    samples, (status, *_) = run_source(source)
    assert all(s.name in catalog() for s in samples)
    return Snapshot(0, 0, tuple(samples), ()), status


def test_parse_record():
    r = parse_record("4,981,9310432,-;Huh VM_FAULT_OOM leaked out")
    assert (r.level, r.seq, r.usec, r.message) == (4, 981, 9310432, "Huh VM_FAULT_OOM leaked out")
    assert parse_record("30,7,1,-,caller=T1;x;y").message == "x;y"  # facility 3, level 6
    assert parse_record("30,7,1,-,caller=T1;x").level == 6
    with pytest.raises(ValueError, match="no ';'"):
        parse_record("garbage")
    with pytest.raises(ValueError, match="not 'prio,seq,usec,flags'"):
        parse_record("6,x,0,-;m")


def test_patched_log():
    source = KmsgSource(FIXTURES / "patched")
    snap, status = collect(source)
    assert status.state is State.OK, status.reason
    assert snap.get("thpwatch_kmsg_boot_reserved_hpages") == 64  # = sysfs total_hpages
    assert snap.get("thpwatch_kmsg_boot_requested_hpages") == 64
    assert snap.get("thpwatch_kmsg_boot_pageblock_bytes") == 2097152
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 3
    assert not list(snap.series("thpwatch_kmsg_boot_param_errors"))


def test_stock_log_has_no_boot_line_and_says_nothing_about_it():
    snap, status = collect(KmsgSource(FIXTURES / "stock"))
    assert status.state is State.OK
    assert snap.get("thpwatch_kmsg_boot_reserved_hpages") is None  # absent, not 0
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 0


def test_malformed_log_keeps_the_good_records(tmp_path):
    snap, status = collect(KmsgSource(tree(tmp_path, "kmsg-garbled")))
    assert status.state is State.ERROR
    assert "no ';' after the record prefix: 'this line has no prefix at all'" in status.reason
    assert "prefix is not 'prio,seq,usec,flags': '6,x,0,-'" in status.reason
    errors = {
        (s.label("param"), s.label("value")): s.value
        for s in snap.series("thpwatch_kmsg_boot_param_errors")
    }
    assert errors == {("thp_reserved_size", "1G"): 1, ("thp_reserved_nr", "12x"): 1}
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 1


def test_incremental_reads_only_new_records(tmp_path):
    log = tmp_path / "dev/kmsg"
    log.parent.mkdir()
    log.write_text("4,1,1,-;Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF\n4,2,2,")
    source = KmsgSource(tmp_path)
    snap, _ = collect(source)
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 1
    with log.open("a") as f:  # the rest of the half-written record, then one more
        f.write("-;Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF\n")
        f.write("4,2,2,-;same seq again: VM_FAULT_OOM leaked out to the #PF handler\n")
    snap, _ = collect(source)
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 2
    source.close()


def test_missing_is_absent(tmp_path):
    _, status = collect(KmsgSource(tmp_path))
    assert status.state is State.ABSENT and "no such file" in status.reason


def test_refused_is_blocked(monkeypatch):
    def refuse(path, flags):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr("thpwatch.sources.kmsg.os.open", refuse)  # what dmesg_restrict=1 does
    _, status = collect(KmsgSource(FIXTURES / "patched"))
    assert status.state is State.BLOCKED and "CAP_SYSLOG" in status.reason


def test_facts_count_each_parameter_error_value():
    f = KmsgFacts()
    for m in (
        "invalid thp_reserved_nr=12x",
        "invalid thp_reserved_nr=12x",
        "reserved 0/4 PMD THP pageblocks (2097152 bytes each)",
    ):
        f.add(m)
    assert f.param_errors == {("thp_reserved_nr", "12x"): 2}
    assert (f.reserved_hpages, f.requested_hpages) == (0, 4)


@pytest.mark.live
def test_real_kmsg_is_read_without_consuming_it():
    require(os.geteuid() == 0, "needs root")
    require(Path("/dev/kmsg").exists(), "needs /dev/kmsg")
    first, second = KmsgSource(), KmsgSource()
    _, s1 = collect(first)
    _, s2 = collect(second)
    assert s1.state is State.OK and s2.state is State.OK
    # a second reader saw the same records: reading did not take them away
    assert first._last_seq == second._last_seq >= 0
    Path("/dev/kmsg").write_text("thpwatch-test: marker\n")
    collect(first)
    assert first._last_seq > second._last_seq
    first.close()
    second.close()


@pytest.mark.live
def test_real_kmsg_is_blocked_for_an_unprivileged_user():
    require(os.geteuid() == 0, "needs root (to drop to nobody)")
    restrict = Path("/proc/sys/kernel/dmesg_restrict")
    require(restrict.exists() and restrict.read_text().strip() == "1", "needs dmesg_restrict=1")
    code = (
        "from thpwatch.sampler import run_source; from thpwatch.sources.kmsg import KmsgSource; "
        "_, (st, *_) = run_source(KmsgSource()); print(st.state.value, st.reason)"
    )
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout
    assert out.startswith("blocked /dev/kmsg: Operation not permitted"), out


def test_overwritten_records_are_counted_and_reading_goes_on(monkeypatch):
    """/dev/kmsg answers EPIPE once when records were overwritten before they were read."""
    replies = [
        b"4,7,1,-;Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF\n",
        BrokenPipeError(32, "Broken pipe"),
        b"4,9,2,-;Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF\n",
        BlockingIOError(11, "Resource temporarily unavailable"),
    ]

    def read(fd, size):
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr("thpwatch.sources.kmsg.os.read", read)
    source = KmsgSource(FIXTURES / "patched")
    snap, status = collect(source)
    assert status.state is State.OK
    assert snap.get("thpwatch_kmsg_lost_records_total") == 1
    assert snap.get("thpwatch_kmsg_oom_leaked_lines_total") == 2
    source.close()
