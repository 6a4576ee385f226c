"""/proc/pagetypeinfo on its own interval: read by its Periodic source only, its age exported,
the checks using the kept reading; with interval 0 (one-shot commands) read per Snapshot."""

from __future__ import annotations

from pathlib import Path

from fixturetree import tree

from thpwatch.assembly import build_sources
from thpwatch.sampler import Periodic, Sampler
from thpwatch.snapshot import Snapshot

DMA_MOVABLE = ("0", "DMA", "Movable", "10")  # node, zone, migratetype, order: 3 in the fixture


def free_chunks(snap: Snapshot) -> float:
    node, zone, mt, order = DMA_MOVABLE
    labels = (("migratetype", mt), ("node", node), ("order", order), ("zone", zone))
    (value,) = [
        s.value for s in snap.samples if s.name == "thpwatch_free_chunks" and s.labels == labels
    ]
    return float(value)


def set_dma_movable_order10(root: Path, count: int) -> None:
    path = root / "proc/pagetypeinfo"
    lines = path.read_text().split("\n")
    i = next(i for i, ln in enumerate(lines) if "zone      DMA, type      Movable" in ln)
    words = lines[i].rsplit(None, 1)
    lines[i] = f"{words[0]} {count:6d} "
    path.write_text("\n".join(lines))


def ages(snap: Snapshot) -> dict[str, float]:
    return {
        dict(s.labels)["source"]: float(s.value)
        for s in snap.samples
        if s.name == "thpwatch_source_age_seconds"
    }


def test_kept_between_refreshes_and_aged(tmp_path: Path) -> None:
    root = tree(tmp_path)
    sources = build_sources(root, lazy_pte=lambda: True, pagetypeinfo_interval=60)
    (periodic,) = [s for s in sources if isinstance(s, Periodic)]
    assert periodic.name == "pagetypeinfo" and periodic.interval == 60
    sampler = Sampler(sources)
    first = sampler.snapshot()
    assert free_chunks(first) == 3
    set_dma_movable_order10(root, 7)
    second = sampler.snapshot()
    assert free_chunks(second) == 3  # not re-read per Snapshot
    assert 0 <= ages(second)["pagetypeinfo"] < 60
    periodic.refresh()  # what the daemon's main loop does when it is due
    assert free_chunks(sampler.snapshot()) == 7


def test_read_per_snapshot_without_an_interval(tmp_path: Path) -> None:
    root = tree(tmp_path)
    sources = build_sources(root, lazy_pte=lambda: True)
    assert not [s for s in sources if isinstance(s, Periodic)]
    sampler = Sampler(sources)
    assert free_chunks(sampler.snapshot()) == 3
    set_dma_movable_order10(root, 7)
    snap = sampler.snapshot()
    assert free_chunks(snap) == 7
    assert "pagetypeinfo" not in ages(snap)


def checks(snap: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): float(s.value) for s in snap.samples if "_check_" in s.name}


def test_checks_use_the_kept_reading(tmp_path: Path) -> None:
    root = tree(tmp_path)
    sampler = Sampler(build_sources(root, lazy_pte=lambda: True, pagetypeinfo_interval=60))
    before = checks(sampler.snapshot())
    assert any(name == "thpwatch_check_observed" for name, _ in before)
    (root / "proc/pagetypeinfo").write_text("garbage\n")
    after = checks(sampler.snapshot())
    assert before and after == before
