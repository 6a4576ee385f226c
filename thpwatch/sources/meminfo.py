"""Source "meminfo": the THP and hugetlb lines of /proc/meminfo, in bytes and pages."""

from __future__ import annotations

import re

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.meminfo import read_meminfo
from thpwatch.sources.base import kernel_files
from thpwatch.sources.common import FromRoot, gauge

# promtool rejects "sec" in a metric name as an abbreviated unit.
_MEMINFO_WORDS = {"SecPageTables": "secondary_page_tables"}


def _snake(field: str) -> str:
    """meminfo field to metric word: AnonHugePages -> anon_huge_pages."""
    if field in _MEMINFO_WORDS:
        return _MEMINFO_WORDS[field]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field).lower()


# meminfo field in kB -> its metric
BYTES = {
    f: gauge(f"thpwatch_meminfo_{_snake(f)}_bytes", f"/proc/meminfo {f}.", unit="bytes")
    for f in facts.MEMINFO_KB_FIELDS
}
HUGETLB_PAGES = gauge(
    "thpwatch_meminfo_hugetlb_pages",
    "hugetlbfs pages by state (HugePages_Total/Free/Rsvd/Surp in /proc/meminfo).",
    ("state",),
)
METRICS = (*BYTES.values(), HUGETLB_PAGES)


class MeminfoSource(FromRoot):
    name = "meminfo"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            meminfo = read_meminfo(self.root)
        for field, value in meminfo.values:
            if field in BYTES:
                out.add(BYTES[field], value)
            elif field in facts.MEMINFO_HUGETLB_COUNTS:
                out.add(HUGETLB_PAGES, value, state=field.split("_")[1].lower())
        for problem in meminfo.problems:
            out.problem(problem)
