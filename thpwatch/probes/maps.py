"""Reading the BPF maps the decoders need, without bcc: map file descriptors in, plain Python
data out (RawMaps), with per-CPU values summed over CPUs.

Each group declares the maps it reads (probes/groups/) with one of the readers below; a hash
map's key is a NamedTuple whose fields are the C key struct's, in order, unpacked with `layout`
(native byte order, C alignment). tests/unit/test_c_mirrors.py checks each key against its C
struct, tests/bpf/test_helper_loading.py the values against bcc's own view.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from thpwatch.probes.bpfsys import BpfMap
from thpwatch.probes.histogram import HIST_SLOTS, LogHist

# map name -> its contents as its reader returns them; a map that is not there: its group was
# not loaded
RawMaps = dict[str, Any]

_HIST_FIELDS = HIST_SLOTS + 1  # struct thpw_hist: u64 slots[], u64 sum_ns
_INDEX = struct.Struct("=I")  # array maps' keys

K = TypeVar("K")
V = TypeVar("V")


class MapReader(Protocol[V]):
    """How one map is read: its name in the BPF program and what its contents become."""

    name: str

    def read(self, m: BpfMap) -> V: ...


def u64s(value: bytes) -> memoryview:
    return memoryview(value).cast("Q")  # native order; per-CPU strides are multiples of 8


def sum_u64(m: BpfMap, value: bytes) -> int:
    """A per-CPU u64 summed over CPUs (one C-level pass: hosts have hundreds of CPUs)."""
    return sum(u64s(value)[:: m.value_stride // 8])


def array_entries(m: BpfMap) -> list[bytes]:
    """An array's values in index order (every index exists in an array map)."""
    return [v for _, v in sorted(m.entries(), key=lambda e: _INDEX.unpack(e[0])[0])]


def percpu_hists(m: BpfMap) -> list[LogHist]:
    hists = []
    step = m.value_stride // 8
    for v in array_entries(m):
        words = u64s(v)
        total = [sum(words[i::step]) for i in range(_HIST_FIELDS)]
        hists.append(LogHist(tuple(total[:HIST_SLOTS]), total[HIST_SLOTS]))
    return hists


@dataclass(frozen=True)
class Counts(Generic[K]):
    """A per-CPU hash of u64 counters: {key: count summed over CPUs}."""

    name: str
    key: Callable[..., K]  # a NamedTuple with the C key struct's fields
    layout: str  # struct format of the C key

    def read(self, m: BpfMap) -> dict[K, int]:
        unpack = struct.Struct(self.layout).unpack
        return {self.key(*unpack(k)): sum_u64(m, v) for k, v in m.entries()}

    def of(self, raw: RawMaps) -> dict[K, int] | None:
        return raw.get(self.name)


@dataclass(frozen=True)
class CounterArray:
    """A per-CPU array of u64 counters, one per index, summed over CPUs."""

    name: str

    def read(self, m: BpfMap) -> list[int]:
        return [sum_u64(m, v) for v in array_entries(m)]

    def of(self, raw: RawMaps) -> list[int] | None:
        return raw.get(self.name)


@dataclass(frozen=True)
class HistArray:
    """A per-CPU array of latency histograms (struct thpw_hist), one per index."""

    name: str

    def read(self, m: BpfMap) -> list[LogHist]:
        return percpu_hists(m)

    def of(self, raw: RawMaps) -> list[LogHist] | None:
        return raw.get(self.name)


class MapSource(Protocol):
    def map(self, name: str) -> BpfMap | None: ...


def read_all(objects: Sequence[MapSource], readers: Sequence[MapReader[Any]]) -> RawMaps:
    """Every map of `readers` found in the loaded objects, read."""
    raw: RawMaps = {}
    for reader in readers:
        m = next((m for obj in objects if (m := obj.map(reader.name)) is not None), None)
        if m is not None:
            raw[reader.name] = reader.read(m)
    return raw
