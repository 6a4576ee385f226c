"""Source "cmdline": the Reserved THP boot request (thp_reserved_* on the kernel command line)
and what became of it."""

from __future__ import annotations

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.cmdline import read_cmdline
from thpwatch.kernel.errors import KernelFileError
from thpwatch.sources.base import SourceAbsent, kernel_files
from thpwatch.sources.common import FromReadings, gauge

REQUESTED_HPAGES = gauge(
    "thpwatch_reserved_thp_requested_hpages",
    "Reserved huge pages asked for on the kernel command line (thp_reserved_nr).",
)
BOOT_SHORTFALL_HPAGES = gauge(
    "thpwatch_reserved_thp_boot_shortfall_hpages",
    "Requested reserved huge pages the kernel did not reserve at boot.",
)
BOOT_PARAM_VALID = gauge(
    "thpwatch_reserved_thp_boot_param_valid",
    "1 if a thp_reserved_* boot parameter is one the kernel accepts, 0 if it rejects it.",
    ("param",),
)
METRICS = (REQUESTED_HPAGES, BOOT_SHORTFALL_HPAGES, BOOT_PARAM_VALID)


class CmdlineSource(FromReadings):
    name = "cmdline"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            hpage_bytes = self.readings.hpage_pmd_size.get(self.name)
            request = read_cmdline(self.readings.root, hpage_bytes)
            try:
                pool = self.readings.pool.get(self.name)
            except KernelFileError as e:  # the request is still worth showing
                out.problem(f"{e}; boot shortfall not computed")
                pool = None
        if not request.given and pool is None and not out.problems:
            raise SourceAbsent("no thp_reserved_* boot parameter and no Reserved THP support")
        for param, text, valid in (
            (facts.CMDLINE_RESERVED_SIZE, request.size_text, request.size_valid),
            (facts.CMDLINE_RESERVED_NR, request.nr_text, request.nr_valid),
        ):
            if text is not None:
                out.add(BOOT_PARAM_VALID, float(valid), param=param)
        out.add(REQUESTED_HPAGES, request.requested_hpages)
        if pool is not None:
            shortfall = max(0, request.requested_hpages - pool.total_hpages)
            out.add(BOOT_SHORTFALL_HPAGES, shortfall)
