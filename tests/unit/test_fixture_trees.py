"""Every whole-kernel fixture tree reads cleanly: a variant tree (one odd fact on top of the
patched kernel) must not show errors or unknowns that only come from files it forgot to carry."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from thpwatch.assembly import SourceOptions, all_sources
from thpwatch.sampler import Sampler
from thpwatch.snapshot import State

PATCHED_TREES = ["patched", "patched-unfixed", "patched-overquota"]


@pytest.mark.parametrize("tree", ["stock", *PATCHED_TREES])
def test_tree_has_no_failing_source(tree):
    snap = Sampler(all_sources(FIXTURES / tree, SourceOptions(bpf=False))).snapshot()
    failing = [
        (s.name, s.state.value, s.reason)
        for s in snap.statuses
        if s.state in (State.ERROR, State.BLOCKED)
    ]
    assert failing == []


@pytest.mark.parametrize("tree", PATCHED_TREES)
def test_patched_trees_carry_all_four_series(tree):
    snap = Sampler(all_sources(FIXTURES / tree, SourceOptions(bpf=False))).snapshot()
    (info,) = snap.series("thpwatch_kernel_info")
    assert {k: info.label(k) for k in ("reserved_thp", "pud_thp", "lazy_pte", "pmd_swap")} == {
        "reserved_thp": "yes",
        "pud_thp": "yes",
        "lazy_pte": "yes",
        "pmd_swap": "yes",
    }
