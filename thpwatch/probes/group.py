"""What a probe group is: one concern, one file in bpf/, and everything Python knows of it.

A group (probes/groups/<group>.py, beside bpf/<group>.bpf.c) declares its probes (ProbeSpec:
what each attaches to), the maps its programs fill that are read (probes/maps.py readers), the
metrics it emits with their known label sets, the index enums its C shares with Python (CEnum,
passed to the compiler as -D defines) and its decoder, `emit`. specs.py, metrics.py, decode.py,
handoff.py and program.py only iterate the groups (probes/groups/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from thpwatch.emitter import Emitter
from thpwatch.metric import Metric
from thpwatch.probes.maps import MapReader, RawMaps


def tracepoint(tp: tuple[str, str]) -> str:
    """("kmem", "mm_page_alloc") -> "kmem:mm_page_alloc"."""
    return f"{tp[0]}:{tp[1]}"


@dataclass(frozen=True)
class ProbeSpec:
    name: str  # the probe's state is reported under this name
    group: str
    kind: str  # "tracepoint" | "function"
    targets: tuple[str, ...]  # tracepoints ("sys:event") or functions; all must exist
    returns: bool = False  # function probes: also an exit probe (latency, return value)
    helpers: tuple[str, ...] = ()  # functions whose entry it also watches, when they exist
    # function probes: the same function under its names on other kernels, tried in order when
    # the (single) target is missing
    alternatives: tuple[str, ...] = ()

    @property
    def functions(self) -> tuple[str, ...]:
        """Every function name this probe may need looked up."""
        return (*self.targets, *self.alternatives, *self.helpers)


def tracepoint_probe(name: str, group: str, *tps: tuple[str, str]) -> ProbeSpec:
    return ProbeSpec(name, group, "tracepoint", tuple(tracepoint(tp) for tp in tps))


def function_probe(
    name: str, group: str, helpers: tuple[str, ...] = (), alternatives: tuple[str, ...] = ()
) -> ProbeSpec:
    """A probe on function `name`'s entry and exit."""
    return ProbeSpec(name, group, "function", (name,), True, helpers, alternatives)


@dataclass(frozen=True)
class CEnum:
    """Indexes the BPF programs and the decoder share (array slots, key fields): written here
    only, passed to the compiler as -DTHPW_<NAME>_<MEMBER>=i and -DTHPW_NR_<NAME>=n."""

    name: str
    members: tuple[str, ...]  # label values, in index order

    def index(self, member: str) -> int:
        return self.members.index(member)

    def defines(self) -> dict[str, int]:
        out = {f"THPW_{self.name}_{m.upper()}": i for i, m in enumerate(self.members)}
        out[f"THPW_NR_{self.name}"] = len(self.members)
        return out


@dataclass(frozen=True)
class Names:
    """Names the kernel gives to numbers, read at start-up."""

    migratetypes: tuple[str, ...] = ()  # /proc/pagetypeinfo column order
    collapse_status: Mapping[int, str] = field(default_factory=dict)  # from the event format
    split_returns_value: Mapping[str, bool] = field(default_factory=dict)  # probe -> BTF
    reserved_thp: bool = False  # the kernel has the Reserved THP series (its sysfs directory)


@dataclass(frozen=True)
class Decoding:
    """What a decoder is told besides the maps."""

    attached: frozenset[str]  # names of the probes attached: only theirs are emitted
    names: Names
    pid_labels: bool = False  # top processes by pid (else summed by command name)


Values = tuple[str, ...] | Callable[[Names], tuple[str, ...]]


@dataclass(frozen=True)
class Known:
    """Label sets of `metric` that exist as soon as `probe` is attached: they read 0 until the
    first event instead of being missing (dashboards say 0, not "No data"; rate() sees the
    first events). A probe that is not attached adds none of them (absent is not zero).

    values: per label, its known values, or a function of the start-up Names for values that
    depend on the kernel (migratetypes, collapse statuses, split results, the reserved-THP
    advice). Errno results are not enumerated: only `ok` (and errnos an alert selects) start
    at 0."""

    metric: str
    probe: str
    values: tuple[tuple[str, Values], ...] = ()

    def label_sets(self, names: Names) -> Iterator[dict[str, str]]:
        labels = [label for label, _ in self.values]
        columns = [v(names) if callable(v) else v for _, v in self.values]
        for combo in product(*columns):
            yield dict(zip(labels, combo, strict=True))


Decoder = Callable[[RawMaps, Decoding, Emitter], None]


@dataclass(frozen=True)
class ProbeGroup:
    """One group. Groups sharing a BPF file (faults_any in faults.bpf.c) or maps (the fault
    maps of faults, faults_any and swapin) leave the shared parts to one of them."""

    name: str
    probes: tuple[ProbeSpec, ...]
    maps: tuple[MapReader[Any], ...] = ()  # the maps `emit` reads (the helper passes their fds)
    metrics: tuple[Metric, ...] = ()
    known: tuple[Known, ...] = ()
    enums: tuple[CEnum, ...] = ()
    constants: Mapping[str, int | str] = field(default_factory=dict)  # other -D defines of its C
    emit: Decoder | None = None  # adds the samples of its attached probes
    file: str = ""  # in bpf/; default <name>.bpf.c
    opt_in: bool = False  # loaded only on request (--enable-probe), for its cost

    @property
    def bpf_file(self) -> str:
        return self.file or f"{self.name}.bpf.c"

    def c_defines(self) -> dict[str, int | str]:
        """What its C is compiled with: its enums and constants."""
        out: dict[str, int | str] = dict(self.constants)
        for enum in self.enums:
            out.update(enum.defines())
        return out
