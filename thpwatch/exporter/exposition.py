"""The /metrics body, written with the structure of every line cached between scrapes.

prometheus_client formats every sample from scratch on every scrape: label sorting, escaping
(character by character for sample names in OpenMetrics), for ~700 samples 4-9 ms of a scrape
(bench/README.md). A series' name and labels rarely change between scrapes, its value always
does; so each line is split into a prefix (`name{labels} `) and the value. The prefix, and each
family's HELP/TYPE/UNIT header, is produced by prometheus_client's own encoder the first time
it is seen (rendering that one series with the value 0.0 and cutting the value off), so the
output is byte-for-byte what the encoder would write (tests/exporter/test_exposition.py);
later scrapes only format values (floatToGoString, as the encoder does).

Only lines used by the last scrape of a format are kept, so the cache is bounded by the
current series. Anything the cache does not model (timestamps, exemplars, native histograms,
the text format's _created/_gsum/_gcount families) falls back to the encoder for the whole body.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

Encoder = Callable[[Any], bytes]
_EOF = "# EOF\n"
_ZERO = floatToGoString(0.0) + "\n"
_TEXT_SPECIAL = ("_created", "_gsum", "_gcount")  # moved to their own families by the encoder


class _One:
    """A registry of the given families (what an encoder needs: collect())."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def _kind(encoder: Encoder) -> tuple[Any, ...] | None:
    """Which of prometheus_client's encoders (and options) this is; None if not one of them."""
    func, keywords = encoder, {}
    if isinstance(encoder, functools.partial):
        func, keywords = encoder.func, dict(encoder.keywords)
        if encoder.args:
            return None
    if func is generate_latest:
        return ("text", tuple(sorted(keywords.items())))
    if func is openmetrics.generate_latest:
        return ("openmetrics", tuple(sorted(keywords.items())))
    return None


class Exposition:
    """encode(encoder, registry) == encoder(registry), faster on the second scrape."""

    def __init__(self) -> None:
        self._headers: dict[tuple[Any, ...], str] = {}
        self._prefixes: dict[tuple[Any, ...], dict[tuple[Any, ...], str]] = {}
        self._lock = threading.Lock()

    def encode(self, encoder: Encoder, registry: Collector) -> bytes:
        kind = _kind(encoder)
        if kind is None:
            return encoder(registry)
        families = list(registry.collect())
        if not all(self._modelled(kind, f) for f in families):
            return encoder(_One(families))
        with self._lock:
            old = self._prefixes.get(kind, {})
        used: dict[tuple[Any, ...], str] = {}
        out: list[str] = []
        for family in families:
            out.append(self._header(encoder, kind, family))
            for s in family.samples:
                key = (family.name, family.type, family.documentation, family.unit, s.name)
                key += tuple(s.labels.items())
                prefix = used.get(key) or old.get(key)
                if prefix is None:
                    prefix = self._prefix(encoder, kind, family, s)
                    if prefix is None:
                        return encoder(_One(families))
                used[key] = prefix
                out.append(prefix)
                out.append(floatToGoString(s.value))
                out.append("\n")
        if kind[0] == "openmetrics":
            out.append(_EOF)
        with self._lock:
            self._prefixes[kind] = used
            if len(self._headers) > 4 * len(families) + 64:  # families come and go: start over
                self._headers = {}
        return "".join(out).encode("utf-8")

    @staticmethod
    def _modelled(kind: tuple[Any, ...], family: Metric) -> bool:
        special = {family.name + x for x in _TEXT_SPECIAL} if kind[0] == "text" else set()
        return not any(
            s.timestamp is not None
            or s.exemplar is not None
            or getattr(s, "native_histogram", None) is not None
            or s.name in special
            for s in family.samples
        )

    def _header(self, encoder: Encoder, kind: tuple[Any, ...], family: Metric) -> str:
        key = (kind, family.name, family.type, family.documentation, family.unit)
        header = self._headers.get(key)
        if header is None:
            empty = Metric(family.name, family.documentation, family.type, family.unit)
            header = encoder(_One([empty])).decode("utf-8").removesuffix(_EOF)
            self._headers[key] = header
        return header

    def _prefix(
        self, encoder: Encoder, kind: tuple[Any, ...], family: Metric, s: Any
    ) -> str | None:
        alone = Metric(family.name, family.documentation, family.type, family.unit)
        alone.add_sample(s.name, dict(s.labels), 0.0)
        text = encoder(_One([alone])).decode("utf-8").removesuffix(_EOF)
        line = text.removeprefix(self._header(encoder, kind, family))
        if not line.endswith(_ZERO) or line.count("\n") != 1:
            return None  # not one line ending in the value: not modelled
        return line.removesuffix(_ZERO)
