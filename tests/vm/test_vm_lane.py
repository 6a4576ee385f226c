"""The VM lane, run from the host: boots each stock Debian kernel and asserts that thpwatch's own
function-probe tests passed inside it, with fentry and with kprobes forced, and that they
reported their numbers (kernel counters vs thpwatch's counts). See tests/vm/lane.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

REPO = Path(__file__).resolve().parents[2]
# Stock Debian kernels to boot, one lane run each (under software emulation a run takes ~6 min
# on an idle 2-core host, ~13 min on a busy one): 6.12 by default; THPWATCH_VM_KERNELS="6.12 6.1"
# adds bookworm's 6.1, whose split functions have other names and prototypes.
SERIES = tuple(os.environ.get("THPWATCH_VM_KERNELS", "6.12").split())

pytestmark = pytest.mark.vm


@pytest.mark.parametrize("series", SERIES)
def test_function_probes_on_booted_kernel(
    series: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(os.geteuid() == 0, "the VM lane needs root (apt-get, bcc in the guest)")
    require(shutil.which("apt-get"), "the VM lane needs a Debian host (apt-get)")
    require(Path("/usr/bin/python3").exists(), "the VM lane needs Debian's /usr/bin/python3")
    report = tmp_path / "lane.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.vm.lane", "--kernel", series, "--json", str(report)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    with capsys.disabled():  # the lane's verdict and the guest's numbers belong in the CI log
        print(f"\n{done.stdout}", end="", flush=True)
    assert report.exists(), f"lane.py wrote no report (exit {done.returncode}):\n{done.stdout}"
    (result,) = json.loads(report.read_text())
    assert result["passed"], done.stdout
    assert done.returncode == 0, done.stdout
    assert result["release"].startswith(f"{series}."), result["release"]
    assert [m["mode"] for m in result["modes"]] == ["fentry", "kprobe"]
    for mode in result["modes"]:
        assert mode["tests"], f"{mode['mode']}: the guest ran no test"
        assert all(t["outcome"] == "passed" for t in mode["tests"]), mode
        numbers = [p for t in mode["tests"] for p in t["properties"]]
        assert numbers, f"{mode['mode']}: the guest tests recorded no numbers"
        assert all(f"{name} = {value}" in done.stdout for name, value in numbers)
