"""What the bpf source reports when BPF cannot be used at all: every probe with the reason, the
source blocked/absent, no samples (never zeros)."""

from __future__ import annotations

import pytest

from thpwatch.probes import loader
from thpwatch.probes.bcc import BpfUnavailable
from thpwatch.probes.source import BpfSource
from thpwatch.probes.specs import DEFAULT_GROUPS, probes_of
from thpwatch.sampler import run_source
from thpwatch.snapshot import State


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (State.BLOCKED, "BPF probes need root (CAP_BPF + CAP_PERFMON)"),
        (State.ABSENT, "bcc Python module not importable (No module named 'bcc')"),
    ],
)
def test_every_probe_carries_the_reason(
    monkeypatch: pytest.MonkeyPatch, state: State, reason: str
) -> None:
    def unavailable() -> None:
        raise BpfUnavailable(state, reason)

    monkeypatch.setattr(loader, "bcc_env", unavailable)
    samples, statuses = run_source(BpfSource())
    source, *probes = statuses
    assert samples == []
    assert source.name == "bpf" and source.state is state and reason in source.reason
    assert [p.name for p in probes] == [p.name for p in probes_of(DEFAULT_GROUPS)]
    assert all(p.kind == "probe" and p.state is state and p.reason == reason for p in probes)


def test_unknown_group_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="unknown probe group"):
        BpfSource(groups=("alloc", "faultz"))


def test_missing_kernel_headers_are_an_error_said_at_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """#17: a host without headers for its kernel counts nothing: error (exit 1, alert), not
    absent, and the log says so at WARNING."""
    from thpwatch.commands.common import EXIT_FAILED, exit_code
    from thpwatch.probes import bcc
    from thpwatch.probes.headers import HeadersMissing

    def missing() -> None:
        raise HeadersMissing("no kernel headers for bcc: /lib/modules/x/build: missing")

    monkeypatch.setattr(bcc.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bcc, "tracefs_root", lambda: "/sys/kernel/tracing")
    monkeypatch.setattr(bcc, "find_headers", missing)
    bcc.bcc_env.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="thpwatch.probes.bcc"):
            samples, statuses = run_source(BpfSource())
    finally:
        bcc.bcc_env.cache_clear()
    source, *probes = statuses
    assert samples == []
    assert source.state is State.ERROR and "BPF probes cannot be compiled" in source.reason
    assert all(p.state is State.ERROR for p in probes)
    assert exit_code(statuses) == EXIT_FAILED
    assert [r.levelname for r in caplog.records if "linux-headers" in r.getMessage()] == ["WARNING"]
