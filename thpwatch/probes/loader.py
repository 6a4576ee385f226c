"""Compile and attach the BPF probes with bcc, one state per probe.

Two clang runs at most: one object for the tracepoint programs, one for the function probes
(fentry/fexit where the kernel allows it, else kprobe/kretprobe). Only what the kernel has is
compiled and attached: a tracepoint missing from tracefs or a function missing from BTF and
kallsyms makes its probe `absent`; a refused attach makes it `blocked` (with the errno); anything
else that fails makes it `error` with the message.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thpwatch.kernel import facts
from thpwatch.probes.bcc import BpfUnavailable, bcc_env
from thpwatch.probes.capabilities import detect_capabilities
from thpwatch.probes.errors import (
    captured_stderr,
    clear_errno,
    errno_name,
    last_errno,
    state_for_errno,
)
from thpwatch.probes.handoff import LoadedObject, export_bcc
from thpwatch.probes.kernel_functions import KernelFunction, kernel_functions
from thpwatch.probes.specs import (
    DEFAULT_GROUPS,
    GROUPS,
    ProbeSpec,
    check_groups,
    probes_of,
)
from thpwatch.probes.tracefs import event_exists
from thpwatch.snapshot import SourceStatus, State, labels_of

BPF_DIR = Path(__file__).resolve().parent.parent / "bpf"  # thpwatch/bpf -> ../bpf in a checkout
MIN_ORDER = 2  # mm_page_alloc: orders below the smallest mTHP (16 KiB) are dropped at once
THP_ADVICE = tuple(facts.MADV_NAMES)


def tracepoint_define(tp: str) -> str:
    return "-DTHPW_HAVE_" + tp.replace(":", "__")


def common_cflags(groups: Iterable[str], pid: int | None, bpf_dir: Path) -> list[str]:
    madv = "||".join(f"((b)=={n})" for n in THP_ADVICE)
    flags = [
        f"-I{bpf_dir}",
        f"-DTHPW_MIN_ORDER={MIN_ORDER}",
        f"-DTHPW_GFP_RESERVED_THP={facts.GFP_RESERVED_THP:#x}",
        f"-DTHPW_VM_FAULT_RETRY={facts.VM_FAULT_RETRY:#x}",
        f"-DTHPW_VM_FAULT_MAJOR={facts.VM_FAULT_MAJOR:#x}",
        f"-DTHPW_VM_FAULT_NOT_MAPPED={facts.VM_FAULT_NOT_MAPPED:#x}",
        f"-DTHPW_MADV_WANTED(b)=({madv})",
    ]
    flags += [f"-DTHPW_GROUP_{g}" for g in groups]
    if pid is not None:
        flags.append(f"-DTHPW_TGID={int(pid)}")
    return flags


def function_cflags(functions: Iterable[KernelFunction], method: str) -> list[str]:
    flags = ["-DTHPW_FUNCTION_PROBES"]
    if method == "fentry":
        flags.append("-DTHPW_FENTRY")
    for fn in functions:
        flags += [
            f"-DTHPW_HAVE_{fn.name}",
            f"-DTHPW_NARGS_{fn.name}={fn.nargs}",
            f"-DTHPW_RET_INT_{fn.name}={int(fn.returns_value)}",
        ]
    return flags


_SNIPPET = re.compile(r'^#include "(?P<name>\w+\.inc)"$', re.M)


def program_text(probes: Iterable[ProbeSpec], bpf_dir: Path = BPF_DIR) -> str:
    """The group files, concatenated in GROUPS order, with `#include "x.inc"` snippets inlined:
    bcc generates tracepoint argument structs and rewrites map calls only in its main text."""
    files = dict.fromkeys(p.file for p in sorted(probes, key=lambda p: GROUPS.index(p.group)))
    text = "".join(f"/* {f} */\n" + (bpf_dir / f).read_text() for f in files)
    return _SNIPPET.sub(lambda m: (bpf_dir / m["name"]).read_text().rstrip("\n"), text)


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


def release_compiler_memory() -> None:
    """Give the heap that clang/LLVM left behind back to the kernel.

    bcc compiles in-process; glibc keeps the freed arenas, which measured about 40 MB of the
    daemon's resident memory for the rest of its life (bench/README.md)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim this way
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ProbeSet:
    """The probes of some groups, compiled and attached together; read() returns raw map data.

    groups: which concerns (see specs.GROUPS; default everything but the opt-in ones).
    pid: count only the events of that process where the event happens in process context
    (tests and the self-test use it to ignore other processes' work).
    helper: compile, load and attach in a short-lived child process (probes/helper.py) that
    hands over the file descriptors and exits, so clang/LLVM never stays in this process's
    memory (the daemon does this); otherwise bcc works in this process.

    objects: one LoadedObject (map and attachment fds) per compiled program text, either way.
    """

    def __init__(
        self,
        groups: Iterable[str] = DEFAULT_GROUPS,
        pid: int | None = None,
        bpf_dir: Path = BPF_DIR,
        helper: bool = False,
    ) -> None:
        self.groups = tuple(dict.fromkeys(groups))
        check_groups(self.groups)
        self.pid = pid
        self.bpf_dir = bpf_dir
        self.states = {p.name: ProbeState(p) for p in probes_of(self.groups)}
        self.helper = helper
        self.objects: list[LoadedObject] = []
        self.bcc_objects: list[Any] = []  # in-process only: the bcc.BPF objects behind objects
        self.functions: dict[str, KernelFunction] = {}
        self.opened = False
        self.headers = ""

    # -- life cycle -----------------------------------------------------------------------------
    def open(self) -> None:
        """Compile and attach everything this kernel allows; never raises for kernel reasons."""
        if self.opened:
            return
        self.opened = True
        if self.helper:
            from thpwatch.probes.helper import load_in_helper

            load_in_helper(self)
            return
        try:
            env = bcc_env()
        except BpfUnavailable as e:
            for st in self.states.values():
                st.state, st.reason = e.state, e.reason
            return
        self.headers = env.headers.detail
        tps = [s for s in self.states.values() if s.spec.kind == "tracepoint"]
        fns = [s for s in self.states.values() if s.spec.kind == "function"]
        if tps:
            self._open_tracepoints(env, Path(env.tracefs), tps)
        if fns:
            self._open_functions(env, fns)
        self.objects = [export_bcc(b) for b in self.bcc_objects]
        release_compiler_memory()

    def close(self) -> None:
        for obj in self.objects:
            obj.close()
        self.objects.clear()
        for bpf in self.bcc_objects:
            with contextlib.suppress(Exception):
                bpf.cleanup()
        self.bcc_objects.clear()

    def __enter__(self) -> ProbeSet:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def statuses(self) -> list[SourceStatus]:
        return [st.status() for st in self.states.values()]

    def function_of(self, probe: str) -> KernelFunction | None:
        """The kernel function a function probe watches (after resolving alternatives)."""
        st = self.states.get(probe)
        if st is None or st.spec.kind != "function":
            return None
        return self.functions.get(st.targets[0])

    def attached(self, probe: str) -> bool:
        st = self.states.get(probe)
        return st is not None and st.state is State.OK

    # -- tracepoints ----------------------------------------------------------------------------
    def _open_tracepoints(self, env: Any, tracefs: Path, states: list[ProbeState]) -> None:
        present = _mark_absent(states, lambda tp: event_exists(tracefs, tp), "not in tracefs")
        if not present:
            return
        flags = common_cflags(self.groups, self.pid, self.bpf_dir)
        flags += [tracepoint_define(tp) for st in present for tp in st.spec.targets]
        bpf = self._compile(env, [st.spec for st in present], flags, present)
        if bpf is None:
            return
        for st in present:
            st.method = "tracepoint"
            self._attach(st, [lambda tp=tp: _attach_tracepoint(bpf, tp) for tp in st.spec.targets])

    # -- functions ------------------------------------------------------------------------------
    def _open_functions(self, env: Any, states: list[ProbeState]) -> None:
        self.functions = kernel_functions(fn for st in states for fn in st.spec.functions)
        for st in states:
            st.targets = resolve_targets(st.spec, self.functions)
        present = _mark_absent(
            states, lambda fn: self.functions[fn].present, "not in BTF nor /proc/kallsyms"
        )
        if not present:
            return
        caps = detect_capabilities()
        method = caps.function_method
        if method is None:
            blocked = any(caps.get(m).state is State.BLOCKED for m in ("fentry", "kprobe"))
            for st in present:
                st.state = State.BLOCKED if blocked else State.ABSENT
                st.reason = f"no function probe can attach here: {caps.function_refusal()}"
            return
        wanted = {t for st in present for t in (*st.targets, *st.spec.helpers)}
        usable = [
            fn
            for fn in self.functions.values()
            if fn.name in wanted and (fn.in_btf if method == "fentry" else fn.kprobe_symbol)
        ]
        flags = common_cflags(self.groups, self.pid, self.bpf_dir) + function_cflags(usable, method)
        bpf = self._compile(env, [st.spec for st in present], flags, present)
        if bpf is None:
            return
        done: set[str] = set()  # programs shared by two probes are attached once
        usable_names = {fn.name for fn in usable}
        for st in present:
            st.method = method
            steps = []
            for fn in st.targets:
                if fn not in usable_names:
                    steps.append(lambda fn=fn: _not_attachable(fn, method))
                    continue
                steps.append(lambda fn=fn: self._attach_function(bpf, fn, method, False, done))
                if st.spec.returns:
                    steps.append(lambda fn=fn: self._attach_function(bpf, fn, method, True, done))
            for fn in st.spec.helpers:
                if fn in usable_names:
                    steps.append(lambda fn=fn: self._attach_function(bpf, fn, method, False, done))
                else:
                    st.detail["without"] = fn
            info = self.functions[st.targets[0]]
            if st.targets != st.spec.targets:
                st.detail["function"] = info.name  # this kernel's name for it
            st.detail["returns"] = info.returns or "unknown (no BTF)"
            if method == "kprobe" and info.kprobe_symbol not in (None, info.name):
                st.detail["symbol"] = str(info.kprobe_symbol)  # a compiler clone
            self._attach(st, steps)

    def _attach_function(self, bpf: Any, fn: str, method: str, exit_: bool, done: set[str]) -> None:
        key = f"{fn}/{'exit' if exit_ else 'entry'}"
        if key in done:
            return
        if method == "fentry":
            if exit_:
                bpf.attach_kretfunc(fn_name=fn.encode())
            else:
                bpf.attach_kfunc(fn_name=fn.encode())
        else:
            symbol = (self.functions[fn].kprobe_symbol or fn).encode()
            if exit_:
                bpf.attach_kretprobe(event=symbol, fn_name=f"thpw_exit__{fn}".encode())
            else:
                bpf.attach_kprobe(event=symbol, fn_name=f"thpw_entry__{fn}".encode())
        done.add(key)

    # -- shared ---------------------------------------------------------------------------------
    def _compile(
        self, env: Any, specs: list[ProbeSpec], flags: list[str], states: list[ProbeState]
    ) -> Any:
        messages: list[str] = []
        try:
            with captured_stderr(messages):
                bpf = env.bpf_class(text=program_text(specs, self.bpf_dir).encode(), cflags=flags)
        except Exception as e:
            errors = [m for m in messages if "error:" in m and len(m) < 400]
            tail = " | ".join(errors[:3]) or str(e)
            for st in states:
                st.state, st.reason = State.ERROR, f"compile failed: {tail}"
            return None
        self.bcc_objects.append(bpf)
        return bpf

    @staticmethod
    def _attach(st: ProbeState, steps: list[Any]) -> None:
        messages: list[str] = []
        for step in steps:
            clear_errno()
            try:
                with captured_stderr(messages):
                    step()
            except _NotAttachable as e:
                st.state, st.reason = State.ABSENT, str(e)
                return
            except Exception as e:
                code = last_errno()
                said = messages[-1] if messages else str(e)
                st.state = state_for_errno(code) if code else State.ERROR
                st.reason = f"{errno_name(code)}: {said}" if code else said
                return
        st.state, st.reason = State.OK, ""


def _mark_absent(
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


def _attach_tracepoint(bpf: Any, tp: str) -> None:
    system, _, event = tp.partition(":")
    bpf.attach_tracepoint(tp=tp.encode(), fn_name=f"tracepoint__{system}__{event}".encode())


class _NotAttachable(Exception):
    pass


def _not_attachable(fn: str, method: str) -> None:
    need = "BTF" if method == "fentry" else "/proc/kallsyms"
    raise _NotAttachable(f"{fn}: not in {need}, which {method} needs")
