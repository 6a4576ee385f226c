"""The two exporters under test as real processes: `thpwatch run` and node_exporter."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import free_port, start_exporter, wait_until

NODE_EXPORTER = "prometheus-node-exporter"  # Debian's name for node_exporter
# Only the collectors whose data overlaps thpwatch's (meminfo, vmstat), and every vmstat field
# as thpwatch exports every vmstat counter.
NODE_EXPORTER_ARGS = (
    "--collector.disable-defaults",
    "--collector.meminfo",
    "--collector.vmstat",
    "--collector.vmstat.fields=.*",
)


@dataclass
class Running:
    name: str
    pid: int
    url: str  # the /metrics URL
    ready_seconds: float  # from spawn to ready (thpwatch: READY=1 over sd_notify)


@contextlib.contextmanager
def thpwatch(*args: str) -> Iterator[Running]:
    """`thpwatch run` on a free loopback port, until READY=1 (BPF compiled and attached)."""
    workdir = Path(tempfile.mkdtemp(prefix="thpwatch-bench-"))
    t0 = time.perf_counter()
    exporter = start_exporter(workdir, *args, timeout=120)
    ready = time.perf_counter() - t0
    try:
        yield Running("thpwatch", exporter.process.pid, exporter.url + "/metrics", ready)
    finally:
        exporter.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def node_exporter_binary() -> str:
    path = shutil.which(NODE_EXPORTER) or shutil.which("node_exporter")
    if path is None:
        raise SystemExit(
            "bench: node_exporter not found (Debian package prometheus-node-exporter; "
            "scripts/setup installs it)"
        )
    return path


@contextlib.contextmanager
def node_exporter() -> Iterator[Running]:
    """node_exporter with the meminfo and vmstat collectors only, on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    argv = [node_exporter_binary(), f"--web.listen-address=127.0.0.1:{port}", *NODE_EXPORTER_ARGS]
    t0 = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(url, process), 30, "node_exporter to answer", 0.02)
        yield Running("node_exporter", process.pid, url, time.perf_counter() - t0)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"node_exporter exited {process.returncode} before answering")
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False
