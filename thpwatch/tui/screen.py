"""Composes the panels into one screen that fits the terminal: lower-priority panels give way
when the terminal is short, a terminal too small gets a message instead of a broken layout."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from thpwatch.snapshot import State
from thpwatch.tui import names
from thpwatch.tui.activity import render_activity
from thpwatch.tui.events import EventLog
from thpwatch.tui.fmt import ABSENT_STYLE
from thpwatch.tui.follow import Follow
from thpwatch.tui.frame import Frame
from thpwatch.tui.header import render_header
from thpwatch.tui.latency import render_latency
from thpwatch.tui.pool import render_pool
from thpwatch.tui.sizes import render_sizes
from thpwatch.tui.top_tables import Ranking, TableView, column_title, render_ranking

MIN_WIDTH, MIN_HEIGHT = 60, 12
GAP = 2  # columns between two panels side by side


@dataclass
class ViewState:
    """What the keys change."""

    interval: float = 1.0
    paused: bool = False
    sort_index: int = 0
    needle: str = ""  # process/cgroup filter
    editing_filter: bool = False
    show_help: bool = False
    bpf_note: str = ""  # why there are no probes at all (--no-bpf, fixture tree)
    reverse: bool = False  # smallest first in the process and cgroup tables
    scroll: int = 0  # first row shown of the process and cgroup tables
    page: int = 10  # rows the tables showed at the last render: what PgUp/PgDn move by
    follow: Follow = field(default_factory=Follow)  # -p PID / -c CGROUP

    def table_view(self, keep_cgroups: bool = False) -> TableView:
        keep = self.follow.keeps_cgroup if keep_cgroups else self.follow.keeps_process
        return TableView(
            self.sort_index,
            self.needle,
            self.reverse,
            self.scroll,
            keep if self.follow else None,
            self.follow.describe(),
        )

    not_recorded: frozenset[str] = frozenset()  # replay: sources the history has no state of


HELP = """\
thpwatch top — keys
  q        quit
  p        pause / resume sampling
  s        cycle the sort column of the process and cgroup tables
  r        reverse the sort (smallest first)
  ↑ ↓ j k  scroll the process and cgroup tables by a row; PgUp PgDn by a page; g to the top
  /        filter processes and cgroups by name, pid or path (Enter keeps, Esc clears)
  ?        this help (any key closes it)

Cells: "absent" = this kernel or source does not have the series; "n/a" = nothing to divide
(no faults of that size) or no probe reports it; "…" = a rate needs a second reading.
Rates are per second over the last interval; latency percentiles cover the last interval.
"""


def too_small(width: int, height: int) -> Text:
    return Text(
        f"terminal too small: {width}x{height}, thpwatch top needs at least "
        f"{MIN_WIDTH}x{MIN_HEIGHT}\n(resize it, or press q to quit)",
        style="bold yellow",
    )


def footer(state: ViewState, sort_name: str | None) -> Text:
    if state.editing_filter:
        return Text.assemble(("filter: ", "bold"), state.needle, ("▌", "blink"), "  Enter/Esc")
    keys = Text.assemble(
        ("q", "bold"), " quit  ", ("p", "bold"), " pause  ", ("s", "bold"), " sort"
    )
    if sort_name:
        keys.append(f" ({sort_name}{', reversed' if state.reverse else ''})")
    keys.append_text(
        Text.assemble(
            "  ",
            ("r", "bold"),
            " reverse  ",
            ("↑↓", "bold"),
            " scroll  ",
            ("/", "bold"),
            " filter  ",
            ("?", "bold"),
            " help",
        )  # fmt: skip
    )
    if state.needle:
        keys.append(f"  filter '{state.needle}'", style="cyan")
    return keys


def height_of(console: Console, renderable: RenderableType, width: int) -> int:
    options = console.options.update(width=width, height=None)
    return len(console.render_lines(renderable, options, pad=False))


def render_screen(
    console: Console,
    frame: Frame,
    state: ViewState,
    events: EventLog,
    width: int,
    height: int | None,
) -> RenderableType:
    """The whole screen for a width x height terminal (height None: everything, for --once)."""
    if height is not None and (width < MIN_WIDTH or height < MIN_HEIGHT):
        return too_small(width, height)
    if state.show_help:
        return Text(HELP)
    compact = width < 110
    processes = Ranking.of(frame, names.PROCESS_PREFIX, names.PROCESS_KEY, "Top processes")
    cgroups = Ranking.of(frame, names.CGROUP_PREFIX, names.CGROUP_KEY, "Top cgroups")
    sort_col = processes.sort_column(state.sort_index)
    sort_name = column_title(sort_col, names.PROCESS_PREFIX) if sort_col else None
    rows = 10 if height is None else max(3, height // 6)
    state.page = rows
    latency = render_latency(frame, state.bpf_note, show_spark=not compact)
    activity = render_activity(frame)
    procs = render_ranking(
        processes, names.PROCESS_PREFIX, state.table_view(), rows, smaps_note(frame)
    )
    groups = render_ranking(cgroups, names.CGROUP_PREFIX, state.table_view(True), rows)
    if not processes.columns:
        procs = unrecorded(processes.title, names.PROCESS_SOURCE, state) or procs
    if not cgroups.columns:
        groups = unrecorded(cgroups.title, names.CGROUP_SOURCE, state) or groups
    # (priority, name, renderable) in screen order; lower priority = kept longer when short
    blocks: list[tuple[int, str, RenderableType]] = [
        (0, "header", render_header(frame, state.interval, state.paused, state.bpf_note)),
        *([(0, "follow", follow_line(state.follow))] if state.follow else []),
        (2, "pool", pool_unrecorded(frame, state) or render_pool(frame, width)),
        (1, "sizes", sizes_unrecorded(frame, state) or render_sizes(frame, compact)),
    ]
    if fits_side_by_side(console, latency, activity, width):
        blocks.append((3, "latency+activity", side_by_side(latency, activity)))
    else:
        blocks += [(3, "latency", latency), (4, "activity", activity)]
    if fits_side_by_side(console, procs, groups, width):
        blocks.append((5, "processes+cgroups", side_by_side(procs, groups)))
    else:
        blocks += [(5, "processes", procs), (6, "cgroups", groups)]
    blocks.append((1, "events", events.render(1 if height is not None and height < 40 else 3)))
    if height is None:
        return Group(*(r for _, _, r in blocks))
    blocks.append((0, "keys", footer(state, sort_name)))
    return fit(console, blocks, width, height)


def follow_line(follow: Follow) -> Text:
    probes = "probe counts: this process only" if follow.pid is not None else "probes host-wide"
    return Text.assemble(
        ("following ", "bold cyan"), (follow.describe(), "bold"), f"  ({probes}; kernel "
        "counters host-wide; tables narrowed)",
    )  # fmt: skip


def unrecorded(title: str, source: str, state: ViewState) -> Text | None:
    """In a replay, a panel with no data whose source has no state in the history: it was not
    recorded (not absent, not empty)."""
    if source not in state.not_recorded:
        return None
    return Text(f"{title}: not recorded (the exporter did not export {source})", ABSENT_STYLE)


def pool_unrecorded(frame: Frame, state: ViewState) -> Text | None:
    if frame.value(names.POOL_HPAGES) is not None:
        return None
    return unrecorded("Reserved THP pool", names.POOL_SOURCE, state)


def sizes_unrecorded(frame: Frame, state: ViewState) -> Text | None:
    if frame.has(names.MTHP_NR_ANON) or frame.has(names.MTHP_ALLOC):
        return None
    return unrecorded("THP by size", names.MTHP_SOURCE, state)


def smaps_note(frame: Frame) -> str:
    status = frame.now.status(names.PROCESS_SMAPS_STATUS)
    if status is None or status.state is State.OK:
        return ""
    first_clause = status.reason.split(":")[0]  # the full reason is in `thpwatch doctor`
    return f"smaps not read ({status.state.value}): {first_clause}"


def fits_side_by_side(
    console: Console, left: RenderableType, right: RenderableType, width: int
) -> bool:
    """Both at their natural width, with a gap, within the terminal."""
    return console.measure(left).maximum + console.measure(right).maximum + GAP <= width


def side_by_side(left: RenderableType, right: RenderableType) -> Table:
    grid = Table.grid(padding=(0, GAP))
    grid.add_column()
    grid.add_column()
    grid.add_row(left, right)
    return grid


def fit(
    console: Console, blocks: list[tuple[int, str, RenderableType]], width: int, height: int
) -> Group:
    """Keep blocks by priority while they fit; name the ones that had to go."""
    heights = {name: height_of(console, r, width) for _, name, r in blocks}
    budget = height if sum(heights.values()) <= height else height - 1  # room for the note
    kept: set[str] = set()
    used = 0
    for _prio, name, _r in sorted(blocks, key=lambda b: b[0]):
        if used + heights[name] <= budget:
            kept.add(name)
            used += heights[name]
    shown = [r for _, name, r in blocks if name in kept]
    hidden = [name for _, name, _ in blocks if name not in kept]
    if hidden:
        note = Text(f"hidden (enlarge terminal): {', '.join(hidden)}", style="dim")
        shown.insert(-1, note)
    return Group(*shown)
