"""/dev/kmsg records, and the THP facts the patched kernels print into the log.

A record is "prio,seq,usec,flags[,...];message\\n", followed by continuation lines that start
with a space (" KEY=value"). See Documentation/ABI/testing/dev-kmsg.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thpwatch.kernel import facts


@dataclass(frozen=True)
class KmsgRecord:
    level: int  # syslog level, 0 (emerg) .. 7 (debug)
    seq: int
    usec: int  # since boot
    message: str


def parse_record(line: str) -> KmsgRecord:
    """One record's first line. Raises ValueError saying what is wrong."""
    prefix, semicolon, message = line.partition(";")
    if not semicolon:
        raise ValueError(f"no ';' after the record prefix: {line[:80]!r}")
    parts = prefix.split(",")
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        raise ValueError(f"prefix is not 'prio,seq,usec,flags': {prefix[:80]!r}")
    return KmsgRecord(int(parts[0]) & 7, int(parts[1]), int(parts[2]), message.rstrip("\n"))


@dataclass
class KmsgFacts:
    """What the log has said so far about Reserved THP."""

    reserved_hpages: int | None = None  # boot line: reserved N/M PMD THP pageblocks (B bytes)
    requested_hpages: int | None = None
    pageblock_bytes: int | None = None
    param_errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (param, value)
    oom_leaked_lines: int = 0  # "Huh VM_FAULT_OOM leaked out to the #PF handler" (ratelimited)

    def add(self, message: str) -> None:
        boot = facts.KMSG_RESERVED_BOOT.search(message)
        if boot:
            self.reserved_hpages = int(boot["reserved"])
            self.requested_hpages = int(boot["requested"])
            self.pageblock_bytes = int(boot["bytes"])
            return
        for param, pattern in (
            (facts.CMDLINE_RESERVED_SIZE, facts.KMSG_UNSUPPORTED_SIZE),
            (facts.CMDLINE_RESERVED_NR, facts.KMSG_INVALID_NR),
        ):
            error = pattern.search(message)
            if error:
                key = (param, error["value"])
                self.param_errors[key] = self.param_errors.get(key, 0) + 1
                return
        if facts.KMSG_OOM_LEAKED.search(message):
            self.oom_leaked_lines += 1
