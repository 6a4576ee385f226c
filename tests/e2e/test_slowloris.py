"""Hostile clients against the real `thpwatch run` while a real Prometheus keeps scraping it:
1,000 idle connections, 200 idle TLS connections and 200 half ClientHellos, 6 MB request heads.
Every scrape must succeed (Prometheus's own `up`), and the daemon's threads, descriptors and
memory must stay bounded."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import FIXTURES, require
from exporter.certs import make_pki

from bench.daemons import Exporter, http_get
from e2e.harness import Prometheus, scrape_config
from thpwatch.exporter.httpserver import Limits

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"
HOLD_SECONDS = 13  # longer than the handshake and header timeouts (10 s): they fire meanwhile
HALF_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20


@dataclass
class Usage:
    rss_kib: int
    threads: int
    fds: int


def usage(pid: int) -> Usage:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return Usage(
        int(fields["VmRSS"][0]), int(fields["Threads"][0]), len(os.listdir(f"/proc/{pid}/fd"))
    )


class Sampler:
    """The daemon's peak usage, read from /proc every 0.2 s while an attack runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = usage(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            u = usage(self.pid)
            self.peak = Usage(
                max(self.peak.rss_kib, u.rss_kib),
                max(self.peak.threads, u.threads),
                max(self.peak.fds, u.fds),
            )

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join(5)
        return self.peak


@pytest.fixture
def many_fds() -> Iterator[None]:
    """1,000 client sockets need more than the default 1,024 descriptors in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    require(want >= 2048, f"needs RLIMIT_NOFILE >= 2048 (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_connections(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            s.sendall(first_bytes)
        socks.append(s)
    return socks


def assert_every_scrape_succeeded(prom: Prometheus, job: str, since: float) -> None:
    prom.wait_for_scrapes(job)  # the window's last scrape is stored
    window = int(time.time() - since)
    expr = f'up{{job="{job}"}}[{window}s]'
    assert prom.value(f"min_over_time({expr})") == 1, prom.query(f"{expr}")
    scrapes = prom.value(f"count_over_time({expr})")
    assert scrapes >= window - 3, f"only {scrapes} scrapes in {window} s"
    slowest = prom.value(f'max_over_time(scrape_duration_seconds{{job="{job}"}}[{window}s])')
    assert slowest < 1.0  # the scrape timeout


def assert_bounded(before: Usage, peak: Usage) -> None:
    limits = Limits()
    assert peak.threads <= before.threads, f"threads grew: {before} -> {peak}"
    assert peak.fds <= before.fds + limits.max_connections + 2, f"{before} -> {peak}"
    assert peak.rss_kib - before.rss_kib < 30 * 1024, f"RSS grew: {before} -> {peak}"


def test_1000_idle_connections_lose_no_scrape(many_fds, thpwatch_exporter, prometheus):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch", count=2)
    sampler = Sampler(exporter.process.pid)
    started = time.time()
    socks = open_connections(exporter.port, 1000)
    hold_and_check(prom, sampler, started, socks)
    assert exporter.process.poll() is None
    assert "Traceback" not in exporter.stderr()


def hold_and_check(prom, sampler: Sampler, started: float, socks: list) -> None:
    """Hold the connections while Prometheus scrapes: every scrape succeeds and the daemon's
    threads, descriptors and memory stay bounded; the connections are closed either way."""
    try:
        time.sleep(HOLD_SECONDS)
        assert_every_scrape_succeeded(prom, "thpwatch", started)
        peak = sampler.stop()
    finally:
        sampler.stop()
        for s in socks:
            s.close()
    assert_bounded(sampler.baseline, peak)


@pytest.fixture
def tls_exporter(tmp_path, thpwatch_exporter) -> tuple[Exporter, dict]:
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    pki = make_pki(tmp_path / "pki")
    cert, key = pki.issue("server", server=True)
    exporter = thpwatch_exporter(
        "--root", str(PATCHED), "--no-bpf", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    return exporter, {"scheme": "https", "tls_config": {"ca_file": str(pki.ca_cert)}}


def test_idle_tls_connections_and_half_client_hellos_lose_no_scrape(tls_exporter, prometheus):
    exporter, https = tls_exporter
    prom = prometheus([scrape_config("thpwatch", exporter.target, **https)])
    prom.wait_for_scrapes("thpwatch", count=2)
    sampler = Sampler(exporter.process.pid)
    started = time.time()
    socks = open_connections(exporter.port, 200)
    socks += open_connections(exporter.port, 200, HALF_CLIENT_HELLO)
    hold_and_check(prom, sampler, started, socks)
    assert "Traceback" not in exporter.stderr()


def send_huge_head(port: int, results: list[bytes]) -> None:
    """A 6 MB request head: 95 fields of 63 KB (under the stdlib's 100 fields, 64 KiB lines)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        answer = b""
        with contextlib.suppress(OSError):
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            for _ in range(95):
                s.sendall(b"X-Filler: " + b"a" * 63000 + b"\r\n")
            s.sendall(b"\r\n")
            answer = s.recv(100)
        results.append(answer)
        time.sleep(1)  # hold the connection while the daemon's memory is sampled


def test_huge_request_heads_are_refused_without_memory_growth(thpwatch_exporter, prometheus):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch")
    sampler = Sampler(exporter.process.pid)
    started = time.time()
    results: list[bytes] = []
    senders = [
        threading.Thread(target=send_huge_head, args=(exporter.port, results)) for _ in range(30)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join(60)
    peak = sampler.stop()
    assert peak.rss_kib - sampler.baseline.rss_kib < 10 * 1024, f"{sampler.baseline} -> {peak}"
    assert len(results) == 30
    # each is refused: a 431, or the connection reset before the client could read it
    assert all(r == b"" or r.split(b" ")[1] == b"431" for r in results), results
    assert_every_scrape_succeeded(prom, "thpwatch", started)
    assert "Traceback" not in exporter.stderr()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_frees_an_idle_connection_without_spinning(thpwatch_exporter):
    """Under a descriptor limit below the connection cap, accept() fails with EMFILE: the
    daemon closes its oldest idle connection and serves, without spinning or a log flood."""
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    prlimit = shutil.which("prlimit")
    require(prlimit, "needs prlimit (util-linux)")
    exporter = thpwatch_exporter(
        "--root", str(PATCHED), "--no-bpf", wrapper=[prlimit, "--nofile=48:48"]
    )
    socks = open_connections(exporter.port, 100)
    try:
        cpu_before = cpu_seconds(exporter.process.pid)
        time.sleep(3)
        for _ in range(5):
            status, body = http_get(f"{exporter.url}/metrics", timeout=5)
            assert status == 200 and b"thpwatch_source_state{" in body
        time.sleep(2)
        assert cpu_seconds(exporter.process.pid) - cpu_before < 1.5  # about 5 s of wall time
    finally:
        for s in socks:
            s.close()
    log = exporter.stderr()
    assert "Traceback" not in log
    assert 1 <= log.count("accept failed") <= 2, log
