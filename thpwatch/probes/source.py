"""The "bpf" source: attaches the probes on first use, then each collect() reads the maps into
Samples, one SourceStatus per probe, and the cross-check against the kernel's counters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.pagetypeinfo import read_pagetypeinfo
from thpwatch.probes.crosscheck import (
    CrossCheck,
    KernelCounts,
    checks,
    read_kernel_counts,
    thp_migratetypes,
)
from thpwatch.probes.decode import emit, read_maps
from thpwatch.probes.group import Names, tracepoint
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.specs import DEFAULT_GROUPS
from thpwatch.probes.tracefs import event_dir, tracefs_root
from thpwatch.snapshot import SourceStatus, State, labels_of
from thpwatch.sources.base import SourceAbsent, SourceBlocked


class BpfSource:
    name = "bpf"

    def __init__(
        self,
        groups: Iterable[str] = DEFAULT_GROUPS,
        pid: int | None = None,
        root: Path = Path("/"),
        *,
        pid_labels: bool = False,
        helper: bool = False,
        kernel_counts: Callable[[], KernelCounts] | None = None,
    ) -> None:
        """pid_labels: top madvise processes by pid, not only by comm.
        helper: load the probes in a child process (see ProbeSet), as the daemon does.
        kernel_counts: the cross-check's kernel counters (default: read afresh under root;
        the assembled sources share the file sources' readings instead)."""
        self.probes = ProbeSet(groups, pid, helper=helper)
        self.pid_labels = pid_labels
        self.root = root
        self.kernel_counts = kernel_counts or (lambda: read_kernel_counts(root))
        self.crosscheck = CrossCheck()
        self.names: Names | None = None
        self._problems: list[str] = []

    def close(self) -> None:
        self.probes.close()

    def collect(self, out: Emitter) -> None:
        self.probes.open()
        if self.names is None:
            self.names = self._read_names()
            self.crosscheck = CrossCheck(checks(thp_migratetypes(self.names.migratetypes)))
        for p in self._problems:
            out.problem(p)
        attached = {name for name, st in self.probes.states.items() if st.state is State.OK}
        statuses = {s.name: s for s in self.probes.statuses()}
        if attached:
            raw = read_maps(self.probes.objects)
            emit(raw, attached, self.names, out, pid_labels=self.pid_labels)
            if self.probes.pid is None:
                self._crosscheck(raw, attached, statuses, out)
        out.statuses.extend(statuses.values())
        if not attached:
            self._no_probe(statuses.values(), out)

    def _crosscheck(
        self, raw: object, attached: set[str], statuses: dict[str, SourceStatus], out: Emitter
    ) -> None:
        try:
            kernel = self.kernel_counts()
        except OSError as e:
            out.problem(f"cross-check: kernel counters unreadable: {e}")
            return
        for o in self.crosscheck.compare(kernel, raw, attached):  # type: ignore[arg-type]
            out.add("thpwatch_crosscheck_disagreement_ratio", o.disagreement, check=o.check)
            if o.silent:
                st = statuses[o.probe]
                statuses[o.probe] = replace(
                    st,
                    state=State.ERROR,
                    reason=o.silent,
                    detail=labels_of(dict(st.detail), silent="yes"),
                )

    def _read_names(self) -> Names:
        migratetypes: tuple[str, ...] = ()
        try:
            migratetypes = read_pagetypeinfo(self.root).migratetypes
        except Exception as e:  # KernelFileError, OSError: numbers then stand for names
            self._problems.append(f"migratetype names unavailable ({e}); using numbers")
        collapse: dict[int, str] = {}
        if self.probes.attached("collapse_huge_page"):
            from thpwatch.probes.tracefs import symbolic_names

            fmt = event_dir(tracefs_root(), tracepoint(facts.TP_COLLAPSE_HUGE_PAGE)) / "format"
            collapse = symbolic_names(fmt.read_text(), "status")
            if not collapse:
                self._problems.append(f"{fmt}: no status names in the print format; using numbers")
        returns = {
            name: f.returns_value
            for name in self.probes.states
            if (f := self.probes.function_of(name)) is not None
        }
        reserved = (self.root / facts.RESERVED_THP_DIR).is_dir()
        return Names(migratetypes, collapse, returns, reserved)

    @staticmethod
    def _no_probe(statuses: Iterable[SourceStatus], out: Emitter) -> None:
        """The source's own state when nothing attached: absent/blocked if that is all the
        probes are, else an error (a compile or attach failure) with the reasons."""
        states = {s.state for s in statuses}
        reasons = "; ".join(dict.fromkeys(s.reason for s in statuses))
        if states <= {State.ABSENT}:
            raise SourceAbsent(f"no probe attached: {reasons}")
        if states <= {State.ABSENT, State.BLOCKED}:
            raise SourceBlocked(f"no probe attached: {reasons}")
        out.problem(f"no probe attached: {reasons}")
