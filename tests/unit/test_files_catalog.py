"""The file sources' and checks' metric declarations as the catalog sees them."""

from __future__ import annotations

from thpwatch.catalog import catalog
from thpwatch.kernel import facts
from thpwatch.sources import (
    checks,
    cmdline,
    meminfo,
    mthp,
    pagetypeinfo,
    reserved_thp,
    thp_settings,
    vmstat,
)
from thpwatch.sources.common import stat_metric

FILE_SOURCES = (reserved_thp, mthp, thp_settings, vmstat, meminfo, pagetypeinfo, cmdline, checks)


def test_declared_and_documented_names_resolve_with_their_types():
    cat = catalog()
    for module in FILE_SOURCES:
        for m in module.METRICS:
            assert cat.lookup(m.name) == m
    assert cat.lookup("thpwatch_mthp_swpin_fallback_total").type == "counter"
    assert cat.lookup("thpwatch_mthp_nr_anon").type == "gauge"
    assert cat.lookup("thpwatch_vmstat_thp_split_pud_total").labels == ()
    assert cat.lookup("thpwatch_vmstat_pgmajfault_total").type == "counter"
    documented = {m.name for m in cat}
    for stat in facts.MTHP_KNOWN_STATS:
        assert stat_metric("mthp", stat) in documented
    for stat in facts.VMSTAT_KNOWN_THP:
        assert f"thpwatch_vmstat_{stat}_total" in documented


def test_families_do_not_swallow_other_names():
    cat = catalog()
    assert cat.lookup("thpwatch_mthp_nr_anon_total") is None  # nr_* are never counters
    assert cat.lookup("thpwatch_vmstat_pgalloc_normal_total") is None  # not a watched line
    assert cat.lookup("thpwatch_mthp_enabled").labels == ("size", "mode")
