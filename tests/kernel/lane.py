"""Patched-kernel lane: boot real kernels carrying the seed series and run thpwatch inside them.

tests/kernel/build.sh builds two 6.12 kernels from Debian's linux-source-6.12 plus
../shared/kernel/ (cached by content): `all` (Reserved THP + PUD THP + lazy PTE + PMD swap
entries) and `unfixed` (the same with the RFC's original allocator slowpath). The VM lane's
machinery (tests/vm/: virtme-ng, QEMU/TCG, the stock Debian 6.12 kernel) boots each
configuration in BOOTS, and
tests/kernel/guest.sh runs the listed in-guest tests (tests/kernel/guest/), which drive
thpwatch's own CLI (snapshot, doctor, run's /metrics, top --once) against real workloads.

Usage (as root, in the checkout):
    .venv/bin/python -m tests.kernel.lane [--boot NAME]... [--json FILE]
        [--artifacts DIR]   (keeps what the guest tests saved, e.g. top's SVG)
Exit status 0 only if every boot's guest tests passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.vm import guestvm

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BOOT_TIMEOUT_S = 1500  # the patched boot alone took ~470 s before the PMD swap tests


@dataclass(frozen=True)
class Boot:
    """One guest boot: a kernel, its memory and parameters, and the in-guest tests it runs.

    Scenarios that share a kernel command line share a boot: under TCG a boot costs ~15 s and
    each bcc compile another 10-20 s."""

    name: str
    kernel: str  # "all" | "unfixed" (tests/kernel/build.sh) | "stock" (Debian 6.12, tests/vm)
    memory: str
    append: str
    tests: tuple[str, ...]  # pytest node ids under tests/kernel/guest/ (guest_*.py)
    why: str


BOOTS = (
    Boot(
        "patched",
        "all",
        "6G",  # >= 4 GiB so that a 1 GiB folio can be allocated
        "thp_reserved_nr=16",
        (
            "guest_reserved.py",
            "guest_pud.py",
            "guest_lazy_pte.py",
            "guest_pmd_swap.py",
        ),
        "Reserved THP pool of 16, PUD THP, lazy PTE, PMD swap entries (zram, memcg fallback, "
        "rotational, fork, swapoff, a Prometheus with the rules): snapshot, doctor, probes, "
        "/metrics, top",
    ),
    Boot(
        "unfixed",
        "unfixed",
        "3G",
        "thp_reserved_nr=16",
        ("guest_unfixed.py",),
        "the RFC's allocator converts a pageblock: /metrics, top --once and doctor flag it",
    ),
    Boot(
        "size-1g",
        "all",
        "2G",
        "thp_reserved_size=1G thp_reserved_nr=16",
        ("guest_boot_params.py::test_unsupported_size_reported",),
        "an unsupported thp_reserved_size disables the pool: doctor says so",
    ),
    Boot(
        "nr-12x-small",
        "all",
        "1G",  # too small for a 1 GiB folio: PUD faults fall back
        "thp_reserved_nr=12x",
        (
            "guest_boot_params.py::test_invalid_nr_reported",
            "guest_pud_fallback.py",
        ),
        "an invalid thp_reserved_nr disables the pool; a 1 GiB guest falls back from PUD THP",
    ),
    Boot(
        "stock",
        "stock",
        "2G",
        "",
        ("guest_stock.py",),
        "Debian's own 6.12: every series reported absent, lazy PTE included",
    ),
)


@dataclass
class BootResult:
    boot: str
    kernel_image: str
    release: str = ""
    seconds: float = 0.0
    returncode: int | None = None  # the guest pytest's exit status, None if it never reported
    facts: dict[str, str] = field(default_factory=dict)
    tests: list[guestvm.Testcase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    output_tail: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.problems
            and self.returncode == 0
            and bool(self.tests)
            and all(t.outcome == "passed" for t in self.tests)
        )


def shared_dir() -> Path | None:
    """../shared beside the checkout; for a git worktree, beside the main checkout."""
    common = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    candidates = [REPO.parent / "shared"]
    if common:
        candidates.append(Path(common).parent.parent / "shared")
    return next((c for c in candidates if (c / "kernel").is_dir()), None)


def build_kernels() -> Path:
    """Run build.sh (instant when cached); the directory holding all/ and unfixed/."""
    env = dict(os.environ)
    shared = shared_dir()
    if "THPWATCH_SHARED" not in env and shared is not None:
        env["THPWATCH_SHARED"] = str(shared)
    done = subprocess.run(
        [str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tests/kernel/build.sh failed (exit {done.returncode})")
    return Path(done.stdout.strip().splitlines()[-1])


def kernel_images() -> dict[str, Path]:
    """Every kernel BOOTS names; also installs the VM lane's host prerequisites (vng, qemu)."""
    built = build_kernels()
    stock = guestvm.prepare("6.12")
    return {"all": built / "all/bzImage", "unfixed": built / "unfixed/bzImage", "stock": stock}


ARTIFACTS = ("*.svg",)  # what guest tests save beside the results that --artifacts keeps


def run_boot(boot: Boot, image: Path, artifacts: Path | None = None) -> BootResult:
    result = BootResult(boot.name, str(image))
    with tempfile.TemporaryDirectory(prefix=f"thpwatch-kernel-{boot.name}-") as tmp:
        results = Path(tmp)
        guest = shlex.join([str(HERE / "guest.sh"), str(results), *boot.tests])
        command = guestvm.vng_command(
            image, results, guest=guest, memory=boot.memory, append=boot.append
        )
        output: list[str] = []
        start = time.monotonic()
        _, timed_out = guestvm.run_guest(command, output.append, BOOT_TIMEOUT_S)
        if timed_out:
            result.problems.append(f"guest still running after {BOOT_TIMEOUT_S} s: killed")
        result.seconds = time.monotonic() - start
        for line in output:
            words = line.split()
            if words[:1] == ["THPWATCH-KERNEL-GUEST-START"] and len(words) > 1:
                result.release = words[1]
            elif words[:1] == ["THPWATCH-KERNEL-GUEST-RC"] and len(words) == 2:
                result.returncode = int(words[1])
        result.facts = guestvm.parse_facts(results / "facts.txt")
        junit = results / "junit.xml"
        result.tests = guestvm.parse_junit(junit) if junit.exists() else []
        result.output_tail = output[-30:]
        if artifacts is not None:
            for pattern in ARTIFACTS:
                for path in results.glob(pattern):
                    keep = artifacts / f"{boot.name}-{path.name}"
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, keep)
        log = results / "pytest.log"
        if log.exists() and not result.passed:
            result.output_tail += ["--- pytest.log (tail)"]
            result.output_tail += log.read_text(errors="replace").splitlines()[-60:]
    if not result.release:
        result.problems.append("the guest command never started")
    elif result.returncode is None:
        result.problems.append("the guest's pytest never reported an exit status")
    return result


def render(boot: Boot, result: BootResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    lines = [
        f"[{boot.name}] {verdict}: {result.release or boot.kernel} -m {boot.memory} "
        f"'{boot.append}' in {result.seconds:.0f} s ({boot.why})",
        "  guest: " + " ".join(f"{k}={v}" for k, v in result.facts.items()),
    ]
    for test in result.tests:
        lines.append(f"    {test.outcome:7} {test.name}")
        if test.message:
            lines.append(f"            {test.message[:400]}")
        lines += [f"            {name} = {value}" for name, value in test.properties]
    lines += [f"  problem: {p}" for p in result.problems]
    if not result.passed:
        lines += ["  guest output (tail):", *(f"    | {line}" for line in result.output_tail)]
    return "\n".join(lines)


def run(
    names: list[str] | None = None, artifacts: Path | None = None
) -> list[tuple[Boot, BootResult]]:
    boots = [b for b in BOOTS if not names or b.name in names]
    images = kernel_images()
    return [(boot, run_boot(boot, images[boot.kernel], artifacts)) for boot in boots]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--boot",
        action="append",
        choices=[b.name for b in BOOTS],
        help="run only this boot (repeatable; default: all of them)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--artifacts", type=Path, help="copy what guest tests saved (SVG pictures) into this dir"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the kernel lane needs root (apt-get, QEMU, bcc inside the guest)")
    try:
        outcomes = run(args.boot, args.artifacts)
    except RuntimeError as exc:
        print(f"kernel lane FAIL: {exc}", file=sys.stderr)
        return 1
    for boot, result in outcomes:
        print(render(boot, result), flush=True)
    if args.json:
        rows = [asdict(r) | {"passed": r.passed} for _, r in outcomes]
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r.passed for _, r in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
