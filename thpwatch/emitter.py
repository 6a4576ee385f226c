"""The Emitter: what a source (kernel files, BPF probes, feature detection) writes one
Snapshot's samples, problems and sub-statuses into. Below sources/ and probes/, so that both
(and features.py) emit without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from thpwatch.metric import Metric
from thpwatch.snapshot import Histogram, Labels, Sample, SourceStatus, labels_of

MAX_PROBLEMS = 20  # problems named in one source's status


@dataclass
class Emitter:
    """Collects one source's output for one Snapshot."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    statuses: list[SourceStatus] = field(default_factory=list)
    more_problems: int = 0  # problems past MAX_PROBLEMS: counted, not kept

    def add(
        self,
        metric: Metric | str,
        value: float | Histogram,
        labels: Labels | None = None,
        **kw: str,
    ) -> None:
        """One sample of `metric`, its declaration (so its name is written once, there); a name
        is taken too, for metrics named at run time (discovered stats) and emitters that declare
        theirs elsewhere."""
        name = metric.name if isinstance(metric, Metric) else metric
        self.samples.append(Sample(name, labels_of(dict(labels or ()), **kw), value))

    def problem(self, message: str) -> None:
        """A partial failure: recorded in the source's status, the rest of the data kept.
        The first MAX_PROBLEMS are kept, the rest counted, so a reason stays bounded."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
            return
        self.more_problems += 1
        if self.more_problems == 1:
            self.problems.append("")
        self.problems[-1] = f"and {self.more_problems} more problems"

    def status(self, status: SourceStatus) -> None:
        """A sub-status this source owns (one per BPF probe)."""
        self.statuses.append(status)
