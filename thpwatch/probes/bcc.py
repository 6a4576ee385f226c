"""Getting a usable bcc: tracefs mounted first (bcc reads its path at import), kernel headers
found and applied, root. Everything that can be missing becomes a BpfUnavailable with a state."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from thpwatch.probes.headers import Headers, HeadersMissing, find_headers
from thpwatch.probes.tracefs import TracefsUnavailable, tracefs_root
from thpwatch.snapshot import State

log = logging.getLogger(__name__)


class BpfUnavailable(Exception):
    def __init__(self, state: State, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


@dataclass(frozen=True)
class BccEnv:
    bpf_class: Any  # a bcc.BPF subclass that never auto-attaches
    tracefs: str
    headers: Headers


@cache
def bcc_env() -> BccEnv:
    """Prepare bcc once per process; raises BpfUnavailable naming what is missing."""
    if os.geteuid() != 0:
        raise BpfUnavailable(State.BLOCKED, "BPF probes need root (CAP_BPF + CAP_PERFMON)")
    try:
        root = tracefs_root()
    except TracefsUnavailable as e:
        raise BpfUnavailable(State.BLOCKED, str(e)) from None
    try:
        headers = find_headers()
    except (HeadersMissing, OSError) as e:
        # Not "absent": the kernel has BPF; the host lost its headers (a kernel update without
        # them, a sandbox hiding /lib/modules) and thpwatch, whose job is BPF, counts nothing.
        reason = (
            f"BPF probes cannot be compiled: {e}; install the headers of the running kernel "
            "(Debian: linux-headers-$(uname -r)) or make /lib/modules readable to thpwatch"
        )
        log.warning("%s", reason)
        raise BpfUnavailable(State.ERROR, reason) from None
    headers.apply()
    try:
        from bcc import BPF
    except ImportError as e:
        raise BpfUnavailable(
            State.ABSENT,
            f"bcc Python module not importable ({e}); on Debian: apt-get install python3-bpfcc "
            "and run thpwatch with /usr/bin/python3 or a venv with system site packages",
        ) from None

    class ManualBPF(BPF):  # type: ignore[misc,valid-type]
        """bcc attaches kfunc__/tracepoint__-named programs at construction, all or nothing;
        thpwatch attaches each program itself to report a state per probe."""

        def _trace_autoload(self) -> None:
            pass

    return BccEnv(ManualBPF, str(root), headers)
