"""/proc/vmstat: one `name value` line per counter."""

from __future__ import annotations

import re
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.text import KeyValues, parse_int, parse_lines, read_text

_LINE = re.compile(r"(?P<name>[a-z0-9_]+) (?P<value>-?\d+)")


def _value(where: str, m: re.Match[str]) -> int:
    # Some nr_* gauges dip below 0 (per-CPU deltas); an event counter never does.
    return parse_int(where, m["value"], signed=facts.is_gauge_stat(m["name"]))


def parse_vmstat(path: Path | str, text: str) -> KeyValues:
    return parse_lines(path, text, _LINE, _value)


def read_vmstat(root: Path) -> KeyValues:
    path = root / facts.PROC_VMSTAT
    return parse_vmstat(path, read_text(path))


def is_watched(name: str) -> bool:
    """The vmstat lines thpwatch exports: THP and compaction families, plus a few named ones."""
    return name.startswith(facts.VMSTAT_PREFIXES) or name in facts.VMSTAT_NAMES
