"""#17 item 7, with real processes: on a host whose kernel headers are gone (a kernel update
without them, a sandbox hiding /lib/modules), snapshot and doctor exit 1 with the bpf source
in error and say why on stderr; never "absent, exit 0" while nothing is counted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import require

THPWATCH = str(Path(sys.executable).with_name("thpwatch"))


def without_headers(*args: str) -> subprocess.CompletedProcess[str]:
    """`thpwatch ARGS` in a private mount namespace where /lib/modules and /usr/src are empty."""
    require(os.geteuid() == 0, "a private mount namespace needs root")
    require(shutil.which("unshare"), "needs unshare (util-linux)")
    script = (
        "mount --make-rprivate / && mount -t tmpfs none /lib/modules"
        ' && mount -t tmpfs none /usr/src && exec "$@"'
    )
    env = {k: v for k, v in os.environ.items() if k != "BCC_KERNEL_SOURCE"}
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", THPWATCH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_snapshot_without_headers_is_an_error_not_absent():
    done = without_headers("snapshot", "--json", "--no-processes", "--no-cgroups")
    assert done.returncode == 1, done.stderr
    statuses = {s["name"]: s for s in json.loads(done.stdout)["statuses"]}
    assert statuses["bpf"]["state"] == "error"
    assert "BPF probes cannot be compiled: no kernel headers" in statuses["bpf"]["reason"]
    assert statuses["vmstat"]["state"] == "ok"  # the kernel files are read as ever
    assert "linux-headers-$(uname -r)" in done.stderr  # logged (WARNING), not only in JSON
    assert "Traceback" not in done.stderr


def test_doctor_without_headers_exits_1():
    done = without_headers("doctor", "--json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert any(
        f["severity"] == "error" and "BPF probes cannot be compiled" in f["problem"]
        for f in findings
    )
