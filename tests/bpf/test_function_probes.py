"""Function probes (fentry/fexit, else kprobe/kretprobe).

Everywhere: the function-probe BPF source compiles for both attach methods and both split
prototypes (void and int), and as kprobe programs every one of them passes the kernel verifier;
on a host that refuses function probes each one reports blocked/absent with the reason.
Marked `funcprobes`: attach and cross-check on a kernel that allows them (VM lane); deselected
on a host that refuses both fentry and kprobe (see tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require

from thpwatch import swapdev, workload
from thpwatch.kernel import facts
from thpwatch.kernel.vmstat import read_vmstat
from thpwatch.probes.bcc import bcc_env
from thpwatch.probes.capabilities import detect_capabilities
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.program import BPF_DIR, common_cflags, function_cflags, program_text
from thpwatch.probes.source import BpfSource
from thpwatch.probes.specs import FUNCTION_PROBES, GROUPS
from thpwatch.sampler import run_source
from thpwatch.snapshot import Histogram, Sample, State

pytestmark = pytest.mark.bpf
FUNCTION_GROUPS = ("faults", "faults_any", "swapin", "splits", "reserved")


def every_function(returns: str) -> list[KernelFunction]:
    names = {fn for p in FUNCTION_PROBES for fn in p.functions}
    return [KernelFunction(n, True, (n,), 4, returns) for n in sorted(names)]


@pytest.mark.parametrize("returns", ["void", "int"])
@pytest.mark.parametrize("method", ["fentry", "kprobe"])
def test_function_probe_source_compiles(bpf_ready: None, method: str, returns: str) -> None:
    """Compiled, not attached. As kprobe programs they are also loaded: the verifier accepts
    every one (loading needs no attach point, so this works where kprobes cannot attach)."""
    import bcc

    env = bcc_env()
    flags = common_cflags(GROUPS, None, BPF_DIR) + function_cflags(every_function(returns), method)
    bpf = env.bpf_class(text=program_text(FUNCTION_PROBES).encode(), cflags=flags)
    try:
        names = [
            bcc.lib.bpf_function_name(bpf.module, i).decode()
            for i in range(bcc.lib.bpf_num_functions(bpf.module))
        ]
        prefix = (
            ("kfunc__", "kretfunc__") if method == "fentry" else ("thpw_entry__", "thpw_exit__")
        )
        # an entry program for every function, an exit program for every timed one
        assert {n for n in names if n.startswith(prefix[0])} == {
            prefix[0] + fn for p in FUNCTION_PROBES for fn in p.functions
        }
        assert {n for n in names if n.startswith(prefix[1])} == {
            prefix[1] + t
            for p in FUNCTION_PROBES
            if p.returns
            for t in (*p.targets, *p.alternatives)
        }
        if method == "kprobe":
            for n in names:
                assert bpf.load_func(n.encode(), bcc.BPF.KPROBE).fd >= 0, n
    finally:
        bpf.cleanup()


def test_function_probes_report_blocked_or_absent_here(bpf_ready: None) -> None:
    caps = detect_capabilities()
    require(caps.function_method is None, "this kernel allows function probes (not the host)")
    with ProbeSet(groups=FUNCTION_GROUPS) as ps:
        assert len(ps.states) == len(FUNCTION_PROBES)
        for st in ps.states.values():
            assert st.state in (State.BLOCKED, State.ABSENT), (st.spec.name, st.state)
            if st.state is State.BLOCKED:
                assert "EPERM" in st.reason and "kprobe" in st.reason, st.reason
            else:
                assert "not in BTF nor /proc/kallsyms" in st.reason or "ENOENT" in st.reason
        assert ps.objects == []  # nothing compiled for probes that cannot attach


# -- on a kernel that allows function probes --------------------------------------------------


@pytest.fixture(scope="module")
def source(bpf_ready: None) -> Iterator[BpfSource]:
    caps = detect_capabilities()
    require(caps.function_method, f"function probes refused: {caps.function_refusal()}")
    src = BpfSource(groups=("faults", "swapin", "splits", "reserved"), pid=os.getpid())
    run_source(src)
    yield src
    src.close()


def collect(src: BpfSource) -> dict[tuple[str, tuple[tuple[str, str], ...]], Sample]:
    samples, _ = run_source(src)
    return {(s.name, s.labels): s for s in samples}


def value(samples: dict, name: str, **labels: str) -> float:
    s = samples.get((name, tuple(sorted(labels.items()))))
    if s is None:
        return 0.0
    return float(s.value.count if isinstance(s.value, Histogram) else s.value)


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def attached(src: BpfSource, probe: str) -> bool:
    st = src.probes.states[probe]
    require(st.state is not State.ABSENT, f"{probe}: {st.reason}")
    assert st.state is State.OK, f"{probe}: {st.state} {st.reason}"
    return True


@pytest.mark.funcprobes
def test_pmd_fault_probe_counts_every_thp_fault(source: BpfSource) -> None:
    attached(source, facts.FN_DO_HUGE_PMD_ANON)
    before = collect(source)
    did = workload.thp_faults(count=32)
    after = collect(source)
    ok = delta(after, before, "thpwatch_faults_total", fault="pmd_anon", outcome="ok")
    assert ok >= did.counts["thps"]  # >=: with THP "always", the interpreter may fault some too
    # every attempt that did not end in VM_FAULT_RETRY is timed
    timed = delta(after, before, "thpwatch_fault_seconds", fault="pmd_anon")
    retries = delta(after, before, "thpwatch_faults_total", fault="pmd_anon", outcome="retry")
    attempts = sum(
        delta(after, before, "thpwatch_faults_total", fault="pmd_anon", outcome=o)
        for o in ("ok", "fallback", "oom", "sigbus", "error", "major", "retry")
    )
    assert timed == attempts - retries


@pytest.mark.funcprobes
def test_split_probes_see_the_kernels_splits(source: BpfSource) -> None:
    attached(source, facts.FN_SPLIT_HUGE_PMD)
    attached(source, facts.FN_SPLIT_HUGE_PAGE)
    vm0 = read_vmstat(Path("/"))
    before = collect(source)
    did = workload.split_thps(count=8)
    after = collect(source)
    vm1 = read_vmstat(Path("/"))
    assert vm1.get("thp_split_pmd") - vm0.get("thp_split_pmd") >= did.counts["pmd_splits"]
    pmd = sum(
        delta(after, before, "thpwatch_splits_total", level="pmd", result=r)
        for r in ("returned", "ok")
    )
    assert pmd >= did.counts["pmd_splits"], "__split_huge_pmd probe silent (see KERNEL §3)"
    folio_ok = delta(after, before, "thpwatch_splits_total", level="folio", result="ok")
    assert folio_ok >= did.counts["folio_splits"]
    assert delta(after, before, "thpwatch_split_seconds", level="folio") >= folio_ok


@pytest.mark.funcprobes
def test_swapin_is_visible_in_probe_and_kernel(source: BpfSource) -> None:
    attached(source, facts.FN_DO_SWAP_PAGE)
    with swapdev.temporary_swap():
        vm0 = read_vmstat(Path("/"))
        before = collect(source)
        workload.pageout_retouch(thps=8)
        after = collect(source)
        vm1 = read_vmstat(Path("/"))
    assert vm1.get("pswpin") > vm0.get("pswpin")
    swapins = sum(
        delta(after, before, "thpwatch_faults_total", fault=f, outcome=o)
        for f in ("pte_swapin", "pmd_swapin")
        for o in ("ok", "major")
    )
    assert swapins > 0


@pytest.mark.funcprobes
def test_reserved_charge_counts_hpages(source: BpfSource) -> None:
    attached(source, facts.FN_RESERVED_THP_CHARGE)
    before = collect(source)
    did = workload.reserved_thp(hpages=2)
    after = collect(source)
    ok_calls = did.madvise_calls.get(("reserved_thp", "ok"), 0)
    require(ok_calls, f"no reserved-THP quota here: {did.madvise_calls}")
    assert delta(after, before, "thpwatch_reserved_thp_charge_total", result="ok") >= 1
    assert delta(after, before, "thpwatch_reserved_thp_charge_hpages_total", result="ok") >= 2


@pytest.mark.funcprobes
def test_handle_mm_fault_probe_counts_every_fault(bpf_ready: None) -> None:
    """The opt-in faults_any group: each 4 KiB page this process touches faults through
    handle_mm_fault, which also counts every call (every process) in vmstat pgfault."""
    caps = detect_capabilities()
    require(caps.function_method, f"function probes refused: {caps.function_refusal()}")
    src = BpfSource(groups=("faults_any",), pid=os.getpid())
    try:
        run_source(src)
        attached(src, facts.FN_HANDLE_MM_FAULT)
        vm0 = read_vmstat(Path("/"))
        before = collect(src)
        did = workload.small_fault_storm(pages=4096)
        after = collect(src)
        vm1 = read_vmstat(Path("/"))
    finally:
        src.close()
    faults = sum(
        delta(after, before, "thpwatch_faults_total", fault="any", outcome=o)
        for o in ("ok", "fallback", "oom", "sigbus", "error", "major", "retry")
    )
    assert did.counts["pages"] <= faults <= vm1.get("pgfault") - vm0.get("pgfault")
    assert delta(after, before, "thpwatch_fault_seconds", fault="any") > 0


@pytest.mark.funcprobes
def test_crosscheck_of_function_probes_against_kernel_counters(bpf_ready: None) -> None:
    """Without a process filter: THP faults and splits move the kernel counters and the probes
    alike; no probe is silent and the pmd_fault/split checks agree."""
    caps = detect_capabilities()
    require(caps.function_method, f"function probes refused: {caps.function_refusal()}")
    src = BpfSource(groups=("faults", "splits"))
    try:
        run_source(src)
        run_source(src)
        workload.split_thps(count=8)
        samples, statuses = run_source(src)
    finally:
        src.close()
    checks = {
        s.label("check"): s.value
        for s in samples
        if s.name == "thpwatch_crosscheck_disagreement_ratio"
    }
    assert checks.get("pmd_fault") == 0 and checks.get("split_pmd") == 0, checks
    silent = [s for s in statuses if dict(s.detail).get("silent")]
    assert silent == [], [(s.name, s.reason) for s in silent]


@pytest.mark.funcprobes
@pytest.mark.parametrize("group", FUNCTION_GROUPS)
def test_each_function_group_attaches_alone(bpf_ready: None, group: str) -> None:
    caps = detect_capabilities()
    require(caps.function_method, f"function probes refused: {caps.function_refusal()}")
    with ProbeSet(groups=(group,)) as ps:
        states = {st.state for st in ps.states.values()}
        assert State.OK in states or states == {State.ABSENT}, group
        for st in ps.states.values():
            assert st.state in (State.OK, State.ABSENT), (st.spec.name, st.reason)
            if st.state is State.OK:
                assert st.method == caps.function_method
