"""/proc/meminfo: `Name:   value kB` lines (values in bytes here) and unit-less counts."""

from __future__ import annotations

import re
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import KeyValues, parse_int, parse_lines, read_text

_LINE = re.compile(r"(?P<name>[A-Za-z0-9_()]+):\s+(?P<value>-?\d+)(?P<kb> kB)?")


def _value(where: str, m: re.Match[str]) -> int:
    # A field read in kB without its unit (or a count with one) would be off by 1024.
    if m["name"] in facts.MEMINFO_KB_FIELDS and not m["kb"]:
        raise KernelFileError(where, f"{m['name']} without its kB unit")
    if m["name"] in facts.MEMINFO_HUGETLB_COUNTS and m["kb"]:
        raise KernelFileError(where, f"{m['name']} is a count, not kB")
    return parse_int(where, m["value"]) * (1024 if m["kb"] else 1)


def parse_meminfo(path: Path | str, text: str) -> KeyValues:
    """`kB` fields are converted to bytes; fields without unit (HugePages_*) are counts."""
    return parse_lines(path, text, _LINE, _value)


def read_meminfo(root: Path) -> KeyValues:
    path = root / facts.PROC_MEMINFO
    return parse_meminfo(path, read_text(path))
