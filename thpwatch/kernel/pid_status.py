"""/proc/<pid>/status: the per-process memory fields that need no page-table walk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import U64_MAX, label_text, shown

_KB_VALUE = re.compile(r"^\s*(?P<kb>\d+) kB\s*$")


def kb_field_bytes(value: str) -> int | None:
    """A /proc/<pid> field value such as "   2048 kB" in bytes; None if it is not that shape
    or beyond 64 bits (no kernel prints that)."""
    m = _KB_VALUE.match(value)
    if m is None or len(m["kb"]) > 20 or int(m["kb"]) > U64_MAX:
        return None
    return int(m["kb"]) * 1024


@dataclass(frozen=True)
class PidStatus:
    comm: str  # the Name: line (the task's comm, 15 bytes, any but NUL: escaped, capped)
    pagetable_bytes: int | None  # VmPTE; None for kernel threads (no mm)
    anon_rss_bytes: int | None  # RssAnon


def parse_status(text: str, origin: str) -> PidStatus:
    """Raises KernelFileError (naming origin) when Name is missing or a kB field is not kB."""
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key, colon, value = line.partition(":")
        if not colon:
            continue
        if key in fields:
            raise KernelFileError(origin, f"line {number}: a second {shown(key)} line")
        fields[key] = value
    if "Name" not in fields:
        raise KernelFileError(origin, "no Name: line (truncated or not a status file)")
    if not text.endswith("\n"):
        raise KernelFileError(origin, "truncated (no newline at the end)")

    def kb(key: str) -> int | None:
        if key not in fields:
            return None
        size = kb_field_bytes(fields[key])
        if size is None:
            raise KernelFileError(
                origin, f"{key} is {shown(fields[key].strip())}, not a size in kB"
            )
        return size

    comm = label_text(fields["Name"].strip("\t\n"))
    return PidStatus(comm, kb(facts.STATUS_VMPTE), kb(facts.STATUS_RSS_ANON))
