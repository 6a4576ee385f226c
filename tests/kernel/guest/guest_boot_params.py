"""Boots whose Reserved THP parameters the kernel rejects (pool 0): thpwatch reports the
rejected parameter and the empty pool, from the kernel's own log line."""

from __future__ import annotations

from doctorjson import doctor, findings_mentioning, where_mentioned
from thpcli import record, snapshot
from workload import reserved_pool


def cmdline_has(param: str) -> bool:
    with open("/proc/cmdline") as f:
        return param in f.read().split()


def check_rejected(param: str, requested: int | None, record_property) -> None:  # type: ignore[no-untyped-def]
    assert cmdline_has(param), f"this test needs a boot with {param} (tests/kernel/lane.py)"
    assert reserved_pool() == {"total": 0, "free": 0, "used": 0}
    snap = snapshot()
    assert snap.get("thpwatch_reserved_thp_pool_hpages") == 0
    if requested is not None:
        assert snap.get("thpwatch_reserved_thp_requested_hpages") == requested
    assert snap.total("thpwatch_kmsg_boot_param_errors") >= 1
    report = doctor()
    found = findings_mentioning(report, param)
    assert found, (
        f"no doctor finding names {param}; findings {report['findings']}; "
        f"elsewhere in doctor: {where_mentioned(report, param)}"
    )
    record(record_property, finding=found[0]["problem"])


def test_unsupported_size_reported(record_property) -> None:  # type: ignore[no-untyped-def]
    check_rejected("thp_reserved_size=1G", 16, record_property)


def test_invalid_nr_reported(record_property) -> None:  # type: ignore[no-untyped-def]
    check_rejected("thp_reserved_nr=12x", None, record_property)
