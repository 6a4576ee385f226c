"""Source "features": which THP series the running kernel carries (feature detection, see
thpwatch.features) and thpwatch's own version, as info metrics."""

from __future__ import annotations

from pathlib import Path

from thpwatch import __version__
from thpwatch.emitter import Emitter
from thpwatch.features import Presence, detected
from thpwatch.metric import Metric
from thpwatch.snapshot import SourceStatus, State

KERNEL_INFO = Metric(
    "thpwatch_kernel_info",
    "info",
    "Running kernel release and whether it carries each THP series (yes, no, unknown).",
    ("release", "reserved_thp", "pud_thp", "lazy_pte", "pmd_swap"),
)
BUILD_INFO = Metric("thpwatch_build_info", "info", "thpwatch version.", ("version",))
METRICS = (KERNEL_INFO, BUILD_INFO)


class FeaturesSource:
    name = "features"

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    def collect(self, out: Emitter) -> None:
        report = detected(self.root)
        out.add(
            KERNEL_INFO,
            1.0,
            release=report.release,
            **{f.key: f.present.value for f in report.series},
        )
        out.add(BUILD_INFO, 1.0, version=__version__)
        for problem in report.problems:
            out.problem(problem)
        # A series that cannot be told (no BTF, say) is a limit of this host, not a failure.
        for f in report.series:
            if f.present is Presence.UNKNOWN:
                checks = "; ".join(f"{e.check}: {e.found}" for e in f.evidence)
                reason = f"cannot tell whether the kernel has {f.title}: {checks}"
                out.status(SourceStatus(f"features.{f.key}", "source", State.ABSENT, reason))
