"""Probe overhead on fault-heavy workloads: the default probe set attached vs nothing attached,
and each probe group alone, in alternating runs of one session; then the per-event cost of every
BPF program from the kernel's run-time statistics.

The programs are compiled and loaded once; conditions differ only in which tracepoints they are
attached to (attaching is what puts a program on the kernel's hot path), so switching between
conditions takes milliseconds and the runs of a round sit next to each other in time.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench import bpfstats
from bench.stats import alternation, paired
from thpwatch import swapdev, workload
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.specs import DEFAULT_GROUPS
from thpwatch.snapshot import State

NONE, DEFAULT = "none", "default"
SETTLE = 0.05


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    run: Callable[[], object]
    needs_swap: bool = False


WORKLOADS = (
    Workload(
        "a",
        "2 MiB THP fault storm: 256 THPs (MADV_HUGEPAGE), one write each",
        lambda: workload.thp_faults(workload.PMD_BYTES, 256),
    ),
    Workload(
        "b",
        "4 KiB fault storm: 16384 pages (MADV_NOHUGEPAGE), one write each",
        lambda: workload.small_fault_storm(16384),
    ),
    Workload(
        "c",
        "page allocation storm: 16 rounds x 16 order-9 THP faults + unmap",
        lambda: workload.alloc_storm(16, 16),
    ),
    Workload(
        "d",
        "madvise storm: 64 rounds x 5 madvise calls on a 2 MiB region",
        lambda: workload.madvise_storm(64),
    ),
    Workload(
        "e",
        "swap-out/swap-in: 16 THPs written, MADV_PAGEOUT, read back (zram swap)",
        lambda: workload.pageout_retouch(16),
        needs_swap=True,
    ),
)


@dataclass(frozen=True)
class Attachment:
    group: str
    tracepoint: str
    program: str  # bcc function name
    bpf: Any  # the bcc.BPF object that holds it


class Switchboard:
    """Attaches and detaches an opened ProbeSet's tracepoint programs by group."""

    def __init__(self, probes: ProbeSet) -> None:
        # ProbeSet.open() also exports duplicates of bcc's attachment fds (for the daemon's
        # hand-off); while one is open, bcc's detach leaves the program attached and the next
        # attach fails with EEXIST. bcc's own fds are what this board switches.
        for obj in probes.objects:
            obj.close_links()
        self.attachments: list[Attachment] = []
        for st in probes.states.values():
            if st.state is not State.OK or st.spec.kind != "tracepoint":
                continue
            for tp in st.spec.targets:
                bpf = next(o for o in probes.bcc_objects if tp.encode() in o.tracepoint_fds)
                system, _, event = tp.partition(":")
                self.attachments.append(
                    Attachment(st.spec.group, tp, f"tracepoint__{system}__{event}", bpf)
                )
        self.on = {a.tracepoint for a in self.attachments}

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.group for a in self.attachments))

    def select(self, groups: tuple[str, ...]) -> None:
        """Attach exactly the programs of `groups`; when that changed anything, wait SETTLE
        seconds so the kernel's deferred work after (un)registering tracepoints (RCU callbacks,
        jump-label patching) does not land in the next timed run."""
        before = set(self.on)
        for a in self.attachments:
            wanted = a.group in groups
            if wanted and a.tracepoint not in self.on:
                a.bpf.attach_tracepoint(tp=a.tracepoint.encode(), fn_name=a.program.encode())
                self.on.add(a.tracepoint)
            elif not wanted and a.tracepoint in self.on:
                a.bpf.detach_tracepoint(tp=a.tracepoint.encode())
                self.on.discard(a.tracepoint)
        if self.on != before:
            time.sleep(SETTLE)

    def program_fds(self) -> dict[str, int]:
        return {a.program: a.bpf.funcs[a.program.encode()].fd for a in self.attachments}

    def group_of(self, program: str) -> str:
        return next(a.group for a in self.attachments if a.program == program)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """CPU seconds of this thread (faults, and the BPF programs they trigger, run in it) and
    wall seconds of one workload run."""
    gc.collect()
    c0, w0 = time.thread_time(), time.perf_counter()
    run()
    return time.thread_time() - c0, time.perf_counter() - w0


@contextlib.contextmanager
def swap_if(needed: bool) -> Iterator[str]:
    if not needed:
        yield ""
        return
    with swapdev.temporary_swap(512) as device:
        yield device


def ab_runs(w: Workload, board: Switchboard, rounds: int) -> dict[str, Any]:
    conditions = [NONE, DEFAULT, *board.groups]
    groups = {NONE: (), DEFAULT: board.groups, **{g: (g,) for g in board.groups}}
    cpu: dict[str, list[float]] = {c: [] for c in conditions}
    wall: dict[str, list[float]] = {c: [] for c in conditions}
    for c in (NONE, DEFAULT):  # warm-up: first-touch costs in Python and the kernel
        board.select(groups[c])
        timed(w.run)
    for c in alternation(conditions, rounds):
        board.select(groups[c])
        took_cpu, took_wall = timed(w.run)
        cpu[c].append(took_cpu)
        wall[c].append(took_wall)
    return {
        "order": conditions,
        "cpu_seconds": cpu,  # every run, by condition, in the order they ran within a condition
        "wall_seconds": wall,
        "vs_none": {
            c: {
                "cpu": paired(cpu[NONE], cpu[c]).as_dict(),
                "wall": paired(wall[NONE], wall[c]).as_dict(),
            }
            for c in conditions
            if c != NONE
        },
    }


def event_costs(w: Workload, board: Switchboard, runs: int) -> dict[str, Any]:
    """Default set attached, statistics on: per program ns per run and runs per workload run,
    and the programs' time as a share of the workload's CPU time."""
    board.select(board.groups)
    fds = board.program_fds()
    cpu = 0.0
    with bpfstats.stats_enabled():
        before = bpfstats.read_programs(fds)
        for _ in range(runs):
            cpu += timed(w.run)[0]
        after = bpfstats.read_programs(fds)
    spent = bpfstats.delta(after, before)
    total_ns = sum(s.run_time_ns for s in spent.values())
    return {
        "runs": runs,
        "workload_cpu_seconds": cpu,
        "bpf_seconds": total_ns / 1e9,
        "bpf_share_percent": total_ns / 1e9 / cpu * 100 if cpu else None,
        "programs": {
            name: {
                "group": board.group_of(name),
                "ns_per_event": s.ns_per_run,
                "events_per_workload_run": s.run_cnt / runs,
            }
            for name, s in spent.items()
        },
    }


def run(rounds: int = 20, stat_runs: int = 5, only: str = "") -> dict[str, Any]:
    results: dict[str, Any] = {}
    with ProbeSet(DEFAULT_GROUPS) as probes:
        statuses = {
            st.spec.name: {"group": st.spec.group, "state": st.state.value, "reason": st.reason}
            for st in probes.states.values()
        }
        board = Switchboard(probes)
        if not board.attachments:
            raise SystemExit(f"bench: no probe attached, nothing to measure: {statuses}")
        for w in WORKLOADS:
            if only and w.key not in only:
                continue
            print(f"  probes: ({w.key}) {w.title}", flush=True)
            with swap_if(w.needs_swap) as device:
                results[w.key] = {
                    "title": w.title,
                    "swap": device,
                    "rounds": rounds,
                    "ab": ab_runs(w, board, rounds),
                    "stats": event_costs(w, board, stat_runs),
                }
    return {"default_groups": list(DEFAULT_GROUPS), "probes": statuses, "workloads": results}
