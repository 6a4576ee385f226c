"""The one metric catalog: every metric thpwatch exports, gathered from the modules that emit it.

Each emitting module declares `METRICS` (a tuple of Metric) and may declare `DISCOVERED`
(a tuple of DiscoveredFamily) at its top level; the catalog finds those modules itself, by
reading the package, so a new source joins it without being listed anywhere. The exporter, the
TUI, the dashboards' queries and the docs are checked against this catalog by tests.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from thpwatch.metric import DiscoveredFamily, Metric

PACKAGE = Path(__file__).resolve().parent
# A top-level assignment (plain or annotated) to METRICS or DISCOVERED.
_DECLARES = re.compile(r"^(?:METRICS|DISCOVERED)\b\s*[:=]", re.MULTILINE)


def emitter_modules() -> tuple[str, ...]:
    """Every thpwatch module that declares METRICS or DISCOVERED, found by reading the source
    files of the package (importing every module to look would load the TUI and the CLI into
    the daemon). Sorted by path."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _DECLARES.search(path.read_text(encoding="utf-8")):
            rel = path.relative_to(PACKAGE.parent).with_suffix("")
            names.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    return tuple(names)


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
    for modname in emitter_modules():
        mod = importlib.import_module(modname)
        metrics.extend(getattr(mod, "METRICS", ()))
        families.extend(getattr(mod, "DISCOVERED", ()))
    return Catalog(metrics, families)


@cache
def catalog() -> Catalog:
    return _gather()
