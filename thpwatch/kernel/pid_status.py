"""/proc/<pid>/status: the per-process memory fields that need no page-table walk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from thpwatch.kernel import facts
from thpwatch.sources.base import KernelFileError

_KB_VALUE = re.compile(r"^\s*(?P<kb>\d+) kB\s*$")


def kb_field_bytes(value: str) -> int | None:
    """A /proc/<pid> field value such as "   2048 kB" in bytes; None if it is not that shape."""
    m = _KB_VALUE.match(value)
    return None if m is None else int(m["kb"]) * 1024


@dataclass(frozen=True)
class PidStatus:
    comm: str  # the Name: line (the task's comm, at most 15 characters)
    pagetable_bytes: int | None  # VmPTE; None for kernel threads (no mm)
    anon_rss_bytes: int | None  # RssAnon


def parse_status(text: str, origin: str) -> PidStatus:
    """Raises KernelFileError (naming origin) when Name is missing or a kB field is not kB."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields[key] = value
    if "Name" not in fields:
        raise KernelFileError(origin, "no Name: line (truncated or not a status file)")

    def kb(key: str) -> int | None:
        if key not in fields:
            return None
        size = kb_field_bytes(fields[key])
        if size is None:
            raise KernelFileError(origin, f"{key} is {fields[key].strip()!r}, not a size in kB")
        return size

    comm = fields["Name"].strip("\t\n")
    return PidStatus(comm, kb(facts.STATUS_VMPTE), kb(facts.STATUS_RSS_ANON))
