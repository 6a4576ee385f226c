"""THPWATCH_FORCE_KPROBES=1 (set by the VM lane's second pass) makes function probes use kprobes
even where fentry works, and never falls back to fentry when kprobes do not attach."""

from __future__ import annotations

import pytest

from thpwatch.probes.capabilities import FORCE_KPROBES_ENV, Attempt, Capabilities
from thpwatch.snapshot import State


def caps(fentry: State, kprobe: State) -> Capabilities:
    return Capabilities(
        (Attempt("fentry", fentry, None, ""), Attempt("kprobe", kprobe, None, "")), "", ""
    )


@pytest.mark.parametrize(
    ("forced", "fentry", "kprobe", "method"),
    [
        ("0", State.OK, State.OK, "fentry"),
        ("1", State.OK, State.OK, "kprobe"),
        ("0", State.BLOCKED, State.OK, "kprobe"),
        ("1", State.OK, State.ABSENT, None),
        ("0", State.BLOCKED, State.ABSENT, None),
    ],
)
def test_function_method(
    monkeypatch: pytest.MonkeyPatch, forced: str, fentry: State, kprobe: State, method: str | None
) -> None:
    monkeypatch.setenv(FORCE_KPROBES_ENV, forced)
    assert caps(fentry, kprobe).function_method == method
