"""tracefs: make sure it is mounted, and read event formats (which events exist, their fields,
and the names __print_symbolic() gives a field's values)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from thpwatch.kernel import facts

TRACEFS = Path("/") / facts.TRACEFS
DEBUGFS_TRACING = Path("/") / facts.DEBUGFS_TRACING


class TracefsUnavailable(Exception):
    """tracefs is not mounted and could not be mounted; the message says why."""


def tracefs_root() -> Path:
    """The mounted tracefs, mounting it at /sys/kernel/tracing if needed."""
    for root in (TRACEFS, DEBUGFS_TRACING):
        if (root / "events").is_dir():
            return root
    if not TRACEFS.is_dir():
        raise TracefsUnavailable(f"{TRACEFS} does not exist (kernel without tracefs)")
    done = subprocess.run(
        ["mount", "-t", "tracefs", "nodev", str(TRACEFS)], capture_output=True, text=True
    )
    if done.returncode != 0 or not (TRACEFS / "events").is_dir():
        why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise TracefsUnavailable(f"tracefs not mounted and `mount -t tracefs` failed: {why}")
    return TRACEFS


def event_dir(root: Path, tracepoint: str) -> Path:
    """`kmem:mm_page_alloc` -> <root>/events/kmem/mm_page_alloc."""
    system, _, event = tracepoint.partition(":")
    return root / "events" / system / event


def event_exists(root: Path, tracepoint: str) -> bool:
    return (event_dir(root, tracepoint) / "format").is_file()


_SYMBOLIC = re.compile(r"__print_symbolic\(REC->(?P<field>\w+),(?P<pairs>.*?)\)(?:,|$)", re.S)
_PAIR = re.compile(r"\{\s*(-?\d+)\s*,\s*\"([^\"]*)\"\s*\}")


def symbolic_names(format_text: str, field: str) -> dict[int, str]:
    """Value -> name from the `__print_symbolic(REC-><field>, {0, "failed"}, ...)` of a print
    format; {} when the format does not name that field's values."""
    for m in _SYMBOLIC.finditer(format_text):
        if m.group("field") == field:
            return {int(v): name for v, name in _PAIR.findall(m.group("pairs"))}
    return {}
