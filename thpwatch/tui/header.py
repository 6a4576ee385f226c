"""Top lines: kernel, which patch series it carries, THP mode per size, probe and source states."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from rich.console import Group
from rich.text import Text

from thpwatch.snapshot import State
from thpwatch.tui import names
from thpwatch.tui.fmt import ABSENT_STYLE
from thpwatch.tui.sizes import size_key

STATE_STYLE = {State.OK: "green", State.ABSENT: "dim", State.BLOCKED: "yellow", State.ERROR: "red"}


def kernel_line(frame, interval: float, paused: bool) -> Text:
    info = next(frame.series(names.KERNEL_INFO), None)
    release = info.label("release", "unknown") if info else "unknown"
    when = datetime.fromtimestamp(frame.now.timestamp).strftime("%H:%M:%S")
    line = Text.assemble(
        ("thpwatch top", "bold"), "  kernel ", (release, "bold cyan"), f"  every {interval:g}s"
    )
    line.append(f"  {when}")
    if paused:
        line.append("  PAUSED", style="bold reverse yellow")
    return line


def series_line(frame) -> Text:
    line = Text("series: ")
    info = next(frame.series(names.KERNEL_INFO), None)
    if info is None:
        return line.append("unknown (feature detection absent)", style=ABSENT_STYLE)
    for key, title in names.SERIES:
        present = info.label(key) == "yes"
        line.append(f"{title} ", style="bold" if present else "dim")
        line.append("yes" if present else "no", style="green" if present else "dim")
        line.append("  ")
    return line


def modes_line(frame) -> Text:
    """THP mode per size, grouped by mode so every size fits on one line."""
    by_mode: dict[str, list[str]] = defaultdict(list)
    for s in frame.series(names.MTHP_ENABLED):
        if s.value == 1:
            by_mode[s.label("mode")].append(s.label("size"))
    line = Text("THP enabled: ")
    top_level = next(
        (s.label("mode") for s in frame.series(names.THP_ENABLED) if s.value == 1), None
    )
    if top_level is not None:
        line.append("global ").append(top_level, style="bold").append("  ")
    if not by_mode:
        return line.append("absent", style=ABSENT_STYLE)
    for mode in sorted(by_mode):
        sizes = sorted(by_mode[mode], key=size_key)
        line.append(f"{mode}", style="bold")
        line.append(f" {' '.join(sizes)}  ")
    return line


def states_line(frame, bpf_note: str = "") -> Text:
    """Probe states counted by state; any source not ok named with its reason."""
    line = Text("probes: ")
    probes = [st for st in frame.now.statuses if st.kind == "probe"]
    if not probes:
        line.append(bpf_note or "none loaded", style=ABSENT_STYLE)
    else:
        counts: dict[State, int] = defaultdict(int)
        for st in probes:
            counts[st.state] += 1
        for state in State:
            if counts[state]:
                line.append(f"{counts[state]} {state.value}  ", style=STATE_STYLE[state])
    for st in frame.now.statuses:
        if st.kind == "source" and st.state in (State.ERROR, State.BLOCKED):
            line.append(f"  {st.name} {st.state.value}: {st.reason}", style=STATE_STYLE[st.state])
    return line


def render_header(frame, interval: float, paused: bool = False, bpf_note: str = "") -> Group:
    lines = [
        kernel_line(frame, interval, paused),
        series_line(frame),
        modes_line(frame),
        states_line(frame, bpf_note),
    ]
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    lines[2].no_wrap = False  # every size's mode matters more than one line
    return Group(*lines)
