"""The BPF probes as data, gathered from the groups (probes/groups/): what each watches, which
group (BPF file) it belongs to, what it needs.

A group is one concern and one file in bpf/ (`<group>.bpf.c`; faults_any shares faults.bpf.c).
Groups are attached together or alone (ProbeSet(groups=...)), so the cost of each can be
measured by itself. Names of tracepoints and functions come from the kernel facts module.
"""

from __future__ import annotations

from thpwatch.probes.group import ProbeSpec
from thpwatch.probes.groups import GROUPS as _GROUPS

PROBES = tuple(p for g in _GROUPS for p in g.probes)
TRACEPOINT_PROBES = tuple(p for p in PROBES if p.kind == "tracepoint")
FUNCTION_PROBES = tuple(p for p in PROBES if p.kind == "function")

GROUPS = tuple(g.name for g in _GROUPS)  # in the order their files are concatenated
GROUP_FILES = {g.name: g.bpf_file for g in _GROUPS}
# Only on request (`--enable-probe GROUP`), for their measured cost (bench/README.md).
OPT_IN_GROUPS = frozenset(g.name for g in _GROUPS if g.opt_in)
DEFAULT_GROUPS = tuple(g for g in GROUPS if g not in OPT_IN_GROUPS)


def probes_of(groups: tuple[str, ...]) -> tuple[ProbeSpec, ...]:
    return tuple(p for p in PROBES if p.group in groups)


def check_groups(groups: tuple[str, ...]) -> None:
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown probe group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
