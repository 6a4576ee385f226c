"""Compile and attach the BPF probes with bcc, one state per probe.

Two clang runs at most: one object for the tracepoint programs, one for the function probes
(fentry/fexit where the kernel allows it, else kprobe/kretprobe). Only what the kernel has is
compiled and attached: a tracepoint missing from tracefs or a function missing from BTF and
kallsyms makes its probe `absent`; a refused attach makes it `blocked` (with the errno); anything
else that fails makes it `error` with the message. The parts: program.py (text and flags),
compiler.py, attach.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thpwatch.probes.attach import (
    FunctionAttacher,
    ProbeState,
    Step,
    attach_tracepoint,
    mark_absent,
    resolve_targets,
    run_steps,
)
from thpwatch.probes.bcc import BccEnv, BpfUnavailable, bcc_env
from thpwatch.probes.capabilities import detect_capabilities
from thpwatch.probes.compiler import CompileFailed, compile_program, release_compiler_memory
from thpwatch.probes.handoff import LoadedObject, export_bcc
from thpwatch.probes.kernel_functions import KernelFunction, kernel_functions
from thpwatch.probes.program import (
    BPF_DIR,
    common_cflags,
    function_cflags,
    program_text,
    tracepoint_define,
)
from thpwatch.probes.specs import DEFAULT_GROUPS, check_groups, probes_of
from thpwatch.probes.tracefs import event_exists
from thpwatch.snapshot import SourceStatus, State


class ProbeSet:
    """The probes of some groups, compiled and attached together (decode.read_maps(objects) reads
    their maps).

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
    def _open_tracepoints(self, env: BccEnv, tracefs: Path, states: list[ProbeState]) -> None:
        present = mark_absent(states, lambda tp: event_exists(tracefs, tp), "not in tracefs")
        if not present:
            return
        flags = common_cflags(self.groups, self.pid, self.bpf_dir)
        flags += [tracepoint_define(tp) for st in present for tp in st.spec.targets]
        bpf = self._compile(env, flags, present)
        if bpf is None:
            return
        for st in present:
            st.method = "tracepoint"
            run_steps(st, [lambda tp=tp: attach_tracepoint(bpf, tp) for tp in st.spec.targets])

    # -- functions ------------------------------------------------------------------------------
    def _open_functions(self, env: BccEnv, states: list[ProbeState]) -> None:
        self.functions = kernel_functions(fn for st in states for fn in st.spec.functions)
        for st in states:
            st.targets = resolve_targets(st.spec, self.functions)
        present = mark_absent(
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
        bpf = self._compile(env, flags, present)
        if bpf is None:
            return
        attacher = FunctionAttacher(bpf, self.functions, method)
        usable_names = {fn.name for fn in usable}
        for st in present:
            st.method = method
            steps: list[Step] = []
            for fn in st.targets:
                if fn not in usable_names:
                    steps.append(attacher.not_attachable(fn))
                    continue
                steps.append(attacher.step(fn, exit_=False))
                if st.spec.returns:
                    steps.append(attacher.step(fn, exit_=True))
            for fn in st.spec.helpers:
                if fn in usable_names:
                    steps.append(attacher.step(fn, exit_=False))
                else:
                    st.detail["without"] = fn
            info = self.functions[st.targets[0]]
            if st.targets != st.spec.targets:
                st.detail["function"] = info.name  # this kernel's name for it
            st.detail["returns"] = info.returns or "unknown (no BTF)"
            if method == "kprobe" and info.kprobe_symbol not in (None, info.name):
                st.detail["symbol"] = str(info.kprobe_symbol)  # a compiler clone
            run_steps(st, steps)

    # -- shared ---------------------------------------------------------------------------------
    def _compile(self, env: BccEnv, flags: list[str], states: list[ProbeState]) -> Any:
        """The compiled object of the states' probes, or None with each of them in error."""
        text = program_text([st.spec for st in states], self.bpf_dir)
        try:
            bpf = compile_program(env, text, flags)
        except CompileFailed as e:
            for st in states:
                st.state, st.reason = State.ERROR, f"compile failed: {e}"
            return None
        self.bcc_objects.append(bpf)
        return bpf
