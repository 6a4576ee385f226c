"""Every probe group, in the order their BPF files are concatenated into a program text and
their samples are emitted. A new group: its module here and bpf/<group>.bpf.c."""

from __future__ import annotations

from thpwatch.probes.group import ProbeGroup
from thpwatch.probes.groups import (
    alloc,
    faults,
    khugepaged,
    madvise,
    reserved,
    splits,
    stalls,
    swapin,
)

GROUPS: tuple[ProbeGroup, ...] = (
    alloc.GROUP,
    madvise.GROUP,
    stalls.GROUP,
    khugepaged.GROUP,
    faults.GROUP,
    faults.ANY_GROUP,
    swapin.GROUP,
    splits.GROUP,
    reserved.GROUP,
)
