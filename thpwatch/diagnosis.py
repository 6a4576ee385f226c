"""What `thpwatch doctor` finds: kernel features, BPF attach types, permissions, and advice.

Data only (rendered by thpwatch.commands.doctor). Every fact comes from a real attempt: the
feature evidence from files, the BPF attach types from thpwatch.probes.capabilities (which
loads and attaches a program of each type), the permissions from reading every source once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thpwatch.doctor_selftest import SelftestReport
from thpwatch.features import KernelReport, Presence, detect
from thpwatch.kernel.liveroot import is_live
from thpwatch.snapshot import Snapshot, SourceStatus, State
from thpwatch.sources.checks import CHECK_MEANINGS

# Severity of a finding, and the exit code it implies (see commands.common).
INFO, WARNING, ERROR, BLOCKED = "info", "warning", "error", "blocked"
NO_BPF, FIXTURE = "--no-bpf", "reading a fixture tree"


@dataclass(frozen=True)
class AttachType:
    """One BPF attach type, tried for real."""

    name: str  # tracepoint, raw_tracepoint, fentry, kprobe
    state: State  # OK when a program attached
    errno: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "works": self.state is State.OK,
            "state": self.state.value,
            "errno": self.errno,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BpfReport:
    attach_types: tuple[AttachType, ...]
    headers: str  # which kernel headers bcc compiles against, or why there are none
    tracefs: str
    skipped: str = ""  # why BPF was not tried at all (--no-bpf, --root, probes missing)

    def get(self, name: str) -> AttachType | None:
        return next((a for a in self.attach_types if a.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "tried": not self.skipped,
            "skipped": self.skipped,
            "attach_types": [a.to_json() for a in self.attach_types],
            "headers": self.headers,
            "tracefs": self.tracefs,
        }


def probe_bpf() -> BpfReport:
    """The one place doctor asks the probes package what attaches here (tried, not guessed).

    Expects thpwatch.probes.capabilities.detect_capabilities() -> an object with .attempts
    (each .attach_type, .state: State, .errno: int | None, .reason: str), .headers and .tracefs.
    """
    from thpwatch.probes.capabilities import detect_capabilities

    caps = detect_capabilities()
    return BpfReport(
        tuple(AttachType(a.attach_type, a.state, a.errno, a.reason) for a in caps.attempts),
        caps.headers,
        caps.tracefs,
    )


@dataclass(frozen=True)
class Finding:
    severity: str  # info, warning, error, blocked
    problem: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"severity": self.severity, "problem": self.problem, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    kernel: KernelReport
    bpf: BpfReport
    root_user: bool
    sources: tuple[SourceStatus, ...]
    findings: tuple[Finding, ...]
    selftest: SelftestReport | None = None  # only with doctor --selftest

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel.to_json(),
            "bpf": self.bpf.to_json(),
            "permissions": {"root": self.root_user, "euid": os.geteuid()},
            "sources": [s.to_json() for s in self.sources],
            "selftest": self.selftest.to_json() if self.selftest else None,
            "findings": [f.to_json() for f in self.findings],
        }


_SOURCE_FIXES = {
    "kmsg": "run as root, or give thpwatch CAP_SYSLOG (kernel.dmesg_restrict=1 hides the log)",
    "pagetypeinfo": "run as root: /proc/pagetypeinfo is mode 0400",
}


def _source_findings(statuses: Sequence[SourceStatus]) -> list[Finding]:
    found = []
    refused_probes = []
    for s in statuses:
        if s.state is State.BLOCKED and s.kind == "probe":
            refused_probes.append(s.name)
        elif s.state is State.BLOCKED:
            fix = _SOURCE_FIXES.get(s.name, "run thpwatch as root")
            found.append(Finding(BLOCKED, f"{s.name}: {s.reason}", fix))
        elif s.state is State.ERROR:
            fix = "the reason names the file or probe; if a real kernel produced it, report a bug"
            found.append(Finding(ERROR, f"{s.name}: {s.reason}", fix))
        elif s.state is State.ABSENT and s.reason and s.name == "procscan.smaps":
            fix = "per-process THP bytes come from status only; --process-smaps=on reads smaps"
            found.append(Finding(INFO, f"{s.name}: {s.reason}", fix))
    if refused_probes:
        fix = (
            "the kernel refuses their attach type (see the BPF attach types); the other probes work"
            if os.geteuid() == 0
            else "run thpwatch as root"
        )
        found.append(Finding(WARNING, "probes refused: " + ", ".join(refused_probes), fix))
    return found


def _bpf_findings(bpf: BpfReport) -> list[Finding]:
    if bpf.skipped:
        if bpf.skipped == NO_BPF:
            fix = "run without --no-bpf to try each attach type"
        elif bpf.skipped.startswith(FIXTURE):
            fix = "BPF observes the running kernel: run without --root"
        else:
            fix = "reinstall thpwatch (scripts/setup): its probes package is missing"
        return [Finding(INFO, f"BPF not tried: {bpf.skipped}", fix)]
    found = []
    works = [a.name for a in bpf.attach_types if a.state is State.OK]
    if not works:
        refused = "; ".join(f"{a.name}: {a.reason}" for a in bpf.attach_types)
        severity = BLOCKED if not bpf.attach_types or os.geteuid() != 0 else ERROR
        found.append(
            Finding(
                severity,
                f"no BPF program can attach: {refused}",
                "run as root; check `thpwatch doctor` headers and tracefs lines",
            )
        )
        return found
    fentry, kprobe = bpf.get("fentry"), bpf.get("kprobe")
    if fentry and kprobe and fentry.state is not State.OK and kprobe.state is not State.OK:
        found.append(
            Finding(
                WARNING,
                f"function probes cannot attach (fentry: {fentry.reason}; kprobe: "
                f"{kprobe.reason}): no fault latency, split, swap-in or reserved-charge probes",
                "tracepoint metrics still work; for function probes use a kernel that allows "
                "fentry (no lockdown/LSM refusal) or has CONFIG_KPROBES=y",
            )
        )
    tracefs_missing = "not mounted" in bpf.tracefs
    if tracefs_missing:
        found.append(
            Finding(
                WARNING, f"tracefs: {bpf.tracefs}", "mount -t tracefs nodev /sys/kernel/tracing"
            )
        )
    return found


def _kernel_findings(kernel: KernelReport) -> list[Finding]:
    found = []
    for f in kernel.series:
        says = {e.says for e in f.evidence}
        if {Presence.YES, Presence.NO} <= says:
            checks = "; ".join(f"{e.says.value}: {e.check}: {e.found}" for e in f.evidence)
            found.append(
                Finding(
                    WARNING,
                    f"evidence disagrees on {f.title} (taken as present): {checks}",
                    "a partial or broken port of the series? compare the kernel's patches",
                )
            )
        if f.present is Presence.UNKNOWN:
            checks = "; ".join(f"{e.check}: {e.found}" for e in f.evidence)
            found.append(
                Finding(
                    WARNING,
                    f"cannot tell whether the kernel has {f.title}: {checks}",
                    "run as root on a kernel with /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)",
                )
            )
    return found


def _kernel_state_findings(snap: Snapshot) -> list[Finding]:
    """What the kernel's own numbers say is wrong: failed consistency checks, boot parameters
    the kernel rejected, a pool smaller than asked for."""
    found = []
    for s in snap.series("thpwatch_check_violation"):
        if s.value != 1:
            continue
        check = s.label("check")
        meaning, fix = CHECK_MEANINGS.get(check, (check, "see docs for the check"))
        observed = snap.get("thpwatch_check_observed", check=check)
        limit = snap.get("thpwatch_check_limit", check=check)
        found.append(
            Finding(WARNING, f"{check} violated ({observed:g} vs {limit:g}): {meaning}", fix)
        )
    rejected = {s.label("param") for s in snap.series("thpwatch_kmsg_boot_param_errors")}
    for s in snap.series("thpwatch_kmsg_boot_param_errors"):
        found.append(
            Finding(
                WARNING,
                f"the kernel rejected {s.label('param')}={s.label('value')} at boot: "
                "the Reserved THP pool is disabled",
                "thp_reserved_size takes only the PMD size (2M on x86-64); "
                "thp_reserved_nr a plain number of huge pages",
            )
        )
    for s in snap.series("thpwatch_reserved_thp_boot_param_valid"):
        if s.value == 0 and s.label("param") not in rejected:
            found.append(
                Finding(
                    WARNING,
                    f"{s.label('param')} on /proc/cmdline is not a value this kernel accepts",
                    "fix the boot parameter; the kernel log says how it was read",
                )
            )
    shortfall = snap.get("thpwatch_reserved_thp_boot_shortfall_hpages")
    if shortfall:
        found.append(
            Finding(
                WARNING,
                f"the boot reserved {shortfall:g} fewer huge pages than thp_reserved_nr asked for",
                "memory was too fragmented or too small at boot: lower thp_reserved_nr or "
                "reserve earlier",
            )
        )
    return found


def _selftest_findings(selftest: SelftestReport | None) -> list[Finding]:
    if selftest is None:
        return []
    if selftest.skipped:
        return [Finding(ERROR, f"self-test did not run: {selftest.skipped}", "scripts/setup")]
    return [
        Finding(
            WARNING,
            f"self-test: {r.event}: workload {r.workload}, kernel {r.kernel}, thpwatch "
            f"{r.thpwatch}{f' ({r.note})' if r.note else ''}",
            "a probe that misses or miscounts events here (inlined function, compiler clone?)",
        )
        for r in selftest.disagreements()
    ]


def diagnose(
    root: Path,
    snap: Snapshot,
    bpf: Callable[[], BpfReport] | None = probe_bpf,
    selftest: Callable[[], SelftestReport] | None = None,
) -> Diagnosis:
    """snap: one Sampler pass over every source; bpf=None when BPF is not to be tried;
    selftest: the probes' workload comparison, when asked for."""
    kernel = detect(root, selftest=True)
    if bpf is None:
        why = NO_BPF if is_live(root) else f"{FIXTURE} ({root})"
        bpf_report = BpfReport((), "", "", why)
    else:
        bpf_report = bpf()
    root_user = os.geteuid() == 0
    findings = []
    if not root_user:
        findings.append(
            Finding(BLOCKED, "not running as root", "run `sudo thpwatch doctor`: BPF, "
                    "/proc/pagetypeinfo and /dev/kmsg need root")
        )  # fmt: skip
    selftest_report = selftest() if selftest else None
    findings += _kernel_findings(kernel) + _kernel_state_findings(snap)
    findings += _bpf_findings(bpf_report) + _source_findings(snap.statuses)
    findings += _selftest_findings(selftest_report)
    return Diagnosis(kernel, bpf_report, root_user, snap.statuses, tuple(findings), selftest_report)
