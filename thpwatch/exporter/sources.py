"""Which sources the exporter reads, and how: cheap ones per scrape, expensive ones periodic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.sampler import Periodic
from thpwatch.sources.base import Source

# Sources too costly to read on every scrape (they walk every process / every cgroup).
EXPENSIVE = {"procscan": "per_process", "cgroups": "per_cgroup"}


@dataclass(frozen=True)
class SourceOptions:
    root: Path = Path("/")
    bpf: bool = True
    per_process: bool = False
    per_cgroup: bool = False
    top: int = 10
    scan_interval: float = 60.0


def exporter_sources(options: SourceOptions) -> list[Source]:
    """The sources `thpwatch run` samples, in Snapshot order."""
    from thpwatch.assembly import build_sources

    sources: list[Source] = []
    for source in build_sources(options.root):
        switch = EXPENSIVE.get(source.name)
        if switch is None:
            sources.append(source)
        elif getattr(options, switch):
            sources.append(Periodic(source, options.scan_interval))
    return sources
