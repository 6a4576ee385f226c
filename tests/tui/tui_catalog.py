"""Hand-made Snapshots use metric names from emitters that may not be in this checkout yet:
names unknown to the real catalog are typed by the naming rule (counters end in _total)."""

from __future__ import annotations

import pytest

from thpwatch.catalog import Catalog, catalog
from thpwatch.metric import Metric


class RuleCatalog(Catalog):
    def __init__(self, real: Catalog) -> None:
        super().__init__([], list(real.families))
        self.real = real

    def lookup(self, name: str) -> Metric | None:
        found = self.real.lookup(name)
        if found is not None:
            return found
        kind = "counter" if name.endswith("_total") else "gauge"
        return Metric(name, kind, "test stand-in")


@pytest.fixture
def rule_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("thpwatch.rates.catalog", lambda: RuleCatalog(catalog()))
