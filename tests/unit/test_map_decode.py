"""Map bytes -> RawMaps: per-CPU values summed over every CPU, for many CPUs, as the kernel
lays them out (one value per possible CPU, each padded to 8 bytes)."""

from __future__ import annotations

import struct

import pytest

from thpwatch.probes.groups.faults import FAULT_COUNTS, FaultKey
from thpwatch.probes.groups.madvise import MADV_COUNTS, MADV_PROCS, MadviseKey, MadviseProcess
from thpwatch.probes.histogram import LogHist
from thpwatch.probes.maps import percpu_hists


class Map:
    """What read_maps needs of a BpfMap: entries() bytes, cpus and the per-CPU stride."""

    def __init__(self, cpus: int, stride: int, entries: list[tuple[bytes, bytes]]) -> None:
        self.cpus, self.value_stride, self._entries = cpus, stride, entries

    def entries(self) -> list[tuple[bytes, bytes]]:
        return self._entries


@pytest.mark.parametrize("cpus", [1, 2, 3, 256])
def test_histograms_and_counters_sum_every_cpu(cpus: int) -> None:
    hist = b"".join(
        struct.pack("=64Q", *[(cpu + 1) * (s + 1) for s in range(63)], 1000 * (cpu + 1))
        for cpu in range(cpus)
    )
    m = Map(cpus, 512, [(struct.pack("=I", 1), hist), (struct.pack("=I", 0), bytes(512 * cpus))])
    empty, full = percpu_hists(m)
    n = cpus * (cpus + 1) // 2  # sum of cpu + 1
    assert empty == LogHist((0,) * 63, 0)
    assert full == LogHist(tuple(n * (s + 1) for s in range(63)), 1000 * n)
    counts = b"".join(struct.pack("=Q", 2**40 + cpu) for cpu in range(cpus))
    key = struct.pack("=III", 0, 0x400, 1)
    c = Map(cpus, 8, [(key, counts)])
    assert FAULT_COUNTS.read(c) == {FaultKey(0, 0x400, 1): cpus * 2**40 + n - cpus}


def test_signed_fields_and_comm_names() -> None:
    key = struct.pack("=IiI", 14, -22, 0)
    m = Map(2, 8, [(key, struct.pack("=QQ", 3, 4))])
    assert MADV_COUNTS.read(m) == {MadviseKey(advice=14, ret=-22, field=0): 7}
    procs = Map(1, 32, [(struct.pack("=I", 42), struct.pack("=QQ16s", 5, 8192, b"ab\xffc\0junk"))])
    assert MADV_PROCS.read(procs) == [MadviseProcess(42, "ab\ufffdc", 5, 8192)]
