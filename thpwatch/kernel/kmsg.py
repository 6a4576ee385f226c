"""/dev/kmsg records, and the THP facts the patched kernels print into the log.

A record is "prio,seq,usec,flags[,...];message\\n", followed by continuation lines that start
with a space (" KEY=value"). See Documentation/ABI/testing/dev-kmsg.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thpwatch.kernel import facts
from thpwatch.kernel.text import U64_MAX


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
    if len(parts) < 4 or not all(p.isascii() and p.isdigit() for p in parts[:3]):
        raise ValueError(f"prefix is not 'prio,seq,usec,flags': {prefix[:80]!r}")
    prio, seq, usec = (_u64(p) for p in parts[:3])
    return KmsgRecord(prio & 7, seq, usec, message.rstrip("\n"))


def _u64(digits: str) -> int:
    """A number the kernel printed: beyond 64 bits it did not (ValueError)."""
    if len(digits) > 20 or int(digits) > U64_MAX:
        raise ValueError(f"a number beyond 64 bits: {digits[:40]}...")
    return int(digits)


@dataclass
class KmsgFacts:
    """What the log has said so far about Reserved THP."""

    reserved_hpages: int | None = None  # boot line: reserved N/M PMD THP pageblocks (B bytes)
    requested_hpages: int | None = None
    pageblock_bytes: int | None = None
    param_errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (param, value)
    oom_leaked_lines: int = 0  # "Huh VM_FAULT_OOM leaked out to the #PF handler" (ratelimited)

    def add(self, message: str) -> None:
        """Take what one message says; ValueError for a number no kernel prints."""
        boot = facts.KMSG_RESERVED_BOOT.search(message)
        if boot:
            self.reserved_hpages = _u64(boot["reserved"])
            self.requested_hpages = _u64(boot["requested"])
            self.pageblock_bytes = _u64(boot["bytes"])
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
