"""Declaration of one exported metric: the unit every sink and test checks names against."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TYPES = ("counter", "gauge", "histogram", "info")


@dataclass(frozen=True)
class Metric:
    """name is the exported sample name: counters end in _total, info metrics in _info."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""  # base unit where there is one: bytes, seconds; "" for event counts

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown metric type {self.type!r}")
        if not self.name.startswith("thpwatch_"):
            raise ValueError(f"{self.name}: metric names start with thpwatch_")
        if (self.type == "counter") != self.name.endswith("_total"):
            raise ValueError(f"{self.name}: counters, and only counters, end in _total")
        if (
            self.unit
            and self.type != "info"
            and not re.search(rf"_{self.unit}(_total)?$", self.name)
        ):
            raise ValueError(f"{self.name}: a metric in {self.unit} ends in _{self.unit}")


@dataclass(frozen=True)
class DiscoveredFamily:
    """Metrics whose names are only known at run time (stat files a kernel adds).

    pattern matches the full metric name; make builds its Metric. Sources call make(stat)
    themselves; the catalog uses pattern to accept names it has not seen declared.
    """

    pattern: re.Pattern[str]
    make: Callable[[str], Metric]
    examples: tuple[str, ...] = ()  # stat names documented for current kernels
