"""thpwatch's own CLI as a user runs it inside the guest (snapshot --json, doctor, run's
/metrics, top --once), and flat readings of what it outputs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

THPWATCH = Path(sys.executable).with_name("thpwatch")
PROBE_READY_TIMEOUT_S = 900  # bcc compiles under TCG: minutes on a loaded host


def thpwatch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the thpwatch CLI; its output and exit status, never raising on a non-zero exit."""
    return subprocess.run(
        [str(THPWATCH), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class Reading:
    """Flat samples (name, labels, value) from `snapshot --json` or a /metrics scrape."""

    samples: tuple[tuple[str, dict[str, str], float], ...]
    statuses: tuple[dict[str, Any], ...] = ()

    def series(self, name: str, **match: str) -> list[tuple[dict[str, str], float]]:
        return [
            (labels, value)
            for n, labels, value in self.samples
            if n == name and all(labels.get(k) == v for k, v in match.items())
        ]

    def get(self, name: str, **labels: str) -> float | None:
        """The one sample of `name` whose labels are exactly `labels`, or None."""
        for n, have, value in self.samples:
            if n == name and have == labels:
                return value
        return None

    def total(self, name: str, **match: str) -> float:
        """Sum over every series of `name` matching `match` (0 when there is none)."""
        return sum(value for _, value in self.series(name, **match))

    def status(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.statuses if s.get("name") == name), None)


def snapshot() -> Reading:
    """`snapshot --json` of the kernel's files (probes are read through the exporter, which
    compiles them once per boot)."""
    done = thpwatch("snapshot", "--json", "--no-bpf")
    assert done.returncode == 0, f"thpwatch snapshot --json failed: {done.stderr[-2000:]}"
    data = json.loads(done.stdout)
    samples = []
    for s in data["samples"]:
        value = s["value"]
        if isinstance(value, dict):  # histogram
            samples.append((s["name"] + "_count", s["labels"], float(value["count"])))
        else:
            samples.append((s["name"], s["labels"], float(value)))
    return Reading(tuple(samples), tuple(data.get("statuses", ())))


def parse_metrics(text: str) -> Reading:
    samples = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.append((s.name, dict(s.labels), float(s.value)))
    return Reading(tuple(samples))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Exporter:
    """`thpwatch run` serving /metrics on localhost, with the per-process scan on."""

    def __init__(self, *extra: str) -> None:
        self.port = _free_port()
        self.log = open(f"/tmp/thpwatch-run-{self.port}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            # pagetypeinfo on every scrape (the daemon's default is every 60 s): the tests
            # compare each scrape with the kernel's state at that moment.
            [
                str(THPWATCH),
                "run",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--pagetypeinfo-interval",
                "0",
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def scrape(self) -> Reading:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=60) as response:
            return parse_metrics(response.read().decode())

    def wait_ready(self, metric: str = "thpwatch_probe_state") -> Reading:
        """The first scrape that has `metric` (by default: BPF compiled and attached)."""
        deadline = time.monotonic() + PROBE_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"thpwatch run exited {self.proc.returncode}: {self.output()}")
            try:
                reading = self.scrape()
            except OSError:
                time.sleep(1)
                continue
            if reading.series(metric):
                return reading
            time.sleep(1)
        pytest.fail(f"thpwatch run never reported {metric}: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def probe_states(reading: Reading) -> dict[str, str]:
    """probe -> state, from thpwatch_probe_state{probe,state} == 1 on /metrics."""
    return {
        labels["probe"]: labels["state"]
        for labels, value in reading.series("thpwatch_probe_state")
        if value == 1
    }


def delta(before: Reading, after: Reading, name: str, **match: str) -> float:
    """How much the series of `name` matching `match` grew between two readings."""
    return after.total(name, **match) - before.total(name, **match)


def wait_for_process(
    exporter: Exporter,
    comm: str,
    metric: str = "thpwatch_process_anon_rss_bytes",
    at_least: float = 0,
) -> Reading:
    """The first scrape whose process scan reported `comm` in `metric` (at least `at_least`):
    scans run on their own interval, so the first one may predate the workload's faults."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reading = exporter.scrape()
        if reading.series(metric, comm=comm) and reading.total(metric, comm=comm) >= at_least:
            return reading
        time.sleep(1)
    pytest.fail(f"the exporter's process scan never reported {comm} in {metric} >= {at_least}")


def record(record_property: Callable[[str, object], None], **numbers: object) -> None:
    for name, value in numbers.items():
        record_property(name, value)
