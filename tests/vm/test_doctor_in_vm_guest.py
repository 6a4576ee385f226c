"""`thpwatch doctor` on a stock kernel that lets function probes attach. Runs inside the VM
lane's guest (tests/vm/guest.sh sets THPWATCH_VM_GUEST=1): the lane boots stock Debian kernels,
so doctor must find fentry and kprobes usable and every patch series absent."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

SERIES = ("reserved_thp", "pud_thp", "lazy_pte", "pmd_swap")

pytestmark = pytest.mark.funcprobes


def test_doctor_on_stock_kernel_in_vm_guest(record_property: pytest.RecordProperty) -> None:
    require(os.environ.get("THPWATCH_VM_GUEST") == "1", "runs in the VM lane's guest (tests/vm)")
    require(os.geteuid() == 0, "doctor tries BPF attach types as root")
    thpwatch = Path(sys.executable).with_name("thpwatch")
    done = subprocess.run(
        [str(thpwatch), "doctor", "--json"], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip(), f"doctor printed nothing (exit {done.returncode}): {done.stderr}"
    report = json.loads(done.stdout)
    assert report["kernel"]["release"] == platform.release()
    attach = {a["name"]: a for a in report["bpf"]["attach_types"]}
    for name in ("tracepoint", "fentry", "kprobe"):
        record_property(f"doctor_{name}", attach[name]["state"])
        assert attach[name]["works"], (name, attach[name]["reason"])
    series = {f["key"]: f["present"] for f in report["kernel"]["series"]}
    for key in SERIES:
        record_property(f"doctor_series_{key}", series[key])
    assert {k: series[k] for k in SERIES} == dict.fromkeys(SERIES, "no")
    errors = [f for f in report["findings"] if f["severity"] in ("error", "blocked")]
    assert not errors, errors
    assert done.returncode == 0, done.stderr
