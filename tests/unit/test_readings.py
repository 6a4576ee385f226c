"""Shared readings: one read per Snapshot for files several sources need."""

from __future__ import annotations

import pytest
from fixturetree import PATCHED

from thpwatch.assembly import build_sources
from thpwatch.kernel.readings import Shared
from thpwatch.sampler import Sampler


def counter():
    calls = []

    def read():
        calls.append(1)
        return len(calls)

    return calls, read


def test_each_user_gets_each_reading_once():
    calls, read = counter()
    shared = Shared(read)
    assert (shared.get("a"), shared.get("b")) == (1, 1)  # b reuses a's reading
    assert shared.get("a") == 2  # a's next snapshot reads afresh
    assert shared.get("b") == 2
    assert shared.get("b") == 3
    assert len(calls) == 3


def test_old_readings_are_not_shared():
    calls, read = counter()
    shared = Shared(read, max_age=0.0)
    assert (shared.get("a"), shared.get("b")) == (1, 2)


def test_errors_are_not_remembered():
    attempts = []

    def read():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("boom")
        return "ok"

    shared = Shared(read)
    with pytest.raises(OSError, match="boom"):
        shared.get("a")
    assert shared.get("a") == "ok"


def test_a_snapshot_reads_pagetypeinfo_once(monkeypatch):
    import thpwatch.kernel.readings as mod

    reads = []
    real = mod.read_pagetypeinfo
    monkeypatch.setattr(mod, "read_pagetypeinfo", lambda root: reads.append(root) or real(root))
    sampler = Sampler(build_sources(PATCHED))
    sampler.snapshot()
    assert len(reads) == 1  # pagetypeinfo source and checks shared it
    sampler.snapshot()
    assert len(reads) == 2
