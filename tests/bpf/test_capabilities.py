"""Which attach types work here, tried for real (root)."""

from __future__ import annotations

import pytest
from conftest import require

from thpwatch.probes.capabilities import ATTACH_TYPES, detect_capabilities
from thpwatch.snapshot import State

pytestmark = pytest.mark.bpf


def test_tracepoints_and_raw_tracepoints_attach(bpf_ready: None) -> None:
    caps = detect_capabilities()
    assert [a.attach_type for a in caps.attempts] == list(ATTACH_TYPES)
    for kind in ("tracepoint", "raw_tracepoint"):
        a = caps.get(kind)
        assert a.state is State.OK, f"{kind}: {a.reason}"
    assert caps.headers and caps.tracefs


def test_function_probes_refused_with_errno_here(bpf_ready: None) -> None:
    """On this host kind (fentry EPERM, no CONFIG_KPROBES) both refusals carry their errno;
    tests/bpf/conftest.py deselects the funcprobes tests on exactly this condition."""
    caps = detect_capabilities()
    require(caps.function_method is None, "this kernel allows function probes (not the host)")
    fentry, kprobe = caps.get("fentry"), caps.get("kprobe")
    assert fentry.state is State.BLOCKED and fentry.errno == 1, fentry
    assert fentry.reason.startswith("EPERM: ")
    assert kprobe.state in (State.ABSENT, State.BLOCKED) and kprobe.errno, kprobe
    assert "kprobe" in kprobe.reason
