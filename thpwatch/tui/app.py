"""`thpwatch top`: the live terminal view, or a plain print of N frames for pipes and scripts."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.live import Live
from rich.rule import Rule

from thpwatch.assembly import SourceOptions
from thpwatch.commands.common import say_loading_bpf
from thpwatch.commands.source_options import LIVE_VIEW, options_from, source_options
from thpwatch.sampler import Periodic, Sampler
from thpwatch.snapshot import Snapshot
from thpwatch.sources.base import Source
from thpwatch.tui.controls import handle_key
from thpwatch.tui.events import EventLog
from thpwatch.tui.follow import Follow, normalise_cgroup
from thpwatch.tui.frame import Frame
from thpwatch.tui.keys import cbreak, read_key
from thpwatch.tui.replay import (
    Replay,
    ReplayFailed,
    open_replay,
    pop_replay_request,
    replay_options,
)
from thpwatch.tui.screen import ViewState, render_screen

RESIZE_POLL = 0.25  # seconds between terminal-size checks while waiting for a key
FOLLOW_TOP = 100_000  # -p/-c: report every scanned process and cgroup (the scans keep bounds)


def following(root: Path, pid: int | None, cgroup: str | None) -> Follow:
    """The -p/-c choice, checked: the process and the cgroup must exist."""
    if pid is not None and not (root / "proc" / str(pid)).is_dir():
        raise click.BadParameter(f"no process {pid} under {root / 'proc'}", param_hint="-p")
    path = None
    if cgroup is not None:
        path = normalise_cgroup(cgroup)
        fs = root / "sys/fs/cgroup"
        where = [fs / path.lstrip("/"), fs / "memory" / path.lstrip("/")]
        where += [fs / "unified" / path.lstrip("/")]
        if not any(d.is_dir() for d in where):
            raise click.BadParameter(f"no cgroup {path} under {fs}", param_hint="-c")
    return Follow(pid, path, root)


class Feed:
    """Takes Snapshots and keeps the last two, plus the event log they produce."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.sampler = Sampler(sources)
        self.events = EventLog()
        self.before: Snapshot | None = None
        self.now = self.take()

    def take(self) -> Snapshot:
        for source in self.sources:  # expensive sources (process scan) refresh on their own clock
            if isinstance(source, Periodic) and source.due():
                source.refresh()
        return self.sampler.snapshot()

    def advance(self) -> Frame:
        self.before, self.now = self.now, self.take()
        frame = self.frame()
        self.events.observe(frame)
        return frame

    def frame(self) -> Frame:
        return Frame.between(self.before, self.now)

    # The feed seam, shared with thpwatch.tui.replay.Replay (history from Prometheus).

    def period(self, state: ViewState) -> float:
        """Seconds between tick() calls."""
        return state.interval

    def tick(self, state: ViewState) -> None:
        if not state.paused:
            self.advance()

    def next_print(self, state: ViewState, first: bool) -> bool:
        """Move to the next frame to print; False when there is none."""
        time.sleep(state.interval)
        self.advance()
        return True

    def handle_key(self, state: ViewState, key: str) -> bool:
        """Keys of this feed's own, before the view's (handle_key): none when live."""
        return False

    def render(
        self, console: Console, state: ViewState, width: int, height: int | None
    ) -> RenderableType:
        return render_screen(console, self.frame(), state, self.events, width, height)


def build(root: Path, options: SourceOptions) -> list[Source]:
    from thpwatch.assembly import all_sources

    return all_sources(root, options)


def print_frames(feed: Feed | Replay, state: ViewState, iterations: int, console: Console) -> None:
    for i in range(iterations):
        if not feed.next_print(state, first=i == 0):
            break
        if i:
            console.print(Rule())
        console.print(feed.render(console, state, console.width, None))


def terminal_size() -> tuple[int, int]:
    """The terminal's real size. Not rich's default, which prefers $COLUMNS/$LINES: those are
    stale after a resize (tmux exports them, some shells too)."""
    size = os.get_terminal_size(sys.stdout.fileno())
    return size.columns, size.lines


def run_live(feed: Feed | Replay, state: ViewState, console: Console) -> None:
    def screen() -> RenderableType:
        console.size = size  # what the Live display lays out and crops to
        width, height = size
        return feed.render(console, state, width, height)

    next_sample = time.monotonic() + feed.period(state)
    with cbreak() as fd, Live(console=console, screen=True, auto_refresh=False) as live:
        size = terminal_size()
        live.update(screen(), refresh=True)
        while True:
            key = read_key(fd, min(RESIZE_POLL, next_sample - time.monotonic()))
            if key is not None:
                if not feed.handle_key(state, key) and handle_key(state, key):
                    return
            elif time.monotonic() >= next_sample:
                next_sample = time.monotonic() + feed.period(state)
                feed.tick(state)
            elif terminal_size() == size:
                continue
            size = terminal_size()
            live.update(screen(), refresh=True)


@click.command()
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between readings; rates are per second over this interval.",
)
@click.option("--iterations", "-n", type=click.IntRange(min=1), help="Print N frames and exit.")
@click.option("--once", is_flag=True, help="Print one frame (after one interval) and exit.")
@click.option(
    "--svg",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="With --once/--iterations: also save what was printed as an SVG picture.",
)
@click.option(
    "-p",
    "--pid",
    type=click.IntRange(min=1),
    help="Follow one process: the probes count only its events (madvise, faults, splits), the "
    "process and cgroup tables show only it and its cgroups. Kernel counters stay host-wide.",
)
@click.option(
    "-c",
    "--cgroup",
    help="Follow one cgroup (path as in the cgroup table, e.g. /system.slice/x.service): the "
    "tables show it, its descendants and its processes. The probes stay host-wide (they "
    "filter by process only).",
)
@source_options(LIVE_VIEW)
@replay_options
@click.pass_context
def top(
    ctx: click.Context,
    interval: float,
    iterations: int | None,
    once: bool,
    svg: Path | None,
    pid: int | None,
    cgroup: str | None,
    root: Path,
    **kw: Any,
) -> None:
    """Live view of THP activity: reserved pool, per-size rates, fault latency, top users.

    With --prometheus URL --instance HOST:PORT, the same screen at a past time, rebuilt from
    what Prometheus recorded of that thpwatch exporter (rates over --step); what the exporter
    did not export reads "not recorded". Times: RFC 3339, unix seconds, now, -15m, HH:MM[:SS].
    Exit 1 when Prometheus is unreachable or has no data then, 2 for a bad command line.

    \b
    Keys: q quit, p pause, s cycle sort, r reverse sort, ↑/↓ PgUp/PgDn scroll the
    process and cgroup tables, / filter processes/cgroups, ? help;
    replaying: ←/→ one step, g jump to a time, p play.
    \b
    Examples:
      thpwatch top                          live view, every second
      thpwatch top --once                   one plain frame (pipes, scripts)
      thpwatch top -n 5 --interval 2        five frames, two seconds apart
      thpwatch top --root tests/fixtures/patched   demo of a kernel with all four series
      thpwatch top -p 1234                  follow one process (probes filtered to it)
      thpwatch top -c /system.slice/db.service   follow one cgroup
      COLUMNS=120 thpwatch top --once --svg top.svg   a picture of one frame
      thpwatch top --prometheus http://prom:9090 --instance db1:10386 --at -15m
      thpwatch top --prometheus URL --instance db1:10386 --from 14:00 --to 14:30 --step 1m
    """
    replay = pop_replay_request(ctx, kw)
    no_bpf = kw["no_bpf"]
    follow = following(root, pid, cgroup)
    options = options_from(root, kw)
    if follow:  # every process and cgroup scanned is reported, each with its pid, to narrow
        options = replace(options, pid_labels=True, top=FOLLOW_TOP, pid=pid)
    if once:
        iterations = 1
    interactive = iterations is None
    if svg is not None and interactive:
        raise click.UsageError("--svg needs --once or --iterations N")
    if interactive and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError("not a terminal: use --once or --iterations N for a plain print")
    note = "BPF off (--no-bpf)" if no_bpf else "" if options.bpf else f"BPF off (viewing {root})"
    state = ViewState(interval=interval, bpf_note=note, follow=follow)
    console = Console(record=svg is not None)
    if replay is None:
        say_loading_bpf(options.bpf)
    try:
        feed = Feed(build(root, options)) if replay is None else open_replay(replay, state)
        if interactive:
            run_live(feed, state, console)
        else:
            assert iterations is not None
            print_frames(feed, state, iterations, console)
            if svg is not None:
                console.save_svg(str(svg), title="thpwatch top")
        if not interactive and isinstance(feed, Replay) and feed.failed:
            raise ReplayFailed(feed.message or "a replayed time had no data")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `thpwatch top -n 5 | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # quiet flush at exit
        sys.exit(0)
