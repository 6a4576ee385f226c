"""Scrape cost: /metrics latency and CPU per scrape of thpwatch, side by side with
node_exporter (meminfo + vmstat only), scrapes interleaved one by one in the same session."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import daemons, procstat
from bench.crowd import idle_processes, memory_cgroups
from bench.growth import scan_cost
from bench.stats import alternation, paired, summarize


def scrape(url: str) -> tuple[float, bytes]:
    """One scrape on a fresh connection (as Prometheus does after a keep-alive timeout):
    seconds from connect to the last byte, and the body."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
    return time.perf_counter() - t0, body


def sample_sum(body: bytes, name: str) -> float | None:
    """The sum of every sample of `name` (any labels) in an exposition body; None if none."""
    pattern = rb"^" + re.escape(name.encode()) + rb"(?:\{[^}]*\})? ([0-9.e+-]+)$"
    values = [float(v) for v in re.findall(pattern, body, re.MULTILINE)]
    return sum(values) if values else None


def by_label(body: bytes, name: str, label: str) -> dict[str, float]:
    """{label value: sample value} of every sample of `name` carrying `label`."""
    pattern = (
        rb"^" + re.escape(name.encode()) + rb"\{[^}]*" + re.escape(label.encode())
        + rb'="([^"]*)"[^}]*\} ([0-9.e+-]+)$'
    )  # fmt: skip
    found = re.findall(pattern, body, re.MULTILINE)
    return {k.decode(): float(v) for k, v in found}


@dataclass
class Series:
    """Scrapes of one exporter within an interleaved session."""

    latencies: list[float] = field(default_factory=list)
    cpu_before: float = 0.0
    cpu_after: float = 0.0
    last_body: bytes = b""

    def result(self, pid: int) -> dict[str, Any]:
        mem = procstat.memory(pid)
        return {
            "latency_ms": summarize([s * 1e3 for s in self.latencies]).as_dict(),
            "cpu_ms_per_scrape": (self.cpu_after - self.cpu_before) * 1e3 / len(self.latencies),
            "bytes_per_scrape": len(self.last_body),
            "series": sum(
                1 for line in self.last_body.splitlines() if line and not line.startswith(b"#")
            ),
            "rss_bytes": mem.rss_bytes,
        }


def interleaved(targets: Sequence[daemons.Running], scrapes: int) -> dict[str, Series]:
    """`scrapes` scrapes of every target, one after the other (order reversed every round)."""
    by_name = {t.name: t for t in targets}
    series = {t.name: Series() for t in targets}
    for t in targets:
        scrape(t.url)  # warm: first scrape of a process pays one-off costs
        series[t.name].cpu_before = procstat.cpu_seconds(t.pid)
    for name in alternation(list(by_name), scrapes):
        took, body = scrape(by_name[name].url)
        series[name].latencies.append(took)
        series[name].last_body = body
    for t in targets:
        series[t.name].cpu_after = procstat.cpu_seconds(t.pid)
    return series


@dataclass(frozen=True)
class Scenario:
    name: str
    args: tuple[str, ...] = ()
    extra_processes: int = 0
    extra_cgroups: int = 0


SCENARIOS = (
    Scenario("default"),
    Scenario("default, --no-bpf", ("--no-bpf",)),
    Scenario("--per-process (host processes only)", ("--per-process",)),
    Scenario("--per-process, +100 idle processes", ("--per-process",), extra_processes=100),
    Scenario("--per-process, +1000 idle processes", ("--per-process",), extra_processes=1000),
    Scenario("--per-cgroup, +100 cgroups", ("--per-cgroup",), extra_cgroups=100),
    Scenario("--per-cgroup, +1000 cgroups", ("--per-cgroup",), extra_cgroups=1000),
)


def run_scenario(
    scenario: Scenario, node: daemons.Running, scrapes: int, scan_reps: int
) -> dict[str, Any]:
    with (
        idle_processes(scenario.extra_processes),
        memory_cgroups(scenario.extra_cgroups),
        daemons.thpwatch(*scenario.args) as tw,
    ):
        series = interleaved([tw, node], scrapes)
        mine, theirs = series["thpwatch"], series["node_exporter"]
        body = mine.last_body
        result = {
            "scenario": scenario.name,
            "args": list(scenario.args),
            "thpwatch_ready_seconds": tw.ready_seconds,
            "processes_scanned": sample_sum(body, "thpwatch_process_scan_processes"),
            "cgroups_scanned": sample_sum(body, "thpwatch_cgroup_scan_cgroups"),
            "processes_skipped": by_label(body, "thpwatch_process_scan_skipped", "reason"),
            "thpwatch": mine.result(tw.pid),
            "source_seconds": by_label(body, "thpwatch_source_duration_seconds", "source"),
            "node_exporter": theirs.result(node.pid),
            "latency_ratio": paired(theirs.latencies, mine.latencies).as_dict(),
            "scan": scan_cost(
                processes="--per-process" in scenario.args,
                cgroups="--per-cgroup" in scenario.args,
                reps=scan_reps,
            ),
        }
    return result


def run(scrapes: int = 100, scan_reps: int = 3) -> dict[str, Any]:
    with daemons.node_exporter() as node:
        results = []
        for scenario in SCENARIOS:
            print(f"  scrape: {scenario.name}", flush=True)
            results.append(run_scenario(scenario, node, scrapes, scan_reps))
    return {
        "scrapes_per_scenario": scrapes,
        "node_exporter_args": daemons.NODE_EXPORTER_ARGS,
        "scenarios": results,
    }
