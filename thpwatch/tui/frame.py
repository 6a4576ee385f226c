"""One screen's worth of data: the latest Snapshot, the one before it, and the rates between."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from thpwatch.rates import counter_rates, histogram_deltas
from thpwatch.snapshot import Histogram, Labels, Sample, Snapshot, labels_of


@dataclass(frozen=True)
class Frame:
    now: Snapshot
    before: Snapshot | None = None
    rates: Mapping[tuple[str, Labels], float] = field(default_factory=dict)
    deltas: Mapping[tuple[str, Labels], Histogram] = field(default_factory=dict)

    @classmethod
    def between(cls, before: Snapshot | None, now: Snapshot) -> Frame:
        if before is None:
            return cls(now)
        return cls(now, before, counter_rates(before, now), histogram_deltas(before, now))

    @property
    def elapsed(self) -> float | None:
        return None if self.before is None else self.now.monotonic - self.before.monotonic

    def value(self, name: str, **labels: str) -> float | None:
        """A gauge or counter's current value; None when the snapshot lacks it."""
        v = self.now.get(name, **labels)
        return None if v is None or isinstance(v, Histogram) else v

    def has(self, name: str, **match: str) -> bool:
        return any(True for _ in self.now.series(name, **match))

    def series(self, name: str, **match: str) -> Iterator[Sample]:
        return self.now.series(name, **match)

    def rate(self, name: str, **labels: str) -> float | None:
        """Per-second rate of one counter; None when absent or not yet two readings."""
        return self.rates.get((name, labels_of(labels)))

    def rate_sum(
        self, name: str, where: Callable[[Sample], bool] | None = None, **match: str
    ) -> float | None:
        """Summed rate of every series of `name` whose labels include `match` (and pass where)."""
        found = [
            self.rates[(s.name, s.labels)]
            for s in self.now.series(name, **match)
            if (s.name, s.labels) in self.rates and (where is None or where(s))
        ]
        return sum(found) if found else None

    def total_sum(self, name: str, **match: str) -> float | None:
        found = [
            s.value for s in self.now.series(name, **match) if not isinstance(s.value, Histogram)
        ]
        return sum(found) if found else None

    def histogram(self, name: str, **labels: str) -> Histogram | None:
        """Observations since the previous snapshot (all of them on the first frame)."""
        key = (name, labels_of(labels))
        if key in self.deltas:
            return self.deltas[key]
        v = self.now.get(name, **labels)
        return v if isinstance(v, Histogram) else None
