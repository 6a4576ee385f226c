"""The one metric catalog: every metric thpwatch exports, gathered from the modules that emit it.

Each emitting module declares `METRICS` (a tuple of Metric) and may declare `DISCOVERED`
(a tuple of DiscoveredFamily). The exporter, the TUI, the dashboards' queries and the docs are
checked against this catalog by tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache

from thpwatch.metric import DiscoveredFamily, Metric

# Modules that declare metrics. A module listed here must exist and import cleanly.
EMITTERS = (
    "thpwatch.status_metrics",
    "thpwatch.exporter.self_metrics",
    "thpwatch.exporter.textfile",
    "thpwatch.features",
    "thpwatch.sources.files",
    "thpwatch.sources.procscan",
    "thpwatch.sources.cgroups",
    "thpwatch.sources.kmsg",
    "thpwatch.checks",
    "thpwatch.probes.metrics",
)


class Catalog:
    def __init__(self, metrics: list[Metric], families: list[DiscoveredFamily]) -> None:
        self._by_name: dict[str, Metric] = {}
        for m in metrics:
            if m.name in self._by_name:
                raise ValueError(f"metric {m.name} declared twice")
            self._by_name[m.name] = m
        self.families = tuple(families)

    def __iter__(self) -> Iterator[Metric]:
        """Declared metrics plus every documented member of the discovered families."""
        yield from self._by_name.values()
        for fam in self.families:
            for stat in fam.examples:
                m = fam.make(stat)
                if m.name not in self._by_name:
                    yield m

    def lookup(self, name: str) -> Metric | None:
        m = self._by_name.get(name)
        if m is not None:
            return m
        for fam in self.families:
            match = fam.pattern.fullmatch(name)
            if match:
                return fam.make(match.group("stat"))
        return None

    def __contains__(self, name: str) -> bool:
        return self.lookup(name) is not None


def _gather() -> Catalog:
    metrics: list[Metric] = []
    families: list[DiscoveredFamily] = []
    for modname in EMITTERS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue  # emitter not written yet in this checkout
            raise
        metrics.extend(getattr(mod, "METRICS", ()))
        families.extend(getattr(mod, "DISCOVERED", ()))
    return Catalog(metrics, families)


@cache
def catalog() -> Catalog:
    return _gather()
