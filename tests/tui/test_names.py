"""Every metric the TUI reads is one the catalog declares: a renamed metric fails here, not as
a silently 'absent' column on a real host."""

from __future__ import annotations

from thpwatch.catalog import catalog
from thpwatch.tui import names
from thpwatch.tui.sizes import RATE_COLUMNS


def names_the_tui_reads() -> set[str]:
    constants = {
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and value.startswith("thpwatch_")
    }
    prefixes = {names.MTHP_PREFIX, names.PROCESS_PREFIX, names.CGROUP_PREFIX}
    return (
        (constants - prefixes)
        | set(names.COLUMN_TITLES)
        | {names.mthp_counter(stat) for *_, stat in RATE_COLUMNS}
    )


def test_every_metric_the_tui_reads_is_in_the_catalog():
    read = names_the_tui_reads()
    assert len(read) > 40  # the constants were found at all
    assert sorted(n for n in read if n not in catalog()) == []


def test_process_and_cgroup_columns_have_their_identity_label():
    for name in names.COLUMN_TITLES:
        metric = catalog().lookup(name)
        assert metric is not None
        key = names.PROCESS_KEY if name.startswith(names.PROCESS_PREFIX) else names.CGROUP_KEY
        assert key in metric.labels, name


def test_hand_made_snapshots_use_catalog_names():
    import tui_snapshots as snaps

    used = {s.name for snap in (snaps.stock(1), snaps.patched(1)) for s in snap.samples}
    assert sorted(n for n in used if n not in catalog()) == []
