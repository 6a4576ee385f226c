"""Concurrent scrapers against /metrics: errors and latency percentiles (bench and e2e tests)."""

from __future__ import annotations

import statistics
import threading
import time
import urllib.request
from dataclasses import dataclass


@dataclass
class LoadResult:
    scrapers: int
    scrapes_each: int
    requests: int
    errors: int
    first_error: str
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    bytes_per_scrape: int

    def summary(self) -> str:
        return (
            f"{self.scrapers} scrapers x {self.scrapes_each} scrapes = {self.requests} requests "
            f"in {self.seconds:.1f} s ({self.requests / self.seconds:.0f}/s), "
            f"{self.errors} errors; latency p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms; {self.bytes_per_scrape} bytes"
        )


def run_load(url: str, scrapers: int, scrapes_each: int, timeout: float = 60) -> LoadResult:
    latencies: list[float] = []
    errors: list[str] = []
    sizes: list[int] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(scrapers)

    def scraper() -> None:
        start_gate.wait()
        mine, my_errors = [], []
        for _ in range(scrapes_each):
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    body = r.read()
                    if r.status != 200 or b"thpwatch_scrape_duration_seconds" not in body:
                        my_errors.append(f"status {r.status}, {len(body)} bytes")
                    else:
                        sizes.append(len(body))
            except Exception as e:  # every failure counts, whatever it is
                my_errors.append(f"{type(e).__name__}: {e}")
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors.extend(my_errors)

    threads = [threading.Thread(target=scraper) for _ in range(scrapers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        scrapers,
        scrapes_each,
        len(latencies),
        len(errors),
        errors[0] if errors else "",
        took,
        q[49] * 1e3,
        q[89] * 1e3,
        q[98] * 1e3,
        max(latencies) * 1e3,
        int(statistics.median(sizes)) if sizes else 0,
    )
