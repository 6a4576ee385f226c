"""Snapshots rebuilt from Prometheus query results (thpwatch.history): what the exporter
rendered of a Snapshot comes back as that Snapshot, so every panel renders it unchanged."""

from __future__ import annotations

import math
from typing import Any

from conftest import FIXTURES
from rich.console import Console
from tui_render import text_of
from tui_snapshots import patched

from thpwatch.assembly import SourceOptions, all_sources
from thpwatch.catalog import catalog
from thpwatch.exporter.families import snapshot_families
from thpwatch.history import LIVE_SOURCES, REFERENCE, not_recorded, snapshot_from_vector
from thpwatch.snapshot import Histogram, Snapshot, SourceStatus, State
from thpwatch.tui.events import EventLog
from thpwatch.tui.frame import Frame
from thpwatch.tui.screen import ViewState, render_screen

TARGET = {"instance": "db1:10386", "job": "thpwatch", "env": "prod"}  # env: a target label


def as_vector(snapshot: Snapshot, target: dict[str, str] = TARGET) -> list[dict[str, Any]]:
    """What Prometheus answers to an instant query of every series one scrape stored."""
    out = [{"metric": {"__name__": REFERENCE, **target}, "value": [0, "0.01"]}]
    for family in snapshot_families(snapshot, catalog()):
        for sample in family.samples:
            metric = {"__name__": sample.name, **sample.labels, **target}
            out.append({"metric": metric, "value": [0, repr(float(sample.value))]})
    return out


def rebuilt(snapshot: Snapshot) -> Snapshot:
    return snapshot_from_vector(as_vector(snapshot), snapshot.timestamp, TARGET)


def by_key(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    return {(s.name, s.labels): s.value for s in snapshot.samples}


def test_samples_histograms_and_states_come_back_unchanged():
    original = patched(5.0)
    back = rebuilt(original)
    assert by_key(back) == by_key(original)
    h = back.get("thpwatch_fault_seconds", fault="pmd_anon")
    assert isinstance(h, Histogram) and h == original.get(
        "thpwatch_fault_seconds", fault="pmd_anon"
    )
    assert back.statuses == original.statuses  # probe groups restored from the probe specs
    assert back.timestamp == back.monotonic == original.timestamp


def test_the_screen_renders_the_same_from_rebuilt_snapshots():
    before, now = patched(1.0), patched(3.0)
    console = Console(width=140)

    def screen(b: Snapshot, n: Snapshot) -> str:
        frame = Frame.between(b, n)
        events = EventLog()
        events.observe(frame)
        return text_of(render_screen(console, frame, ViewState(), events, 140, None), 140)

    assert screen(rebuilt(before), rebuilt(now)) == screen(before, now)


def test_states_reasons_and_durations_from_their_series():
    original = Snapshot(
        10.0,
        10.0,
        (),
        (
            SourceStatus("mthp", "source", State.OK, "", 0.25),
            SourceStatus("reserved_thp", "source", State.ABSENT, "no /sys/kernel/mm/reserved_thp"),
            SourceStatus("bpf", "source", State.OK),
            SourceStatus("do_swap_page", "probe", State.BLOCKED, "fentry: EPERM"),
        ),
    )
    back = rebuilt(original)
    assert [(s.name, s.kind, s.state) for s in back.statuses] == [
        (s.name, s.kind, s.state) for s in original.statuses
    ]
    assert back.status("mthp").duration_seconds == 0.25
    # Prometheus keeps the state, not the reason: said, not invented
    assert back.status("reserved_thp").reason == "reason not recorded"
    assert back.status("do_swap_page").reason == "reason not recorded"
    assert dict(back.status("do_swap_page").detail) == {"group": "swapin"}


def test_sources_without_state_series_are_not_recorded():
    snap = rebuilt(Snapshot(1.0, 1.0, (), (SourceStatus("mthp", "source", State.OK),)))
    missing = not_recorded(snap)
    assert "mthp" not in missing
    assert {"procscan", "cgroups", "bpf", "reserved_thp"} <= set(missing)


def test_live_sources_are_the_sources_live_top_runs():
    """history.LIVE_SOURCES names every source `top` assembles (BPF when on "/")."""
    sources = all_sources(FIXTURES / "patched", SourceOptions(bpf=False))
    assert {s.name for s in sources} | {"bpf"} == set(LIVE_SOURCES)


def test_hostile_series_are_dropped_not_crashing():
    target = {"instance": "h:1", "job": "j"}

    def series(name: str, value: str, **labels: str) -> dict[str, Any]:
        return {"metric": {"__name__": name, **labels, **target}, "value": [0, value]}

    result = [
        series("thpwatch_source_state", "1", source="mthp", state="exploded"),  # unknown state
        series("thpwatch_source_state", "1", state="ok"),  # no source label
        series("thpwatch_probe_state", "1", probe="madvise", state="ok"),
        series("thpwatch_fault_seconds_bucket", "3", fault="any", le="0.001"),  # no +Inf
        series("thpwatch_split_seconds_bucket", "2", level="pmd", le="0.5"),
        series("thpwatch_split_seconds_bucket", "5", level="pmd", le="+Inf"),
        series("thpwatch_split_seconds_sum", "NaN", level="pmd"),
        series("thpwatch_mthp_nr_anon", "1e300", size="2048kB"),
        series("thpwatch_from_a_newer_exporter", "7"),
    ]
    snap = snapshot_from_vector(result, 5.0, target)
    assert [(s.name, s.state) for s in snap.statuses] == [("madvise", State.OK)]
    assert snap.get("thpwatch_fault_seconds", fault="any") is None  # no count: not guessed
    split = snap.get("thpwatch_split_seconds", level="pmd")
    assert isinstance(split, Histogram) and (split.cumulative, split.count) == ((2,), 5)
    assert math.isnan(split.total)
    assert snap.get("thpwatch_mthp_nr_anon", size="2048kB") == 1e300
    assert snap.get("thpwatch_from_a_newer_exporter") == 7.0


def test_the_state_is_the_one_series_at_1():
    target = {"instance": "h:1", "job": "j"}
    result = [
        {
            "metric": {"__name__": "thpwatch_source_state", "source": "kmsg", "state": s, **target},
            "value": [0, "1" if s == "blocked" else "0"],
        }
        for s in ("ok", "absent", "blocked", "error")
    ]
    snap = snapshot_from_vector(result, 1.0, target)
    assert [(st.name, st.state) for st in snap.statuses] == [("kmsg", State.BLOCKED)]


def test_panels_of_unrecorded_sources_read_not_recorded_not_absent():
    """A recording with no state for the pool, per-size or process sources: those panels say
    not recorded; a source recorded as absent still reads absent."""
    kept = ("thpwatch_kernel_info",)
    original = patched(1.0)
    bare = Snapshot(
        original.timestamp,
        original.monotonic,
        tuple(s for s in original.samples if s.name in kept),
        (SourceStatus("cgroups", "source", State.ABSENT, "no cgroup2 mount"),),
    )
    snap = rebuilt(bare)
    state = ViewState(not_recorded=frozenset(not_recorded(snap)))
    text = text_of(render_screen(Console(width=140), Frame(snap), state, EventLog(), 140, None))
    assert "Reserved THP pool: not recorded (the exporter did not export reserved_thp)" in text
    assert "THP by size: not recorded (the exporter did not export mthp)" in text
    assert "Top processes: not recorded (the exporter did not export procscan)" in text
    assert "Top cgroups: none reported" in text  # recorded: absent on that host
    assert "absent on this kernel" not in text
    live = text_of(
        render_screen(Console(width=140), Frame(bare), ViewState(), EventLog(), 140, None)
    )
    assert "not recorded" not in live  # live top never says it
