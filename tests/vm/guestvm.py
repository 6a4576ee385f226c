"""Booting a kernel under virtme-ng (QEMU, software emulation) with a command to run in the
guest, and reading what the guest reported (pytest junit files, facts.txt): the machinery the
VM lane (tests/vm/lane.py) and the patched-kernel lane (tests/kernel/lane.py) share.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("THPWATCH_VM_CACHE", "/var/lib/thpwatch-vm"))
# Guest size: enough for bcc's clang plus 64 MiB THP workloads and a zram swap device.
GUEST_MEMORY = "2G"
GUEST_CPUS = "2"


@dataclass
class Testcase:
    name: str
    outcome: str  # passed | failed | error | skipped
    properties: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""


def prepare(series: str) -> Path:
    """Install the lane's host prerequisites and fetch the kernel; return its image path."""
    done = subprocess.run(
        [str(HERE / "setup.sh"), series], stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tests/vm/setup.sh {series} failed (exit {done.returncode})")
    return Path(done.stdout.strip().splitlines()[-1])


def vng_command(
    kernel_image: Path,
    results: Path,
    guest: str,
    *,
    memory: str = GUEST_MEMORY,
    append: str = "",
) -> list[str]:
    """vng's command line: boot kernel_image, run the shell command `guest` in it, results
    shared read-write; each lane passes its own kernel, guest command, memory and parameters."""
    extra = ["--append", append] if append else []
    return [
        str(CACHE / "venv/bin/vng"),
        "--run",
        str(kernel_image),
        "--disable-kvm",  # this host's /dev/kvm is a PVM variant that stock guests hang under
        "--memory",
        memory,
        "--cpus",
        GUEST_CPUS,
        "--rwdir",
        str(results),
        *extra,
        "--exec",
        guest,
    ]


def parse_junit(path: Path) -> list[Testcase]:
    """The testcases of one pytest junit report, with the properties each test recorded."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = "failed" if tag == "failure" else tag
                message = (node.get("message") or "").strip()
                break
        props = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        cases.append(Testcase(name, outcome, props, message))
    return cases


def parse_facts(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def run_guest(
    command: list[str], on_line: Callable[[str], None], timeout_s: float
) -> tuple[int, bool]:
    """Run vng in a process group of its own, hand each line of its output to on_line, and
    after timeout_s kill the whole group (vng, QEMU, virtiofsd), even while the guest prints
    nothing: killing vng alone left QEMU running and holding the pipe. Returns vng's exit
    status and whether it timed out."""
    env = dict(os.environ, PATH=f"{CACHE / 'venv/bin'}:{os.environ.get('PATH', '')}")
    # QEMU truncates a log file given as fd 2: always read vng's output through a pipe.
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    expired = threading.Event()

    def kill_group() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def expire() -> None:
        expired.set()
        kill_group()

    timer = threading.Timer(timeout_s, expire)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        return proc.wait(), expired.is_set()
    finally:
        timer.cancel()
        kill_group()  # whatever of the group outlived vng
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
