"""Debian's own 6.12 kernel (no series): every series, lazy PTE included, reported absent."""

from __future__ import annotations

from doctorjson import doctor, evidence_saying, series
from thpcli import record, snapshot

SERIES = ("reserved_thp", "pud_thp", "lazy_pte", "pmd_swap")


def test_every_series_absent(record_property) -> None:  # type: ignore[no-untyped-def]
    report = doctor()
    verdicts = {key: series(report, key)["present"] for key in SERIES}
    assert verdicts == dict.fromkeys(SERIES, "no")
    lazy = series(report, "lazy_pte")
    assert evidence_saying(lazy, "no", "pgtable"), f"the BTF prototype was not looked at: {lazy}"
    snap = snapshot()
    info = snap.series("thpwatch_kernel_info")
    assert len(info) == 1 and all(info[0][0][key] == "no" for key in SERIES), info
    assert snap.get("thpwatch_reserved_thp_pool_hpages") is None, "absent, never a fake zero"
    assert not snap.series("thpwatch_mthp_enabled", size="1048576kB")
    record(record_property, verdicts=verdicts)
