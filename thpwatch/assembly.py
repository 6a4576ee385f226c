"""The default list of sources a Sampler runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thpwatch.checks import ChecksSource
from thpwatch.kernel.readings import KernelReadings
from thpwatch.sources.base import Source
from thpwatch.sources.files import (
    CmdlineSource,
    MeminfoSource,
    MthpSource,
    PagetypeinfoSource,
    ReservedThpSource,
    ThpSettingsSource,
    VmstatSource,
)


def build_sources(
    root: Path = Path("/"), *, lazy_pte: Callable[[], bool | None] = lambda: None
) -> list[Source]:
    """Sources reading the kernel under `root`.

    lazy_pte tells the checks whether the kernel carries the lazy-PTE series (True/False), or
    None when unknown; the PMD page-table deposit estimate is only emitted when it is known.
    """
    readings = KernelReadings(root)
    return [
        ThpSettingsSource(root),
        MthpSource(readings),
        ReservedThpSource(readings),
        CmdlineSource(readings),
        VmstatSource(readings),
        MeminfoSource(root),
        PagetypeinfoSource(readings),
        ChecksSource(readings, lazy_pte),
    ]
