"""What a source is: a named reader of the kernel that emits Samples and reports its state.

A source's collect() adds samples to an Emitter. It raises SourceAbsent when the kernel lacks
what it reads, SourceBlocked when it may not read it, and KernelFileError (or records a problem
and carries on) when a file is malformed. The sampler turns all of that into a SourceStatus;
nothing a source raises reaches the user as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from thpwatch.snapshot import Histogram, Labels, Sample, SourceStatus, labels_of

MAX_PROBLEMS = 20  # problems named in one source's status


class SourceAbsent(Exception):
    """The running kernel does not have what this source reads."""


class SourceBlocked(Exception):
    """It exists, but this process is not allowed to read it."""


class KernelFileError(Exception):
    """A kernel file that could not be used: names the file and what was wrong with it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class Emitter:
    """Collects one source's output for one Snapshot."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    statuses: list[SourceStatus] = field(default_factory=list)
    more_problems: int = 0  # problems past MAX_PROBLEMS: counted, not kept

    def add(
        self, name: str, value: float | Histogram, labels: Labels | None = None, **kw: str
    ) -> None:
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


class Source(Protocol):
    name: str

    def collect(self, out: Emitter) -> None: ...
