"""/proc/<pid>/status: the per-process memory fields that need no page-table walk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from thpwatch.kernel import facts
from thpwatch.sources.base import KernelFileError

_KB_VALUE = re.compile(r"^\s*(?P<kb>\d+) kB\s*$")


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
        m = _KB_VALUE.match(fields[key])
        if m is None:
            raise KernelFileError(origin, f"{key} is {fields[key].strip()!r}, not a size in kB")
        return int(m["kb"]) * 1024

    comm = fields["Name"].strip("\t\n")
    return PidStatus(comm, kb(facts.STATUS_VMPTE), kb(facts.STATUS_RSS_ANON))
