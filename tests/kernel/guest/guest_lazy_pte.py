"""Lazy PTE allocation at split, on the kernel that carries it: doctor's two kinds of evidence
(BTF prototype, VmPTE self-test), and the split probes cross-checked against thp_split_pmd."""

from __future__ import annotations

from pathlib import Path

from doctorjson import doctor, evidence_saying, series
from thpcli import Exporter, delta, record
from workload import MADV_HUGEPAGE, PMD_SIZE, PROT_READ, Holder, Region, madvise, mprotect, touch

from thpwatch.features import detect

SPLITS = 8


def test_doctor_detects_lazy_pte_from_btf(record_property) -> None:  # type: ignore[no-untyped-def]
    report = doctor()
    lazy = series(report, "lazy_pte")
    assert lazy["present"] == "yes", lazy
    assert evidence_saying(lazy, "yes", "pgtable"), f"no BTF `pgtable` evidence: {lazy}"
    assert series(report, "reserved_thp")["present"] == "yes"
    assert series(report, "pud_thp")["present"] == "yes"
    record(record_property, lazy_pte_evidence=[e["check"] for e in lazy["evidence"]])


def test_vmpte_selftest_detects_lazy_pte(record_property) -> None:  # type: ignore[no-untyped-def]
    """The self-test doctor runs (features.detect with selftest): PMD THPs faulted in this
    process add no deposited PTE table to VmPTE on this kernel."""
    report = detect(Path("/"), selftest=True)
    lazy = report.feature("lazy_pte")
    vmpte = [e for e in lazy.evidence if "VmPTE" in e.check]
    assert vmpte and vmpte[0].says.value == "yes", lazy.to_json()
    record(record_property, vmpte_selftest=vmpte[0].found)


def split_pmd_thps() -> dict[str, int]:
    """SPLITS PMD THPs, each split by an mprotect of its first 4 KiB."""
    region = Region(SPLITS * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_HUGEPAGE) == "ok"
    touch(region)
    for i in range(SPLITS):
        assert mprotect(region, PROT_READ, i * PMD_SIZE, 4096) == 0
    return {}


def test_split_probes_crosschecked_against_thp_split_pmd(
    exporter: Exporter,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    before = exporter.scrape()
    with Holder("lazy-split", split_pmd_thps):
        pass
    after = exporter.scrape()
    kernel = delta(before, after, "thpwatch_vmstat_thp_split_pmd_total")
    probe = delta(before, after, "thpwatch_splits_total", level="pmd")
    ratio = after.get("thpwatch_crosscheck_disagreement_ratio", check="split_pmd")
    state = {
        labels["state"]
        for labels, value in after.series("thpwatch_probe_state", probe="__split_huge_pmd")
        if value == 1
    }
    record(record_property, thp_split_pmd=kernel, split_probe=probe, ratio=ratio, state=state)
    assert kernel >= SPLITS
    if probe:
        # The probe sees every split: the cross-check agrees and the probe is healthy.
        assert probe >= kernel and ratio == 0 and state == {"ok"}
    else:
        # Attached but counting nothing while thp_split_pmd rose: reported, never a quiet 0.
        assert ratio == 1 and state == {"error"}
