"""Which sources the exporter reads: the kernel files and host sources per scrape, the process
and cgroup scans on their own interval (off unless asked for), the BPF probes unless --no-bpf."""

from __future__ import annotations

import logging
from pathlib import Path

from thpwatch.sources.base import Source
from thpwatch.sources.host import SourceOptions, host_sources

log = logging.getLogger(__name__)


def exporter_sources(root: Path, options: SourceOptions) -> list[Source]:
    """The sources `thpwatch run` samples, in Snapshot order."""
    from thpwatch.assembly import build_sources

    sources = [*build_sources(root), *host_sources(root, options)]
    if options.bpf:
        if root != Path("/"):
            log.info("BPF probes observe the running kernel, not %s: not loaded", root)
        else:
            sources.append(bpf_source())
    return sources


def bpf_source() -> Source:
    from thpwatch.probes.source import BpfSource

    return BpfSource()
