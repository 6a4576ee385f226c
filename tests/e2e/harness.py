"""A real Prometheus server for end-to-end tests (the `thpwatch run` processes it scrapes are
bench/daemons.py's, shared with the benchmarks).

Used through the fixtures in conftest.py; importable by other e2e tests (dashboards, rules)
that need to run PromQL against a Prometheus that really scraped thpwatch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.daemons import free_port, http_get, wait_until


class PromQLError(Exception):
    """Prometheus refused a query: the message is Prometheus' own error."""


@dataclass
class Prometheus:
    """A running Prometheus server on loopback with its own config and storage."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.url}/api/v1/{path}?{query}")
        data = json.loads(body)
        if data.get("status") != "success":
            raise PromQLError(f"{path} {params}: {data.get('errorType')}: {data.get('error')}")
        return data["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query: the result list (each {"metric": labels, "value": [t, "v"]})."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        return self.api("query", **params)["result"]

    def value(self, expr: str) -> float | None:
        """The single value of an expression that selects one series (None: no series)."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) != 1:
            raise AssertionError(f"{expr} selects {len(result)} series, expected one")
        return float(result[0]["value"][1])

    def targets(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def wait_for_scrapes(self, job: str, count: int = 1, timeout: float = 30) -> None:
        """Until every target of job has been scraped successfully `count` more times."""

        def scraped_ok() -> list[str] | None:
            targets = [t for t in self.targets() if t["labels"].get("job") == job]
            if not targets or any(t["health"] != "up" for t in targets):
                return None
            return [t["lastScrape"] for t in targets]

        for _ in range(count):
            before = wait_until(scraped_ok, timeout, f"a successful scrape of job {job}")
            wait_until(
                lambda b=before: (now := scraped_ok()) and now != b,
                timeout,
                f"the next scrape of job {job}",
            )

    def last_scrape(self, job: str) -> tuple[float, float]:
        """(start as epoch seconds, duration) of the latest scrape of job's single target."""
        (target,) = [t for t in self.targets() if t["labels"].get("job") == job]
        return parse_rfc3339(target["lastScrape"]), float(target["lastScrapeDuration"])

    def bracketed_scrape(self, job: str, read: Any, attempts: int = 5) -> tuple[float, Any, Any]:
        """A scrape that started after read() and ended before a second read().

        Returns (scrape start, first reading, second reading): for a monotonic kernel counter
        the scraped value must lie between the two readings.
        """
        for _ in range(attempts):
            t0, before = time.time(), read()
            self.wait_for_scrapes(job)
            after, t1 = read(), time.time()
            start, duration = self.last_scrape(job)
            if t0 < start and start + duration < t1:
                return start, before, after
        raise AssertionError(f"no scrape of {job} fell between two readings in {attempts} tries")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def parse_rfc3339(text: str) -> float:
    """Prometheus' timestamps carry nanoseconds; Python parses microseconds."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def start_prometheus(
    workdir: Path,
    scrape_configs: list[dict[str, Any]],
    scrape_interval: str = "1s",
    rule_files: list[str] | None = None,
) -> Prometheus:
    """Start Prometheus on a free loopback port; returns once it answers /-/ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": scrape_configs,
    }
    if rule_files:
        config["rule_files"] = rule_files
    config_path = workdir / "prometheus.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    port = free_port()
    log_path = workdir / "prometheus.log"
    binary = prometheus_binary()
    assert binary is not None
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", process, workdir, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited {process.returncode}:\n{prom.log()[-2000:]}")
        try:
            return http_get(f"{prom.url}/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    try:
        wait_until(ready, 30, "prometheus to become ready", 0.2)
    except BaseException:
        prom.stop()
        raise
    return prom


def scrape_config(job: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [target]}], **extra}


def probes_in_this_checkout() -> bool:
    """The BPF probe source is part of this build (it lands separately from the exporter)."""
    import importlib.util

    return importlib.util.find_spec("thpwatch.probes.source") is not None
