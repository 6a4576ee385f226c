"""BPF map contents -> Samples: every group's decoder (probes/groups/), then the known label
sets at 0. Pure functions on plain Python data (RawMaps), so every conversion is unit-tested
without BPF; read_maps() fills RawMaps from map file descriptors with the bpf() system call
(probes/bpfsys.py), without bcc.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from thpwatch.emitter import Emitter
from thpwatch.probes.group import Decoding, Names
from thpwatch.probes.groups import GROUPS
from thpwatch.probes.maps import MapSource, RawMaps, read_all
from thpwatch.probes.metrics import KNOWN
from thpwatch.snapshot import labels_of

READERS = tuple(m for g in GROUPS for m in g.maps)


def read_maps(objects: Sequence[MapSource]) -> RawMaps:
    """Sum every map a group reads, found in the loaded objects, over CPUs."""
    return read_all(objects, READERS)


def emit(
    raw: RawMaps, attached: Iterable[str], names: Names, out: Emitter, *, pid_labels: bool = False
) -> None:
    """Add the samples of every attached probe, its known label sets at 0 until their first
    event; a probe not attached adds nothing (absent, not zero). pid_labels: top madvise
    processes by pid (else summed by command name)."""
    d = Decoding(frozenset(attached), names, pid_labels)
    first = len(out.samples)
    for group in GROUPS:
        if group.emit is not None:
            group.emit(raw, d, out)
    _emit_known_zeros(d, out, first)


def _emit_known_zeros(d: Decoding, out: Emitter, first: int) -> None:
    """0 for every known label set (metrics.KNOWN) of an attached probe that the maps did not
    give a value yet."""
    seen = {(s.name, s.labels) for s in out.samples[first:]}
    for known in KNOWN:
        if known.probe not in d.attached:
            continue
        for labels in known.label_sets(d.names):
            if (known.metric, labels_of(labels)) not in seen:
                out.add(known.metric, 0, labels_of(labels))
