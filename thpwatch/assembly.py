"""The default list of sources a Sampler runs, and the options that choose them (shared by
snapshot, doctor, top and the exporter)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.features import has_lazy_pte
from thpwatch.kernel.liveroot import is_live
from thpwatch.kernel.readings import KernelReadings
from thpwatch.sampler import Periodic
from thpwatch.sources.base import Source
from thpwatch.sources.cgroups import CgroupScan
from thpwatch.sources.checks import ChecksSource
from thpwatch.sources.cmdline import CmdlineSource
from thpwatch.sources.features import FeaturesSource
from thpwatch.sources.kmsg import KmsgSource
from thpwatch.sources.meminfo import MeminfoSource
from thpwatch.sources.mthp import MthpSource
from thpwatch.sources.pagetypeinfo import PagetypeinfoSource
from thpwatch.sources.procscan import ProcScan
from thpwatch.sources.reserved_thp import ReservedThpSource
from thpwatch.sources.thp_settings import ThpSettingsSource
from thpwatch.sources.vmstat import VmstatSource


@dataclass(frozen=True)
class SourceOptions:
    processes: bool = True  # the per-process scan (the exporter turns it off by default)
    process_smaps: str = "auto"  # auto: walk smaps unless that would split PUD THPs
    pid_labels: bool = False  # label processes by pid too (cardinality!)
    cgroups: bool = True
    top: int = 10  # processes / cgroups emitted per scan
    scan_interval: float = 60.0  # seconds between process and cgroup scans (Periodic)
    kmsg: bool = True
    bpf: bool = True  # for the probe sources; off unless root is live (kernel/liveroot.py)
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
            root, top=options.top, pid_labels=options.pid_labels, smaps=options.process_smaps
        )
        sources.append(Periodic(scan, options.scan_interval))
    if options.cgroups:
        sources.append(Periodic(CgroupScan(root, top=options.top), options.scan_interval))
    return sources


def build_sources(
    root: Path = Path("/"),
    *,
    lazy_pte: Callable[[], bool | None] = lambda: None,
    pagetypeinfo_interval: float = 0.0,
    readings: KernelReadings | None = None,
) -> list[Source]:
    """Sources reading the kernel under `root`.

    lazy_pte tells the checks whether the kernel carries the lazy-PTE series (True/False), or
    None when unknown; the PMD page-table deposit estimate is only emitted when it is known.
    pagetypeinfo_interval > 0: /proc/pagetypeinfo is read every that many seconds (Periodic,
    its age exported), not per Snapshot; the checks use the last reading.
    """
    # readings: shared with sources built elsewhere (the BPF cross-check); made with the same
    # pagetypeinfo_interval
    readings = readings or KernelReadings(root, pagetypeinfo_interval)
    pagetypeinfo: Source = PagetypeinfoSource(readings)
    if pagetypeinfo_interval > 0:
        pagetypeinfo = Periodic(pagetypeinfo, pagetypeinfo_interval)
    return [
        ThpSettingsSource(root),
        MthpSource(readings),
        ReservedThpSource(readings),
        CmdlineSource(readings),
        VmstatSource(readings),
        MeminfoSource(root),
        pagetypeinfo,
        ChecksSource(readings, lazy_pte),
    ]


def all_sources(root: Path, options: SourceOptions) -> list[Source]:
    """Everything one Snapshot reads: the kernel files and checks (lazy-PTE from feature
    detection), the host sources of `options`, and the BPF probes when options.bpf and root is
    the running kernel's (/, or the host's /proc and /sys under a prefix)."""
    # Host sources first: feature detection (BTF, kallsyms) then costs the features source's
    # time, not the checks' that ask whether the kernel has lazy PTE.
    readings = KernelReadings(root, options.pagetypeinfo_interval)
    sources = [
        *host_sources(root, options),
        *build_sources(
            root,
            lazy_pte=lambda: has_lazy_pte(root),
            pagetypeinfo_interval=options.pagetypeinfo_interval,
            readings=readings,
        ),
    ]
    if options.bpf and is_live(root):
        sources.append(_bpf_source(options, readings))
    return sources


def _bpf_source(options: SourceOptions, readings: KernelReadings) -> Source:
    from thpwatch.probes.crosscheck import kernel_counts
    from thpwatch.probes.source import BpfSource
    from thpwatch.probes.specs import DEFAULT_GROUPS

    def counts() -> dict[str, int]:  # the vmstat and mTHP readings of the same Snapshot
        return kernel_counts(readings.vmstat.get("bpf"), readings.mthp.get("bpf"))

    return BpfSource(
        groups=(*DEFAULT_GROUPS, *options.enable_probes),
        pid=options.pid,
        pid_labels=options.pid_labels,
        helper=options.bpf_helper,
        kernel_counts=counts,
    )
