"""Reading one-value kernel files (sysfs) and the shapes they print, with errors naming the file.

FileNotFoundError and PermissionError pass through untouched: whether a missing file means
"the kernel lacks it" or "the file is broken" is the caller's call. Content that cannot be
parsed raises KernelFileError(path, reason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.sources.base import KernelFileError


def read_text(path: Path) -> str:
    """The whole file as text (kernel files are ASCII; stray bytes are kept visible)."""
    return path.read_bytes().decode("ascii", errors="backslashreplace")


def read_required(path: Path) -> str:
    """read_text for a file that must exist because its directory does."""
    try:
        return read_text(path)
    except FileNotFoundError:
        raise KernelFileError(path, "missing (its directory exists)") from None


def parse_decimal(path: Path | str, text: str) -> int:
    """A sysfs number: one line holding one non-negative decimal integer."""
    value = text.strip()
    if not text.endswith("\n") and text:
        # sysfs_emit always ends with a newline: without it the read was cut short.
        raise KernelFileError(path, f"truncated (no newline after {value!r})")
    if not value.isascii() or not value.isdigit():
        shown = value if value else "empty file"
        raise KernelFileError(path, f"line 1: expected a decimal number, got {shown!r}")
    return int(value)


def read_decimal(path: Path) -> int:
    return parse_decimal(path, read_required(path))


@dataclass(frozen=True)
class Mode:
    """A sysfs mode file such as `always [madvise] never`: every choice, and the current one."""

    current: str
    choices: tuple[str, ...]


def parse_mode(path: Path | str, text: str) -> Mode:
    words = text.split()
    current = [w[1:-1] for w in words if w.startswith("[") and w.endswith("]")]
    if len(current) != 1 or not text.endswith("\n"):
        shown = text.strip() or "empty file"
        raise KernelFileError(path, f"line 1: expected choices with one [current], got {shown!r}")
    return Mode(current[0], tuple(w.strip("[]") for w in words))


def read_mode(path: Path) -> Mode:
    return parse_mode(path, read_required(path))


def is_metric_word(name: str) -> bool:
    """A file or field name usable inside a metric name as-is (lowercase, digits, underscore)."""
    return (
        bool(name) and name.isascii() and all(c.islower() or c.isdigit() or c == "_" for c in name)
    )


@dataclass(frozen=True)
class KeyValues:
    """A `name value` proc file: the values in file order, and the lines that could not be read."""

    values: tuple[tuple[str, int], ...]
    problems: tuple[str, ...]

    def get(self, name: str) -> int | None:
        return dict(self.values).get(name)


def parse_lines(
    path: Path | str, text: str, line: re.Pattern[str], value: Callable[[re.Match[str]], int]
) -> KeyValues:
    """Every line matching `line` becomes (name, value(match)); any other line is a problem
    naming its number, and the rest are kept. A last line without newline was cut short."""
    if not text.strip():
        raise KernelFileError(path, "empty file")
    lines = text.split("\n")
    values, problems = [], []
    if lines.pop() != "":
        problems.append(f"{path}: line {len(lines) + 1}: truncated (no newline), ignored")
    for number, text_line in enumerate(lines, 1):
        m = line.fullmatch(text_line.strip())
        if m is None:
            problems.append(f"{path}: line {number}: cannot parse {text_line[:60]!r}")
        else:
            values.append((m["name"], value(m)))
    return KeyValues(tuple(values), tuple(problems))
