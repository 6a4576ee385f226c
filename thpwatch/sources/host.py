"""The sources beside the THP files: kernel features, kernel log, processes and cgroups,
and the options that choose them (shared by snapshot, doctor and the exporter)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.features import FeaturesSource
from thpwatch.sampler import Periodic
from thpwatch.sources.base import Source
from thpwatch.sources.cgroups import CgroupScan
from thpwatch.sources.kmsg import KmsgSource
from thpwatch.sources.procscan import ProcScan


@dataclass(frozen=True)
class SourceOptions:
    processes: bool = True  # the per-process scan (the exporter turns it off by default)
    process_smaps: str = "auto"  # auto: walk smaps unless that would split PUD THPs
    process_pids: bool = False  # label processes by pid too (cardinality!)
    cgroups: bool = True
    top: int = 10  # processes / cgroups emitted per scan
    scan_interval: float = 60.0  # seconds between process and cgroup scans (Periodic)
    kmsg: bool = True
    bpf: bool = True  # for the probe sources; forced off when root is not "/"
    enable_probes: tuple[str, ...] = ()  # opt-in probe groups to load besides the default set
    pid: int | None = None  # the probes count only this process's events (THPW_TGID)
    # seconds between /proc/pagetypeinfo reads (0: every Snapshot); the daemon's default is
    # docs/exporter.md's "pagetypeinfo" (reading it holds each zone's lock while walking lists)
    pagetypeinfo_interval: float = 0.0
    bpf_helper: bool = False  # compile/load BPF in a child process (the daemon: no LLVM kept)


def host_sources(root: Path, options: SourceOptions) -> list[Source]:
    sources: list[Source] = [FeaturesSource(root)]
    if options.kmsg:
        sources.append(KmsgSource(root))
    if options.processes:
        scan = ProcScan(
            root, top=options.top, pid_labels=options.process_pids, smaps=options.process_smaps
        )
        sources.append(Periodic(scan, options.scan_interval))
    if options.cgroups:
        sources.append(Periodic(CgroupScan(root, top=options.top), options.scan_interval))
    return sources
