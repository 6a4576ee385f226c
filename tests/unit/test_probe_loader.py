"""ProbeSet's per-probe states without BPF: a fake bcc records what would be compiled and fails
attaches the way bcc does (an exception, errno left in libc's errno)."""

from __future__ import annotations

import ctypes
import errno
from pathlib import Path
from typing import Any

import pytest

from thpwatch.probes import loader
from thpwatch.probes.bcc import BccEnv
from thpwatch.probes.headers import Headers
from thpwatch.snapshot import State


class FakeBPF:
    compiled: list[tuple[str, list[str]]] = []
    refuse: dict[bytes, int] = {}  # tracepoint -> errno its attach fails with

    def __init__(self, text: bytes, cflags: list[str]) -> None:
        FakeBPF.compiled.append((text.decode(), cflags))

    def attach_tracepoint(self, tp: bytes, fn_name: bytes) -> None:
        code = FakeBPF.refuse.get(tp)
        if code:
            ctypes.set_errno(code)
            raise Exception(f"Failed to attach BPF program {fn_name!r} to tracepoint {tp!r}")

    def cleanup(self) -> None:
        pass


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tracefs with every thpwatch event but compaction:mm_compaction_end."""
    for event in (
        "kmem/mm_page_alloc",
        "syscalls/sys_enter_madvise",
        "syscalls/sys_exit_madvise",
        "vmscan/mm_vmscan_direct_reclaim_begin",
        "vmscan/mm_vmscan_direct_reclaim_end",
        "compaction/mm_compaction_begin",
        "huge_memory/mm_collapse_huge_page",
        "migrate/mm_migrate_pages",
    ):
        (tmp_path / "events" / event).mkdir(parents=True)
        (tmp_path / "events" / event / "format").write_text("name: x\n")
    env = BccEnv(FakeBPF, str(tmp_path), Headers(None, "modules", "test"))
    monkeypatch.setattr(loader, "bcc_env", lambda: env)
    FakeBPF.compiled, FakeBPF.refuse = [], {}
    return tmp_path


def states(ps: Any) -> dict[str, tuple[State, str]]:
    return {name: (st.state, st.reason) for name, st in ps.states.items()}


def test_missing_tracepoint_is_absent_and_not_compiled(fake_env: Path) -> None:
    ps = loader.ProbeSet(groups=("alloc", "stalls"))
    ps.open()
    got = states(ps)
    assert got["mm_page_alloc"] == (State.OK, "")
    assert got["direct_reclaim"] == (State.OK, "")
    assert got["compaction"] == (
        State.ABSENT,
        "tracepoint compaction:mm_compaction_end not in tracefs",
    )
    ((text, cflags),) = FakeBPF.compiled  # one clang run for every tracepoint program
    assert "-DTHPW_HAVE_kmem__mm_page_alloc" in cflags
    assert "-DTHPW_HAVE_compaction__mm_compaction_begin" not in cflags
    assert "/* alloc.bpf.c */" in text and "/* stalls.bpf.c */" in text
    assert "/* madvise.bpf.c */" not in text
    assert '#include "timed_entry.inc"' not in text and "thpw_start.update" in text


def test_refused_attach_is_blocked_with_its_errno_and_others_still_attach(fake_env: Path) -> None:
    FakeBPF.refuse = {b"syscalls:sys_exit_madvise": errno.EPERM}
    ps = loader.ProbeSet(groups=("alloc", "madvise"), pid=1234)
    ps.open()
    state, reason = states(ps)["madvise"]
    assert state is State.BLOCKED and reason.startswith("EPERM: Failed to attach")
    assert states(ps)["mm_page_alloc"] == (State.OK, "")
    assert "-DTHPW_TGID=1234" in FakeBPF.compiled[0][1]


def test_other_attach_errors_are_errors(fake_env: Path) -> None:
    FakeBPF.refuse = {b"kmem:mm_page_alloc": errno.EINVAL}
    ps = loader.ProbeSet(groups=("alloc",))
    ps.open()
    state, reason = states(ps)["mm_page_alloc"]
    assert state is State.ERROR and reason.startswith("EINVAL: ")
