"""Which sources the exporter reads, and how: cheap ones per scrape, expensive ones periodic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.sampler import Periodic
from thpwatch.sources.base import Source

# Sources too costly to read on every scrape (they walk every process / every cgroup): off
# unless asked for, then refreshed by the daemon every scan_interval.
EXPENSIVE = ("procscan", "cgroups")


@dataclass(frozen=True)
class SourceOptions:
    root: Path = Path("/")
    bpf: bool = True
    per_process: bool = False
    per_cgroup: bool = False
    top: int = 10
    pid_labels: bool = False
    process_smaps: str = "auto"
    scan_interval: float = 60.0


def exporter_sources(options: SourceOptions) -> list[Source]:
    """The sources `thpwatch run` samples, in Snapshot order."""
    from thpwatch.assembly import build_sources

    sources = [s for s in build_sources(options.root) if s.name not in EXPENSIVE]
    if options.bpf:
        sources.append(bpf_source(options.root))
    if options.per_process:
        from thpwatch.sources.procscan import ProcScan

        scan = ProcScan(
            options.root,
            top=options.top,
            pid_labels=options.pid_labels,
            smaps=options.process_smaps,
        )
        sources.append(Periodic(scan, options.scan_interval))
    if options.per_cgroup:
        from thpwatch.sources.cgroups import CgroupScan

        sources.append(Periodic(CgroupScan(options.root, top=options.top), options.scan_interval))
    return sources


def bpf_source(root: Path) -> Source:
    from thpwatch.probes.source import BpfSource

    return BpfSource(root)
