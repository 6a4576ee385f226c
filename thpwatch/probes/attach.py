"""Attaching compiled programs, one state per probe: which probes the kernel can have at all,
and the steps that attach each (a tracepoint; a function's entry and exit, as fentry/fexit or
kprobe/kretprobe)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thpwatch.probes.errors import (
    captured_stderr,
    clear_errno,
    errno_name,
    last_errno,
    state_for_errno,
)
from thpwatch.probes.group import ProbeSpec
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.snapshot import SourceStatus, State, labels_of


@dataclass
class ProbeState:
    spec: ProbeSpec
    state: State = State.ERROR
    reason: str = "not attached yet"
    method: str = ""
    detail: dict[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()  # what attaches: the spec's, or the alternative the kernel has

    def __post_init__(self) -> None:
        self.targets = self.targets or self.spec.targets

    def status(self) -> SourceStatus:
        detail = {"group": self.spec.group, "method": self.method, **self.detail}
        return SourceStatus(
            self.spec.name,
            "probe",
            self.state,
            self.reason,
            detail=labels_of({k: v for k, v in detail.items() if v}),
        )


def mark_absent(
    states: list[ProbeState], exists: Callable[[str], bool], where: str
) -> list[ProbeState]:
    """Mark probes whose targets the kernel lacks absent; return the others."""
    present = []
    for st in states:
        missing = [t for t in st.targets if not exists(t)]
        if missing:
            st.state = State.ABSENT
            names = dict.fromkeys((*missing, *st.spec.alternatives))
            st.reason = f"{st.spec.kind} {', '.join(names)} {where}"
        else:
            present.append(st)
    return present


def resolve_targets(spec: ProbeSpec, functions: dict[str, KernelFunction]) -> tuple[str, ...]:
    """spec.targets, or the first of its alternatives this kernel has when they are missing."""
    if all(functions[t].present for t in spec.targets):
        return spec.targets
    return next(((alt,) for alt in spec.alternatives if functions[alt].present), spec.targets)


Step = Callable[[], None]


def run_steps(st: ProbeState, steps: list[Step]) -> None:
    """Attach a probe step by step: ok when all succeed, else the state and reason of the first
    that failed (blocked for a refusal such as EPERM, absent for NotAttachable)."""
    messages: list[str] = []
    for step in steps:
        clear_errno()
        try:
            with captured_stderr(messages):
                step()
        except NotAttachable as e:
            st.state, st.reason = State.ABSENT, str(e)
            return
        except Exception as e:
            code = last_errno()
            said = messages[-1] if messages else str(e)
            st.state = state_for_errno(code) if code else State.ERROR
            st.reason = f"{errno_name(code)}: {said}" if code else said
            return
    st.state, st.reason = State.OK, ""


def attach_tracepoint(bpf: Any, tp: str) -> None:
    system, _, event = tp.partition(":")
    bpf.attach_tracepoint(tp=tp.encode(), fn_name=f"tracepoint__{system}__{event}".encode())


class FunctionAttacher:
    """Attaches function programs of one compiled object, each (function, entry|exit) once:
    a program shared by two probes (__split_huge_pmd's entry) is attached by the first."""

    def __init__(self, bpf: Any, functions: dict[str, KernelFunction], method: str) -> None:
        self.bpf, self.functions, self.method = bpf, functions, method
        self.done: set[str] = set()

    def step(self, fn: str, exit_: bool) -> Step:
        return lambda: self.attach(fn, exit_)

    def attach(self, fn: str, exit_: bool) -> None:
        key = f"{fn}/{'exit' if exit_ else 'entry'}"
        if key in self.done:
            return
        if self.method == "fentry":
            if exit_:
                self.bpf.attach_kretfunc(fn_name=fn.encode())
            else:
                self.bpf.attach_kfunc(fn_name=fn.encode())
        else:
            symbol = (self.functions[fn].kprobe_symbol or fn).encode()
            if exit_:
                self.bpf.attach_kretprobe(event=symbol, fn_name=f"thpw_exit__{fn}".encode())
            else:
                self.bpf.attach_kprobe(event=symbol, fn_name=f"thpw_entry__{fn}".encode())
        self.done.add(key)

    def not_attachable(self, fn: str) -> Step:
        need = "BTF" if self.method == "fentry" else "/proc/kallsyms"

        def refuse() -> None:
            raise NotAttachable(f"{fn}: not in {need}, which {self.method} needs")

        return refuse


class NotAttachable(Exception):
    pass
