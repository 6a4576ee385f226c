"""The exporters under test as real processes: `thpwatch run` (ready over a real sd_notify
socket, as under systemd) and node_exporter. The benchmarks and the e2e tests both start them
from here."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_EXPORTER = "prometheus-node-exporter"  # Debian's name for node_exporter
# Only the collectors whose data overlaps thpwatch's (meminfo, vmstat), and every vmstat field
# as thpwatch exports every vmstat counter.
NODE_EXPORTER_ARGS = (
    "--collector.disable-defaults",
    "--collector.meminfo",
    "--collector.vmstat",
    "--collector.vmstat.fields=.*",
)


THPWATCH = str(Path(sys.executable).with_name("thpwatch"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_to_exit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`thpwatch run ARGS --log-level error` expected to exit by itself (a start-up failure)."""
    return subprocess.run(
        [THPWATCH, "run", *args, "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Exporter:
    """A `thpwatch run` process, told apart by its port, with its sd_notify socket."""

    process: subprocess.Popen[bytes]
    port: int
    args: list[str]
    stderr_path: Path
    notify_socket: socket.socket
    notifications: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}"

    def metrics(self) -> str:
        status, body = http_get(f"{self.url}/metrics")
        assert status == 200, body
        return body.decode()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_notification(self, message: str, count: int = 1, timeout: float = 60) -> None:
        """Until `message` (e.g. READY=1) arrived `count` times over sd_notify."""

        def arrived() -> bool:
            if self.notifications.count(message) >= count:
                return True
            if self.process.poll() is not None and message != "STOPPING=1":
                raise RuntimeError(
                    f"thpwatch run exited {self.process.returncode}:\n{self.stderr()}"
                )
            with contextlib.suppress(TimeoutError):
                self.notifications.append(self.notify_socket.recv(4096).decode())
            return self.notifications.count(message) >= count

        wait_until(arrived, timeout, f"{message} from thpwatch run", 0)

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.notify_socket.close()
        return self.process.returncode


def start_exporter(
    workdir: Path,
    *args: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    wrapper: list[str] | None = None,
    timeout: float = 60,
) -> Exporter:
    """Run `thpwatch run --listen 127.0.0.1:PORT ARGS`; return once it sent READY=1.

    Readiness comes over a real sd_notify socket, as it would under systemd. wrapper is a
    command prefix (e.g. setpriv with reduced capabilities).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    notify_path = workdir / f"notify-{port}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(0.2)
    argv = [*(wrapper or []), THPWATCH, "run", "--listen", f"127.0.0.1:{port}", *args]
    stderr_path = workdir / f"thpwatch-{port}-{time.monotonic_ns()}.log"
    full_env = {**os.environ, **(env or {}), "NOTIFY_SOCKET": str(notify_path)}
    with open(stderr_path, "wb") as err:
        process = subprocess.Popen(argv, stdout=err, stderr=subprocess.STDOUT, env=full_env)
    exporter = Exporter(process, port, argv, stderr_path, sock)
    try:
        exporter.wait_notification("READY=1", timeout=timeout)
    except BaseException:
        exporter.stop()
        raise
    return exporter


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
