"""VM lane: boot a stock Debian kernel under QEMU and run thpwatch's function-probe tests in it.

The development machines refuse fentry and have no kprobes, so thpwatch's function probes are
proven here, on a real booted kernel: virtme-ng boots the Debian kernel (software emulation)
with this machine's root fs shared read-only, `tests/vm/guest.sh` runs thpwatch's own tests
inside (fentry/fexit, then kprobes forced), and this script prints pass/fail with the numbers
the guest's tests recorded (kernel counters vs thpwatch's counts).

Usage (as root, in the checkout):
    .venv/bin/python -m tests.vm.lane [--kernel 6.12] [--kernel 6.1] [--json FILE]
Exit status 0 only if every kernel's guest run passed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.vm.guestvm import Testcase, parse_facts, parse_junit, prepare, run_guest, vng_command

HERE = Path(__file__).resolve().parent
MODES = ("fentry", "kprobe")
BOOT_TIMEOUT_S = 900
# What the guest runs: thpwatch's function-probe tests (overridable for bring-up and debugging).
GUEST_MARKERS = os.environ.get("THPWATCH_VM_MARKERS", "funcprobes")
GUEST_TESTS = os.environ.get("THPWATCH_VM_TESTS", "tests/bpf tests/vm").split()


def guest_command(results: Path) -> str:
    return shlex.join([str(HERE / "guest.sh"), str(results), GUEST_MARKERS, *GUEST_TESTS])


@dataclass
class ModeResult:
    mode: str
    returncode: int | None  # the guest pytest's exit status, None if it never reported
    tests: list[Testcase] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.returncode == 0
            and bool(self.tests)
            and all(t.outcome == "passed" for t in self.tests)
            and any(t.properties for t in self.tests)
        )


@dataclass
class LaneResult:
    series: str
    kernel_image: str
    release: str = ""
    vng_returncode: int | None = None
    seconds_to_guest: float | None = None
    seconds_total: float = 0.0
    host_maxrss_mib: float = 0.0
    facts: dict[str, str] = field(default_factory=dict)
    modes: list[ModeResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    output_tail: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. an emulator crash before a retried boot

    @property
    def passed(self) -> bool:
        return (
            not self.problems
            and len(self.modes) == len(MODES)
            and all(m.passed for m in self.modes)
        )


def boot(result: LaneResult, results: Path) -> None:
    """Boot the kernel, stream the guest's console, time it; fill in `result`."""
    start = time.monotonic()
    output: list[str] = []
    pytest_rc: dict[str, int] = {}

    def on_line(line: str) -> None:
        output.append(line)
        words = line.split()
        if words[:1] == ["THPWATCH-GUEST-START"] and result.seconds_to_guest is None:
            result.seconds_to_guest = time.monotonic() - start
            result.release = words[1] if len(words) > 1 else ""
        elif words[:1] == ["THPWATCH-GUEST-PYTEST-RC"] and len(words) == 3:
            pytest_rc[words[1]] = int(words[2])

    result.vng_returncode, timed_out = run_guest(
        vng_command(Path(result.kernel_image), results, guest_command(results)),
        on_line,
        BOOT_TIMEOUT_S,
    )
    if timed_out:
        result.problems.append(f"guest still running after {BOOT_TIMEOUT_S} s: killed")
    result.seconds_total = time.monotonic() - start
    result.host_maxrss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result.output_tail = output[-40:]
    result.facts = parse_facts(results / "facts.txt")
    if result.seconds_to_guest is None:
        result.problems.append("the guest command never started (no THPWATCH-GUEST-START line)")
    for mode in MODES:
        junit = results / f"junit-{mode}.xml"
        mode_result = ModeResult(
            mode, pytest_rc.get(mode), parse_junit(junit) if junit.exists() else []
        )
        result.modes.append(mode_result)
        log = results / f"pytest-{mode}.log"
        if log.exists() and not mode_result.passed:
            result.output_tail += [f"--- pytest-{mode}.log (tail)"]
            result.output_tail += log.read_text(errors="replace").splitlines()[-40:]
    if result.vng_returncode != 0:
        result.problems.append(f"vng exited {result.vng_returncode}")


def run_lane(series: str, keep: Path | None = None) -> LaneResult:
    """Boot `series` and run the guest tests; keep: copy the guest's reports and logs there.

    A boot whose guest never started is tried once more: QEMU itself has died before the
    guest's first line under TCG (an msix_table_mmio_write assertion, seen once in 2 boots), an
    emulator failure that says nothing about thpwatch. The first attempt's problems are kept."""
    image = str(prepare(series))
    earlier: list[str] = []
    for attempt in (1, 2):
        result = LaneResult(series, kernel_image=image)
        with tempfile.TemporaryDirectory(prefix=f"thpwatch-vm-{series}-") as tmp:
            boot(result, Path(tmp))
            if keep is not None:
                shutil.copytree(tmp, keep / series, dirs_exist_ok=True)
        if result.seconds_to_guest is not None or attempt == 2:
            break
        earlier = [f"attempt 1 (guest never started, booted again): {p}" for p in result.problems]
        earlier += [f"attempt 1 output: {line}" for line in result.output_tail[-3:]]
    result.notes = earlier
    return result


def render(result: LaneResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    to_guest = f"{result.seconds_to_guest:.1f}" if result.seconds_to_guest is not None else "-"
    lines = [
        f"VM lane {verdict}: Linux {result.release or result.series} "
        f"({Path(result.kernel_image).name}), guest command after {to_guest} s, "
        f"whole run {result.seconds_total:.1f} s, host max RSS {result.host_maxrss_mib:.0f} MiB",
        "  guest: " + " ".join(f"{k}={v}" for k, v in result.facts.items()),
    ]
    for mode in result.modes:
        lines.append(
            f"  [{mode.mode}] pytest exit {mode.returncode}, {len(mode.tests)} tests: "
            + ("passed" if mode.passed else "FAILED")
        )
        for test in mode.tests:
            lines.append(f"    {test.outcome:7} {test.name}")
            if test.message:
                lines.append(f"            {test.message[:300]}")
            for name, value in test.properties:
                lines.append(f"            {name} = {value}")
    lines += [f"  problem: {p}" for p in result.problems]
    lines += [f"  note: {n}" for n in result.notes]
    if not result.passed:
        lines.append("  guest output (tail):")
        lines += [f"    | {line}" for line in result.output_tail]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kernel",
        action="append",
        metavar="SERIES",
        help="Debian kernel series to boot, e.g. 6.12 or 6.1 (repeatable; default 6.12)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="copy the guest's reports and logs to DIR/SERIES"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the VM lane needs root (apt-get, and bcc inside the guest)")
    results = []
    for series in args.kernel or ["6.12"]:
        try:
            result = run_lane(series, args.keep)
        except RuntimeError as exc:
            result = LaneResult(series, kernel_image="", problems=[str(exc)])
        print(render(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"passed": r.passed} for r in results]))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
