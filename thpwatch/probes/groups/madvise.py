"""Group madvise (bpf/madvise.bpf.c): madvise() calls and bytes per THP-related advice x result
(syscalls:sys_enter/exit_madvise), and a bounded table of the processes making them."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.text import label_text
from thpwatch.metric import Metric
from thpwatch.probes.bpfsys import BpfMap
from thpwatch.probes.errors import result_name
from thpwatch.probes.group import CEnum, Decoding, Known, Names, ProbeGroup, tracepoint_probe
from thpwatch.probes.maps import Counts, RawMaps

PROBE = "madvise"
TOP_PROCESSES = 10
FIELD = CEnum("MADV_FIELD", ("calls", "bytes"))  # what a madv_counts entry counts


class MadviseKey(NamedTuple):  # struct madv_key
    advice: int
    ret: int  # 0 or -errno
    field: int  # FIELD index


class MadviseProcess(NamedTuple):  # a madv_procs entry: key u32 tgid, struct madv_proc
    tgid: int
    comm: str
    calls: int
    bytes: int


MADV_COUNTS = Counts("madv_counts", MadviseKey, "=IiI")


class ProcessTable:
    """madv_procs: an LRU hash, tgid -> struct madv_proc (calls, bytes, comm[16])."""

    name = "madv_procs"
    _value = struct.Struct("=QQ16s")
    _tgid = struct.Struct("=I")

    def read(self, m: BpfMap) -> list[MadviseProcess]:
        procs = []
        for k, v in m.entries():
            calls, nbytes, comm = self._value.unpack(v)
            name = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
            procs.append(MadviseProcess(self._tgid.unpack(k)[0], name, calls, nbytes))
        return procs

    def of(self, raw: RawMaps) -> list[MadviseProcess] | None:
        return raw.get(self.name)


MADV_PROCS = ProcessTable()

CALLS = Metric(
    "thpwatch_madvise_calls_total",
    "counter",
    "madvise() calls with a THP-related advice, by advice and result (ok or errno name).",
    ("advice", "result"),
)
BYTES = Metric(
    "thpwatch_madvise_bytes_total",
    "counter",
    "Length passed to those madvise() calls, by advice and result.",
    ("advice", "result"),
    "bytes",
)
TOP_CALLS = Metric(
    "thpwatch_madvise_top_process_calls_total",
    "counter",
    "THP-related madvise() calls of the processes making the most (top 10 of a bounded "
    "table of 1024 processes), summed by comm; pid label only with --pid-labels.",
    ("pid", "comm"),
)
TOP_BYTES = Metric(
    "thpwatch_madvise_top_process_bytes_total",
    "counter",
    "Length passed to THP-related madvise() calls by the same top processes.",
    ("pid", "comm"),
    "bytes",
)
_BY_FIELD = {FIELD.index("calls"): CALLS.name, FIELD.index("bytes"): BYTES.name}


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    counts = MADV_COUNTS.of(raw)
    if counts is None or PROBE not in d.attached:
        return
    for k, n in sorted(counts.items()):
        advice = facts.MADV_NAMES.get(k.advice, str(k.advice))
        out.add(_BY_FIELD[k.field], n, advice=advice, result=result_name(k.ret))
    for p in top_processes(MADV_PROCS.of(raw) or [], d.pid_labels):
        labels = {"comm": label_text(p.comm), **({"pid": str(p.tgid)} if d.pid_labels else {})}
        out.add(TOP_CALLS.name, p.calls, **labels)
        out.add(TOP_BYTES.name, p.bytes, **labels)


def top_processes(procs: list[MadviseProcess], by_pid: bool) -> list[MadviseProcess]:
    """The TOP_PROCESSES making the most calls; unless by_pid, summed per command name first
    (tgid 0): no pid label unless asked (--pid-labels)."""
    if not by_pid:
        by_comm: dict[str, list[int]] = {}
        for p in procs:
            total = by_comm.setdefault(label_text(p.comm), [0, 0])
            total[0] += p.calls
            total[1] += p.bytes
        procs = [MadviseProcess(0, comm, calls, nb) for comm, (calls, nb) in by_comm.items()]
    return sorted(procs, key=lambda p: (-p.calls, p.tgid, p.comm))[:TOP_PROCESSES]


def calls_with_result(advice: int, result: str) -> Callable[[RawMaps], int | None]:
    """Calls with `advice` whose result is named `result` (ok, EINVAL, ...)."""

    def total(raw: RawMaps) -> int | None:
        counts = MADV_COUNTS.of(raw)
        if counts is None:
            return None
        calls = FIELD.index("calls")
        return sum(
            n
            for k, n in counts.items()
            if k.advice == advice and k.field == calls and result_name(k.ret) == result
        )

    return total


def _advice(names: Names) -> tuple[str, ...]:
    """MADV_RESERVED_THP means something only on a kernel with the series (else EINVAL)."""
    reserved = facts.MADV_NAMES[facts.MADV_RESERVED_THP]
    return tuple(a for a in facts.MADV_NAMES.values() if a != reserved or names.reserved_thp)


def _wanted(advice: int) -> str:
    return f"((b)=={advice})"


GROUP = ProbeGroup(
    "madvise",
    (tracepoint_probe(PROBE, "madvise", facts.TP_SYS_ENTER_MADVISE, facts.TP_SYS_EXIT_MADVISE),),
    maps=(MADV_COUNTS, MADV_PROCS),
    metrics=(CALLS, BYTES, TOP_CALLS, TOP_BYTES),
    known=tuple(
        Known(m.name, PROBE, (("advice", _advice), ("result", ("ok",)))) for m in (CALLS, BYTES)
    ),
    enums=(FIELD,),
    # THPW_MADV_WANTED(b): whether advice b is one thpwatch counts
    constants={"THPW_MADV_WANTED(b)": "(" + "||".join(map(_wanted, facts.MADV_NAMES)) + ")"},
    emit=emit,
)
