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
