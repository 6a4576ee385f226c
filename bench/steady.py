"""Daemon steady state: CPU % of one core and memory of `thpwatch run` (default config, TUI
closed) scraped every 15 s, next to node_exporter scraped at the same moments."""

from __future__ import annotations

import time
from typing import Any

from bench import daemons, procstat
from bench.scrape import scrape


def run(window: float = 120.0, interval: float = 15.0) -> dict[str, Any]:
    with daemons.node_exporter() as node, daemons.thpwatch() as tw:
        start_cpu = procstat.cpu_seconds(tw.pid)  # everything start-up took, BPF compile included
        targets = (tw, node)
        for t in targets:
            scrape(t.url)  # the first scrape's one-off costs are start-up, not steady state
        cpu0 = {t.name: procstat.cpu_seconds(t.pid) for t in targets}
        t0 = time.monotonic()
        scrapes = 0
        while True:
            wake = t0 + scrapes * interval
            if wake >= t0 + window:
                break
            time.sleep(max(0.0, wake - time.monotonic()))
            for t in targets:
                scrape(t.url)
            scrapes += 1
        time.sleep(max(0.0, t0 + window - time.monotonic()))
        wall = time.monotonic() - t0
        result: dict[str, Any] = {
            "window_seconds": wall,
            "scrape_interval_seconds": interval,
            "scrapes": scrapes,
            "thpwatch_ready_seconds": tw.ready_seconds,
            "thpwatch_startup_cpu_seconds": start_cpu,
        }
        for t in targets:
            used = procstat.cpu_seconds(t.pid) - cpu0[t.name]
            mem = procstat.memory(t.pid)
            result[t.name] = {
                "cpu_percent_of_one_core": used / wall * 100,
                "cpu_seconds": used,
                "rss_bytes": mem.rss_bytes,
                "peak_rss_bytes": mem.hwm_bytes,
                "rss_anon_bytes": mem.anon_bytes,
                "rss_file_bytes": mem.file_bytes,
            }
    return result
