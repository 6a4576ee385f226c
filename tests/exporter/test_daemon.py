"""The daemon in-process, over real HTTP: endpoints, periodic sources, textfile, stop, clash."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from thpwatch.exporter.httpserver import Limits, State
from thpwatch.exporter.lifecycle import Daemon, Settings
from thpwatch.exporter.server import ServeError
from thpwatch.sampler import Periodic

from .conftest import FixedSource, PoolFileSource


class CountingScan:
    """Stands in for the process scan: counts how often it is really read."""

    name = "procscan"

    def __init__(self) -> None:
        self.reads = 0

    def collect(self, out):
        self.reads += 1
        out.add("thpwatch_test_events_total", self.reads, size="scan")


@pytest.fixture
def daemon(pool_root, test_catalog, tmp_path_factory):
    textdir = tmp_path_factory.mktemp("textfile")
    (textdir / ".thpwatch.prom.99999.tmp").write_text("left by a killed daemon")
    scan = CountingScan()
    sources = [PoolFileSource(pool_root), FixedSource(), Periodic(scan, interval=3600)]
    d = Daemon(sources, Settings("127.0.0.1", 0, textfile_dir=textdir), test_catalog)
    d.start()
    loop = threading.Thread(target=d.run_forever, daemon=True)
    loop.start()
    d.scan = scan
    yield d
    d.stop_requested.set()
    loop.join(5)
    d.stop()


def get(d: Daemon, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{d.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_landing_page_links_metrics(daemon):
    status, body = get(daemon, "/")
    assert status == 200
    assert 'href="/metrics"' in body
    assert get(daemon, "/nothing-here")[0] == 404


def test_metrics_has_thpwatch_and_process_families(daemon):
    status, body = get(daemon, "/metrics")
    assert status == 200
    lines = body.splitlines()
    assert "thpwatch_test_pool_hpages 12.0" in lines
    assert any(ln.startswith("process_resident_memory_bytes ") for ln in lines)
    assert any(ln.startswith("process_cpu_seconds_total ") for ln in lines)


def test_every_scrape_reads_cheap_sources_afresh(daemon, pool_root):
    assert "thpwatch_test_pool_hpages 12.0" in get(daemon, "/metrics")[1]
    (pool_root / "pool").write_text("13\n")
    assert "thpwatch_test_pool_hpages 13.0" in get(daemon, "/metrics")[1]


def test_expensive_sources_are_not_read_per_scrape_and_export_their_age(daemon):
    reads = daemon.scan.reads
    for _ in range(3):
        body = get(daemon, "/metrics")[1]
    assert daemon.scan.reads == reads
    assert 'thpwatch_source_age_seconds{source="procscan"}' in body


def test_textfile_is_written_without_process_metrics_and_stale_temp_is_gone(daemon):
    textdir = daemon.settings.textfile_dir
    assert sorted(p.name for p in textdir.iterdir()) == ["thpwatch.prom"]
    text = (textdir / "thpwatch.prom").read_text()
    assert "thpwatch_test_pool_hpages 12.0" in text
    assert "process_" not in text


def test_stop_closes_sources(pool_root, test_catalog):
    pool = PoolFileSource(pool_root)
    d = Daemon([pool], Settings("127.0.0.1", 0), test_catalog)
    d.start()
    d.stop()
    assert pool.closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", d.port), timeout=1)


def test_port_in_use_is_one_clear_error(pool_root, test_catalog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = Daemon([PoolFileSource(pool_root)], Settings("127.0.0.1", port), test_catalog)
        with pytest.raises(
            ServeError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"
        ):
            d.start()


def test_watchdog_pings_stop_when_the_http_server_is_gone(
    pool_root, test_catalog, tmp_path, monkeypatch
):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 0.05 s
        d = Daemon([PoolFileSource(pool_root)], Settings("127.0.0.1", 0), test_catalog)
        d.start()
        assert sock.recv(100) == b"READY=1"
        loop = threading.Thread(target=d.run_forever, daemon=True)
        loop.start()
        assert sock.recv(100) == b"WATCHDOG=1"
        d.server.shutdown()  # the HTTP thread ends; the main loop goes on
        d.http_thread.join(5)
        sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError):
            while True:  # pings sent before the server went
                sock.recv(100)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        d.stop_requested.set()
        loop.join(5)


class HeldSource:
    """Blocks every collect while `hold` is clear: scrapes that hold the HTTP workers."""

    name = "held"

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.waiting = threading.Semaphore(0)

    def collect(self, out):
        if not self.hold.is_set():
            self.waiting.release()
            self.hold.wait(20)


def busy(d: Daemon) -> int:
    return sum(c.state is State.BUSY for c in list(d.server.conns.values()))


def drain(sock: socket.socket) -> list[bytes]:
    sock.settimeout(0.05)
    seen = []
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append(sock.recv(100))
    return seen


def test_watchdog_pings_stop_while_every_http_worker_is_held(test_catalog, tmp_path, monkeypatch):
    path = tmp_path / "notify"
    held = HeldSource()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # a ping every 0.5 s
        settings = Settings("127.0.0.1", 0, limits=Limits(workers=2))
        d = Daemon([held], settings, test_catalog)
        d.start()
        loop = threading.Thread(target=d.run_forever, daemon=True)
        loop.start()
        scrapes: list[threading.Thread] = []
        try:
            assert sock.recv(100) == b"READY=1"
            assert sock.recv(100) == b"WATCHDOG=1"
            held.hold.clear()
            scrapes = [
                threading.Thread(target=get, args=(d, "/metrics"), daemon=True) for _ in range(2)
            ]
            for t in scrapes:
                t.start()
            # one worker inside collect(), the other waiting for that snapshot (SharedFresh)
            assert held.waiting.acquire(timeout=5)
            deadline = time.monotonic() + 5
            while d.server.jobs.qsize() or busy(d) < 2:
                assert time.monotonic() < deadline, "the two scrapes did not reach the workers"
                time.sleep(0.05)
            drain(sock)  # pings sent before
            time.sleep(2.5)  # five ping intervals
            assert b"WATCHDOG=1" not in drain(sock)
            assert d.server.self_check(0.5) is False
            held.hold.set()
            sock.settimeout(5)
            assert sock.recv(100) == b"WATCHDOG=1"
        finally:
            held.hold.set()
            for t in scrapes:
                t.join(10)
            d.stop_requested.set()
            loop.join(5)
            d.stop()
