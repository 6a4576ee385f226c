"""The probe-overhead bench switches tracepoint programs on and off between timed runs: a
program switched off must stop running and one switched back on must run again (with the
hand-off's duplicate attachment fds open, re-attaching failed with EEXIST)."""

from __future__ import annotations

from bench import bpfstats
from bench.probe_overhead import Switchboard
from thpwatch import workload
from thpwatch.probes.loader import ProbeSet

GROUP = "madvise"


def madvise_runs(board: Switchboard) -> int:
    fds = {p: fd for p, fd in board.program_fds().items() if board.group_of(p) == GROUP}
    with bpfstats.stats_enabled():
        before = bpfstats.read_programs(fds)
        workload.madvise_storm(rounds=2)
        after = bpfstats.read_programs(fds)
    return sum(s.run_cnt for s in bpfstats.delta(after, before).values())


def test_switching_a_group_off_and_on_again(bpf_ready):
    with ProbeSet((GROUP,)) as probes:
        board = Switchboard(probes)
        assert board.groups == (GROUP,), probes.statuses()
        assert madvise_runs(board) > 0
        board.select(())
        assert madvise_runs(board) == 0
        board.select((GROUP,))
        assert madvise_runs(board) > 0
