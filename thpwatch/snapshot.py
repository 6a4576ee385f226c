"""The Snapshot: one immutable reading of everything thpwatch knows at one moment.

Sources produce Samples and SourceStatus values; sinks (exporter, TUI, JSON) only render them.
Sample names are catalog names (see catalog.py); a metric a kernel lacks has no sample at all,
never a zero, and the reason is in the matching SourceStatus.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Labels = tuple[tuple[str, str], ...]


def labels_of(mapping: Mapping[str, str] | None = None, **kw: str) -> Labels:
    """Canonical label tuple: sorted by label name, values as str."""
    merged = dict(mapping or {}, **kw)
    return tuple(sorted((k, str(v)) for k, v in merged.items()))


class State(enum.StrEnum):
    """What became of a source or a probe in this Snapshot."""

    OK = "ok"  # read / attached and working
    ABSENT = "absent"  # the kernel does not have it (file, series, symbol, tracepoint)
    BLOCKED = "blocked"  # it exists but we are not allowed (EPERM, not root, lockdown)
    ERROR = "error"  # it exists and failed (malformed file, compile error, ...)


@dataclass(frozen=True)
class Histogram:
    """A Prometheus-style cumulative histogram.

    bounds: ascending upper bounds (seconds for latencies), +Inf excluded.
    cumulative: observations <= each bound, same length as bounds.
    count: all observations (the +Inf bucket); total: sum of observed values.
    """

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total: float

    def quantile(self, q: float) -> float | None:
        """Estimate the q-quantile by linear interpolation inside the bucket, as PromQL does."""
        if self.count == 0:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0
        for bound, cum in zip(self.bounds, self.cumulative, strict=True):
            if cum >= rank:
                if cum == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                    cum - lower_count
                )
            lower_bound, lower_count = bound, cum
        return self.bounds[-1] if self.bounds else None

    def minus(self, earlier: Histogram) -> Histogram:
        """Observations made since `earlier` (same bounds required)."""
        if earlier.bounds != self.bounds:
            raise ValueError("histograms with different bounds cannot be subtracted")
        return Histogram(
            self.bounds,
            tuple(a - b for a, b in zip(self.cumulative, earlier.cumulative, strict=True)),
            self.count - earlier.count,
            self.total - earlier.total,
        )


Value = float | Histogram


@dataclass(frozen=True)
class Sample:
    name: str  # catalog name, as exported (counters end in _total)
    labels: Labels
    value: Value

    def label(self, key: str, default: str = "") -> str:
        return dict(self.labels).get(key, default)


@dataclass(frozen=True)
class SourceStatus:
    """State of one source (kind "source") or one BPF probe (kind "probe")."""

    name: str
    kind: str
    state: State
    reason: str = ""
    duration_seconds: float = 0.0
    detail: Labels = ()  # extra facts, e.g. attach method, detected-by

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "state": self.state.value,
            "reason": self.reason,
            "duration_seconds": round(self.duration_seconds, 6),
        }
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


@dataclass(frozen=True)
class Snapshot:
    timestamp: float  # wall clock, seconds since the epoch
    monotonic: float  # time.monotonic() at the same moment: rates use this
    samples: tuple[Sample, ...]
    statuses: tuple[SourceStatus, ...]
    _index: dict[tuple[str, Labels], Sample] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for s in self.samples:
            self._index[(s.name, s.labels)] = s

    def get(self, name: str, **labels: str) -> Value | None:
        """The value of one series, or None if the snapshot does not have it."""
        s = self._index.get((name, labels_of(labels)))
        return None if s is None else s.value

    def series(self, name: str, **match: str) -> Iterator[Sample]:
        """Every sample of a metric whose labels include `match`."""
        for s in self.samples:
            if s.name == name and all(s.label(k) == v for k, v in match.items()):
                yield s

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def status(self, name: str, kind: str | None = None) -> SourceStatus | None:
        for st in self.statuses:
            if st.name == name and (kind is None or st.kind == kind):
                return st
        return None

    def to_json(self) -> dict[str, Any]:
        def value(v: Value) -> Any:
            if isinstance(v, Histogram):
                return {
                    "buckets": [[b, c] for b, c in zip(v.bounds, v.cumulative, strict=True)],
                    "count": v.count,
                    "sum": v.total,
                }
            return v

        return {
            "timestamp": self.timestamp,
            "statuses": [st.to_json() for st in self.statuses],
            "samples": [
                {"name": s.name, "labels": dict(s.labels), "value": value(s.value)}
                for s in self.samples
            ],
        }
