"""Source "thp_settings": the global THP modes (transparent_hugepage/) and khugepaged's counters
and tunables (transparent_hugepage/khugepaged/), in base units. Absent without THP."""

from __future__ import annotations

from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.heldfiles import HeldFiles
from thpwatch.kernel.thp_settings import read_thp_settings
from thpwatch.sources.base import SourceAbsent, kernel_files
from thpwatch.sources.common import FromRoot, counter, emit_mode, gauge

ENABLED = gauge("thpwatch_thp_enabled", "1 for the current global THP mode.", ("mode",))
DEFRAG = gauge("thpwatch_thp_defrag", "1 for the current THP defrag mode.", ("mode",))
SHMEM_ENABLED = gauge(
    "thpwatch_thp_shmem_enabled", "1 for the current global shmem THP mode.", ("mode",)
)
USE_ZERO_PAGE = gauge("thpwatch_thp_use_zero_page", "1 if read faults may map the huge zero page.")
PMD_SIZE_BYTES = gauge(
    "thpwatch_thp_pmd_size_bytes", "Size of a PMD THP (hpage_pmd_size).", unit="bytes"
)
# the counters of khugepaged/, in the order of facts.KHUGEPAGED_COUNTERS
KHUGEPAGED_COUNTED = (
    counter("thpwatch_khugepaged_pages_collapsed_total", "Huge pages khugepaged collapsed."),
    counter("thpwatch_khugepaged_full_scans_total", "Full scans khugepaged completed."),
)
SCAN_SLEEP = gauge(
    "thpwatch_khugepaged_scan_sleep_seconds",
    "Pause between khugepaged scan passes (scan_sleep_millisecs).",
    unit="seconds",
)
ALLOC_SLEEP = gauge(
    "thpwatch_khugepaged_alloc_sleep_seconds",
    "Pause after a failed huge page allocation by khugepaged (alloc_sleep_millisecs).",
    unit="seconds",
)
PAGES_TO_SCAN = gauge(
    "thpwatch_khugepaged_pages_to_scan", "Pages khugepaged scans per pass (pages_to_scan)."
)
MAX_PTES = gauge(
    "thpwatch_khugepaged_max_ptes",
    "Most PTEs of a kind a collapse accepts (max_ptes_none, max_ptes_swap, max_ptes_shared), "
    "by kind: none, swap, shared.",
    ("kind",),
)
KHUGEPAGED_DEFRAG = gauge(
    "thpwatch_khugepaged_defrag", "1 if khugepaged may compact to allocate (defrag)."
)
METRICS = (
    ENABLED,
    DEFRAG,
    SHMEM_ENABLED,
    USE_ZERO_PAGE,
    PMD_SIZE_BYTES,
    *KHUGEPAGED_COUNTED,
    SCAN_SLEEP,
    ALLOC_SLEEP,
    PAGES_TO_SCAN,
    MAX_PTES,
    KHUGEPAGED_DEFRAG,
)

# khugepaged/ file -> its metric: as read, or (sleeps) read in milliseconds, exported in seconds
KHUGEPAGED_PLAIN = {
    **dict(zip(facts.KHUGEPAGED_COUNTERS, KHUGEPAGED_COUNTED, strict=True)),
    "pages_to_scan": PAGES_TO_SCAN,
    "defrag": KHUGEPAGED_DEFRAG,
}
KHUGEPAGED_SLEEPS = {"scan_sleep_millisecs": SCAN_SLEEP, "alloc_sleep_millisecs": ALLOC_SLEEP}
MAX_PTES_FILE = "max_ptes_"  # max_ptes_<kind>


class ThpSettingsSource(FromRoot):
    name = "thp_settings"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.files = HeldFiles()

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            settings = read_thp_settings(self.root, self.files.text)
        if settings is None:
            raise SourceAbsent(f"no {self.root / facts.THP_DIR}: kernel without THP")
        emit_mode(out, ENABLED, settings.enabled)
        emit_mode(out, DEFRAG, settings.defrag)
        if settings.shmem_enabled:
            emit_mode(out, SHMEM_ENABLED, settings.shmem_enabled)
        out.add(USE_ZERO_PAGE, settings.use_zero_page)
        out.add(PMD_SIZE_BYTES, settings.hpage_pmd_size)
        for setting, value in settings.khugepaged:
            emit_khugepaged(out, setting, value)


def emit_khugepaged(out: Emitter, setting: str, value: int) -> None:
    """One file of khugepaged/ in base units: counters, sleeps in seconds, PTE limits by kind.
    A file this version does not know is left out (its unit is unknown), not mislabelled."""
    if setting in KHUGEPAGED_PLAIN:
        out.add(KHUGEPAGED_PLAIN[setting], value)
    elif setting in KHUGEPAGED_SLEEPS:
        out.add(KHUGEPAGED_SLEEPS[setting], value / 1000)
    elif setting.startswith(MAX_PTES_FILE):
        out.add(MAX_PTES, value, kind=setting.removeprefix(MAX_PTES_FILE))
