"""#17: as an unprivileged user on a live host, the process scan cannot read other users'
smaps; it said "ok" while 36 of 37 processes were unreadable. Most processes unreadable is
"blocked" (exit 3), with the skipped count by reason in the metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import require

THPWATCH = str(Path(sys.executable).with_name("thpwatch"))


def test_a_scan_of_mostly_unreadable_processes_is_blocked_not_ok():
    require(os.geteuid() == 0, "switching to an unprivileged user needs root")
    done = subprocess.run(
        [THPWATCH, "snapshot", "--json", "--no-bpf", "--no-cgroups", "--process-smaps", "on"],
        capture_output=True,
        text=True,
        timeout=120,
        user="nobody",
        cwd="/",
    )
    snap = json.loads(done.stdout)
    procscan = next(s for s in snap["statuses"] if s["name"] == "procscan")
    assert procscan["state"] == "blocked", procscan
    assert "processes unreadable (permission denied" in procscan["reason"]
    skipped = {
        s["labels"]["reason"]: s["value"]
        for s in snap["samples"]
        if s["name"] == "thpwatch_process_scan_skipped"
    }
    read = next(
        s["value"] for s in snap["samples"] if s["name"] == "thpwatch_process_scan_processes"
    )
    assert skipped["unreadable"] > read
    assert done.returncode == 3  # blocked is checked before error (README)
