"""Which BPF attach types work on this kernel, tried for real: tracepoint, raw tracepoint,
fentry and kprobe, each with the errno it failed with. One clang run for all four."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cache

from thpwatch.kernel import facts
from thpwatch.probes.bcc import BpfUnavailable, bcc_env
from thpwatch.probes.errors import (
    captured_stderr,
    clear_errno,
    errno_name,
    last_errno,
    state_for_errno,
)
from thpwatch.probes.group import tracepoint
from thpwatch.snapshot import State

ATTACH_TYPES = ("tracepoint", "raw_tracepoint", "fentry", "kprobe")
# THPWATCH_FORCE_KPROBES=1: function probes use kprobe/kretprobe even where fentry works, so the
# kprobe path is exercised on kernels that have both (the VM lane runs its tests both ways).
FORCE_KPROBES_ENV = "THPWATCH_FORCE_KPROBES"
_TP = facts.TP_MM_PAGE_ALLOC
_FN = facts.FN_HANDLE_MM_FAULT  # in every kernel, in BTF and kallsyms
_PROGRAMS = f"""
TRACEPOINT_PROBE({_TP[0]}, {_TP[1]}) {{ return 0; }}
RAW_TRACEPOINT_PROBE({_TP[1]}) {{ return 0; }}
KFUNC_PROBE({_FN}) {{ return 0; }}
int cap_kprobe(struct pt_regs *ctx) {{ return 0; }}
"""


@dataclass(frozen=True)
class Attempt:
    attach_type: str
    state: State  # OK when it attached
    errno: int | None
    reason: str

    @property
    def works(self) -> bool:
        return self.state is State.OK


@dataclass(frozen=True)
class Capabilities:
    attempts: tuple[Attempt, ...]
    headers: str  # which kernel headers bcc compiled against ("" when it did not get that far)
    tracefs: str

    def get(self, attach_type: str) -> Attempt:
        return next(a for a in self.attempts if a.attach_type == attach_type)

    @property
    def function_method(self) -> str | None:
        """How function probes attach here: "fentry", else "kprobe", else None
        (only "kprobe" is considered when THPWATCH_FORCE_KPROBES=1)."""
        forced = os.environ.get(FORCE_KPROBES_ENV) == "1"
        for method in ("kprobe",) if forced else ("fentry", "kprobe"):
            if self.get(method).works:
                return method
        return None

    def function_refusal(self) -> str:
        """Why no function probe can attach (fentry's and kprobe's errors)."""
        return "; ".join(f"{m}: {self.get(m).reason}" for m in ("fentry", "kprobe"))


def _failed(attach_type: str, error: Exception, messages: list[str]) -> Attempt:
    code = last_errno()
    detail = messages[-1] if messages else str(error)
    name = errno_name(code) if code else "no errno"
    return Attempt(attach_type, state_for_errno(code), code or None, f"{name}: {detail}")


@cache
def detect_capabilities() -> Capabilities:
    """Try each attach type once per process (attach, then detach at once)."""
    try:
        env = bcc_env()
    except BpfUnavailable as e:
        return Capabilities(
            tuple(Attempt(t, e.state, None, e.reason) for t in ATTACH_TYPES), "", ""
        )
    messages: list[str] = []
    try:
        with captured_stderr(messages):
            bpf = env.bpf_class(text=_PROGRAMS.encode())
    except Exception as e:
        reason = f"compiling the capability probes failed: {messages[-5:] or e}"
        return Capabilities(
            tuple(Attempt(t, State.ERROR, None, reason) for t in ATTACH_TYPES),
            env.headers.detail,
            env.tracefs,
        )
    tries = {
        "tracepoint": lambda: bpf.attach_tracepoint(
            tp=tracepoint(_TP).encode(), fn_name=f"tracepoint__{_TP[0]}__{_TP[1]}".encode()
        ),
        "raw_tracepoint": lambda: bpf.attach_raw_tracepoint(
            tp=_TP[1].encode(), fn_name=f"raw_tracepoint__{_TP[1]}".encode()
        ),
        "fentry": lambda: bpf.attach_kfunc(fn_name=_FN.encode()),
        "kprobe": lambda: bpf.attach_kprobe(event=_FN.encode(), fn_name=b"cap_kprobe"),
    }
    attempts = []
    for attach_type, attach in tries.items():
        messages.clear()
        clear_errno()
        try:
            with captured_stderr(messages):
                attach()
            attempts.append(Attempt(attach_type, State.OK, None, "attached"))
        except Exception as e:
            attempts.append(_failed(attach_type, e, messages))
    with contextlib.suppress(Exception):
        bpf.cleanup()
    return Capabilities(tuple(attempts), env.headers.detail, env.tracefs)
