"""`thpwatch run` as a process: signals, sd_notify, port clash, kill -9, files vanishing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, require

from bench.daemons import THPWATCH, http_get, run_to_exit, wait_until
from e2e.harness import probes_in_this_checkout
from thpwatch.exporter.textfile import FILE_NAME

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"


@pytest.fixture
def patched_root():
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    return PATCHED


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_0(thpwatch_exporter, patched_root, signum):
    exporter = thpwatch_exporter("--root", str(patched_root), "--no-bpf")
    exporter.signal(signum)
    assert exporter.process.wait(20) == 0
    assert "Traceback" not in exporter.stderr()


def test_landing_page_and_metrics(thpwatch_exporter, patched_root):
    exporter = thpwatch_exporter("--root", str(patched_root), "--no-bpf")
    status, body = http_get(exporter.url + "/")
    assert status == 200 and b'href="/metrics"' in body
    assert "thpwatch_source_state{" in exporter.metrics()


def test_port_in_use_is_one_line_and_exit_1(patched_root):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_to_exit(
            "--listen", f"127.0.0.1:{port}", "--root", str(patched_root), "--no-bpf"
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"thpwatch run: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_bad_listen_address_is_a_usage_error():
    result = subprocess.run(
        [THPWATCH, "run", "--listen", "nowhere"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--listen 'nowhere': expected HOST:PORT or :PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_watchdog_pings_and_stopping_are_sent(thpwatch_exporter, patched_root):
    exporter = thpwatch_exporter(
        "--root", str(patched_root), "--no-bpf", env={"WATCHDOG_USEC": "400000"}
    )
    exporter.wait_notification("WATCHDOG=1", count=3, timeout=10)
    exporter.signal(signal.SIGTERM)
    exporter.wait_notification("STOPPING=1", timeout=20)
    assert exporter.process.wait(20) == 0
    assert exporter.notifications.index("READY=1") < exporter.notifications.index("STOPPING=1")


def test_a_kernel_file_vanishing_flips_the_state_and_serving_goes_on(
    thpwatch_exporter, patched_root, tmp_path
):
    root = tmp_path / "root"
    shutil.copytree(patched_root, root, symlinks=True)
    exporter = thpwatch_exporter("--root", str(root), "--no-bpf")
    before = source_states(exporter.metrics())
    assert all(state == "ok" for state in before.values()), before
    victim = root / "sys/kernel/mm/reserved_thp/free_hpages"
    victim.unlink()
    after = source_states(exporter.metrics())
    changed = {name: state for name, state in after.items() if state != before[name]}
    assert changed and set(changed.values()) == {"error"}, changed
    assert set(after) == set(before)
    assert exporter.process.poll() is None
    assert "thpwatch_mthp_" in exporter.metrics()  # the other sources keep serving


def source_states(metrics: str) -> dict[str, str]:
    states = {}
    for line in metrics.splitlines():
        if line.startswith("thpwatch_source_state{") and line.endswith(" 1.0"):
            labels = dict(
                part.split("=", 1)
                for part in line[line.index("{") + 1 : line.index("}")].split(",")
            )
            states[labels["source"].strip('"')] = labels["state"].strip('"')
    return states


def test_kill_9_then_restart_leaves_no_temp_files(thpwatch_exporter, patched_root, tmp_path):
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    args = (
        "--root",
        str(patched_root),
        "--no-bpf",
        "--textfile",
        str(textdir),
        "--textfile-interval",
        "1",
    )
    first = thpwatch_exporter(*args)
    # A temp file of the killed process, as a kill -9 in the middle of a write leaves it.
    (textdir / f".{FILE_NAME}.{first.process.pid}.tmp").write_text("half a file")
    first.process.kill()
    first.process.wait(10)
    second = thpwatch_exporter(*args, port=first.port)  # the port is free again at once
    assert sorted(p.name for p in textdir.iterdir()) == [FILE_NAME]
    text = (textdir / FILE_NAME).read_text()
    assert "thpwatch_source_state{" in text and "process_" not in text
    mtime = (textdir / FILE_NAME).stat().st_mtime
    wait_until(lambda: (textdir / FILE_NAME).stat().st_mtime > mtime, 10, "a textfile rewrite")
    assert second.stop() == 0
    assert sorted(p.name for p in textdir.iterdir()) == [FILE_NAME]


def bpf_prog_ids_held_by(pid: int) -> set[int]:
    """Ids of the BPF programs a process holds, from its fds' fdinfo (prog_id: lines)."""
    ids = set()
    for fdinfo in Path(f"/proc/{pid}/fdinfo").iterdir():
        with contextlib.suppress(FileNotFoundError):
            for line in fdinfo.read_text().splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
    return ids


def loaded_bpf_prog_ids(bpftool: str) -> set[int]:
    out = subprocess.run([bpftool, "prog", "show", "-j"], capture_output=True, check=True).stdout
    return {p["id"] for p in json.loads(out)}


def test_kill_9_leaves_no_bpf_program_and_a_restart_attaches_again(thpwatch_exporter):
    require(os.geteuid() == 0, "needs root (BPF)")
    bpftool = shutil.which("bpftool")
    require(bpftool, "needs bpftool (Debian package bpftool)")
    require(probes_in_this_checkout(), "needs thpwatch.probes.source (the BPF probes)")
    first = thpwatch_exporter()
    held = bpf_prog_ids_held_by(first.process.pid)
    require(held, "the exporter attached no BPF program here (see its probe states)")
    assert held <= loaded_bpf_prog_ids(bpftool)
    first.process.kill()
    first.process.wait(10)
    wait_until(lambda: not held & loaded_bpf_prog_ids(bpftool), 10, "the kernel to free them")

    second = thpwatch_exporter(port=first.port)
    again = bpf_prog_ids_held_by(second.process.pid)
    assert len(again) == len(held) and not again & held
    assert second.stop() == 0  # SIGTERM: detached cleanly
    wait_until(lambda: not again & loaded_bpf_prog_ids(bpftool), 10, "SIGTERM to free them")
