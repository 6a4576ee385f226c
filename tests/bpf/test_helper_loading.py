"""BPF loaded by the short-lived helper process (probes/helper.py): the probes count real events
after the helper is gone, the maps read through bpf() match bcc's own view, a killed daemon
leaves nothing attached, and a helper that crashes, hangs or cannot hand its fds over gives an
error state instead of a hang.

Other sessions may run BPF at the same time: everything here is identified by the ids of the
maps this test's processes created, never by listing all programs."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from thpwatch import workload
from thpwatch.probes import bpfsys
from thpwatch.probes.decode import read_maps
from thpwatch.probes.groups.madvise import FIELD, MADV_COUNTS
from thpwatch.probes.histogram import HIST_SLOTS, LogHist
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.specs import DEFAULT_GROUPS
from thpwatch.snapshot import State

pytestmark = pytest.mark.bpf
REPO = Path(__file__).resolve().parents[2]
TRACEPOINT_GROUPS = ("alloc", "madvise", "stalls", "khugepaged")


def map_exists(map_id: int) -> bool:
    """BPF_MAP_GET_FD_BY_ID: the map is still alive (some program or fd holds it)."""

    class Attr(ctypes.Structure):
        _fields_ = [
            ("id", ctypes.c_uint32),
            ("next_id", ctypes.c_uint32),
            ("flags", ctypes.c_uint32),
        ]

    try:
        fd = bpfsys.bpf(14, Attr(map_id, 0, 0))
    except bpfsys.BpfError as e:
        assert e.errno == errno.ENOENT, e
        return False
    os.close(fd)
    return True


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def test_helper_loaded_probes_count_after_the_helper_exited(bpf_ready: None) -> None:
    with ProbeSet(("madvise",), pid=os.getpid(), helper=True) as ps:
        assert ps.states["madvise"].state is State.OK, ps.states["madvise"].reason
        assert "bcc" not in sys.modules or ps.bcc_objects == []  # nothing of bcc kept here
        before = MADV_COUNTS.of(read_maps(ps.objects)) or {}
        did = workload.madvise_storm(4)
        after = MADV_COUNTS.of(read_maps(ps.objects)) or {}
        calls_field = FIELD.index("calls")
        calls = sum(n for k, n in after.items() if k.field == calls_field)
        calls -= sum(n for k, n in before.items() if k.field == calls_field)
        assert calls == sum(did.madvise_calls.values()) > 0


def _bcc_view(bpf: Any, name: str) -> Any:
    """A map as bcc's own table classes decode it (the reference for the byte layouts)."""
    t = bpf[name.encode()]
    if name.endswith("_hist"):
        out = []
        for i in range(len(t)):
            per_cpu = t[i]
            slots = tuple(sum(int(h.slots[s]) for h in per_cpu) for s in range(HIST_SLOTS))
            out.append(LogHist(slots, sum(int(h.sum_ns) for h in per_cpu)))
        return out
    if name == "migrate_counts":
        return [int(sum(t[i])) for i in range(len(t))]
    if name == "madv_procs":
        return sorted((k.value, v.comm.decode(), v.calls, v.bytes) for k, v in t.items())
    fields = [f for f, _ in t.Key._fields_] if hasattr(t.Key, "_fields_") else None
    return {
        (tuple(getattr(k, f) for f in fields) if fields else (k.value,)): int(sum(v))
        for k, v in t.items()
    }


def test_maps_read_with_bpf_syscalls_equal_bccs_view(bpf_ready: None) -> None:
    with ProbeSet(TRACEPOINT_GROUPS, pid=os.getpid()) as ps:
        workload.thp_faults(count=8)
        workload.madvise_storm(2)
        raw = read_maps(ps.objects)
        (bpf,) = ps.bcc_objects
        names = ("alloc_counts", "madv_counts", "stall_hist", "collapse_counts", "migrate_counts")
        expect = {name: _bcc_view(bpf, name) for name in names}
        got = {name: raw.get(name) for name in names}
        assert got == expect
        assert sorted(raw.get("madv_procs") or []) == _bcc_view(bpf, "madv_procs")
        # the workload was counted
        assert raw["alloc_counts"] and raw["madv_counts"] and raw["madv_procs"]
        assert any(k.ret == -errno.EINVAL for k in raw["madv_counts"])  # signed field decoded


def test_batch_and_key_by_key_reads_agree(bpf_ready: None) -> None:
    with ProbeSet(("alloc", "stalls"), pid=os.getpid()) as ps:
        workload.thp_faults(count=4)
        for obj in ps.objects:
            for name in obj.maps:
                m = obj.map(name)
                assert m is not None
                batch = sorted(m.entries())
                assert m.batch is True, f"{name}: this kernel has batch lookups"
                assert batch == sorted(m._walk_entries()), name
                if m.info.type in bpfsys.ARRAY_TYPES:
                    assert len(batch) == m.info.max_entries


def test_bpf_errors_carry_the_errno_and_the_command(bpf_ready: None) -> None:
    with open("/dev/null") as f, pytest.raises(bpfsys.BpfError) as e:
        bpfsys.map_info(f.fileno())  # not a BPF object
    assert e.value.errno == errno.EINVAL
    assert str(e.value) == "[Errno 22] bpf(BPF_OBJ_GET_INFO_BY_FD): Invalid argument"


# -- process life ---------------------------------------------------------------------------

DAEMON = textwrap.dedent(
    """
    import json, os, sys
    from thpwatch import workload
    from thpwatch.probes.decode import read_maps
    from thpwatch.probes.groups.madvise import FIELD, MADV_COUNTS
    from thpwatch.probes.loader import ProbeSet
    ps = ProbeSet(("madvise",), pid=os.getpid(), helper=True)
    ps.open()
    workload.madvise_storm(2)
    counts = MADV_COUNTS.of(read_maps(ps.objects)) or {}
    calls = sum(n for k, n in counts.items() if k.field == FIELD.index("calls"))
    ids = [o.map(n).info.id for o in ps.objects for n in o.maps]
    print(json.dumps({"state": ps.states["madvise"].state.value, "calls": calls, "maps": ids}))
    sys.stdout.flush()
    sys.stdin.read()
    """
)


def _python(code: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        **kw,
    )


def test_sigkill_of_the_daemon_leaves_nothing_attached(bpf_ready: None) -> None:
    daemon = _python(DAEMON)
    try:
        assert daemon.stdout is not None
        said = json.loads(daemon.stdout.readline())
        assert said["state"] == "ok" and said["calls"] > 0  # attached after the helper left
        assert said["maps"] and all(map_exists(i) for i in said["maps"])
        assert _children(daemon.pid) == []  # the helper is gone
    finally:
        daemon.kill()
        daemon.wait()
    # a map lives while a program or fd references it: gone = programs detached and freed
    wait_for(lambda: not any(map_exists(i) for i in said["maps"]), 10, "the maps to be freed")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def test_sigkill_of_the_daemon_mid_load_kills_the_helper(bpf_ready: None) -> None:
    daemon = _python(DAEMON)
    try:
        wait_for(lambda: _children(daemon.pid), 30, "the helper to start")
        (helper,) = _children(daemon.pid)
    finally:
        daemon.kill()
        daemon.wait()
    wait_for(lambda: not Path(f"/proc/{helper}").exists() or _zombie(helper), 10, "helper exit")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _helper_states(argv: list[str] | None, timeout: float = 30) -> dict[str, tuple[State, str]]:
    from thpwatch.probes.helper import load_in_helper

    ps = ProbeSet(("madvise", "stalls"))
    load_in_helper(ps, timeout=timeout, argv=argv)
    assert ps.objects == []
    return {n: (st.state, st.reason) for n, st in ps.states.items()}


def test_a_helper_that_crashes_gives_an_error_state(bpf_ready: None) -> None:
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    states = _helper_states(crash)
    assert set(states) == {"madvise", "direct_reclaim", "compaction"}
    for state, reason in states.values():
        assert state is State.ERROR
        assert reason.startswith("BPF load helper: ") and "killed by SIGKILL" in reason


def test_a_helper_that_hangs_is_killed_after_the_timeout(bpf_ready: None) -> None:
    hang = [sys.executable, "-c", "import time; time.sleep(120)"]
    t0 = time.monotonic()
    states = _helper_states(hang, timeout=1)
    assert time.monotonic() - t0 < 15
    for state, reason in states.values():
        assert state is State.ERROR and "no answer within 1 s; killed it" in reason


def test_too_few_file_descriptors_is_an_error_naming_the_limit(bpf_ready: None) -> None:
    code = textwrap.dedent(
        f"""
        import os, resource
        from thpwatch.probes.loader import ProbeSet
        ps = ProbeSet({DEFAULT_GROUPS!r}, helper=True)
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        # room for the socket pair and the child's start-up, not for the 13 probe fds
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 6, hard))
        ps.open()
        print({{n: (s.state.value, s.reason) for n, s in ps.states.items()}})
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr
    states = eval(out.stdout)  # a dict literal printed by the child
    assert states["madvise"][0] == "error"
    assert "cut short" in states["madvise"][1] and "RLIMIT_NOFILE" in states["madvise"][1]


def test_the_helper_process_reports_bcc_failures_as_probe_states(bpf_ready: None) -> None:
    """Probes the kernel lacks come back absent/blocked from the helper as in-process."""
    with ProbeSet(DEFAULT_GROUPS, helper=True) as remote, ProbeSet(DEFAULT_GROUPS) as local:
        got = {n: (s.state, s.method) for n, s in remote.states.items()}
        assert got == {n: (s.state, s.method) for n, s in local.states.items()}
        assert remote.functions == local.functions
        assert [sorted(o.maps) for o in remote.objects] == [sorted(o.maps) for o in local.objects]
        assert [sorted(o.links) for o in remote.objects] == [sorted(o.links) for o in local.objects]


def test_no_llvm_in_a_daemon_that_loaded_through_the_helper(bpf_ready: None) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from thpwatch.probes.loader import ProbeSet
        ps = ProbeSet({DEFAULT_GROUPS!r}, helper=True)
        ps.open()
        assert any(s.state.value == "ok" for s in ps.states.values())
        maps = open("/proc/self/maps").read()
        print(sorted({{l.split()[-1] for l in maps.splitlines() if "LLVM" in l or "bcc" in l}}))
        print(sorted(m for m in sys.modules if m == "bcc" or m.startswith("bcc.")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", "[]"]


def test_empty_raw_maps_without_objects() -> None:
    assert read_maps([]) == {}
