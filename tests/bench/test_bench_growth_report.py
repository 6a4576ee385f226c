"""The report's growth (scrapers, THP sizes) and pagetypeinfo sections and the daemon targets
render from results as the bench writes them."""

from __future__ import annotations

from bench import report

MACHINE = {
    "machine": {
        "date_utc": "2026-12-07T17:30:00Z",
        "commit": "abc1234",
        "kernel": "6.18",
        "cpus": 2,
        "cpu_model": "AMD EPYC",
        "load_average_1_5_15": [1.0, 1.0, 1.0],
    },
    "load_average_after": [1.0, 1.0, 1.0],
}


def test_concurrency_and_pagetypeinfo_sections() -> None:
    results = {
        "concurrency": {
            **MACHINE,
            "data": {
                "scrapers": [
                    {
                        "scrapers": 10,
                        "requests": 300,
                        "errors": 0,
                        "p50_ms": 20.04,
                        "p99_ms": 50.0,
                        "cpu_ms_per_request": 3.25,
                        "requests_per_second": 120.4,
                    }
                ],
                "mthp_sizes": [
                    {"sizes": 1, "files": 20, "cpu_ms": 0.1},
                    {"sizes": 9, "files": 180, "cpu_ms": 0.9},
                ],
            },
        },
        "pagetypeinfo": {
            **MACHINE,
            "data": {
                "mem_total_bytes": 24 << 30,
                "states": [
                    {
                        "fragmented_mib": 0,
                        "reads": 200,
                        "sys_ms_mean": 1.5,
                        "wall_ms_median": 2.0,
                        "wall_ms_p90": 3.0,
                        "free_chunks": 10000,
                        "free_pages": 1 << 20,
                        "order0_chunks": 2000,
                        "capped_lists": 0,
                    }
                ],
            },
        },
    }
    text = report.render(results)
    assert "| 10 | 300 | 0 | 20.0 | 50.0 | 3.2 | 120 |" in text
    assert "grows by about 0.10 ms per THP size" in text
    assert "| 9 | 180 | 0.90 |" in text
    assert "| as found | 4.0 GiB | 10000 | 2000 | 0 | 1.50 | 2.00 / 3.00 |" in text
    assert "spent 0.15 µs of system time per free chunk" in text


def test_daemon_targets_from_scrape_and_steady_results() -> None:
    def scenario(name: str, median: float, p99: float, cpu: float) -> dict:
        latency = {"median": median, "p99": p99}
        return {
            "scenario": name,
            "args": [],
            "thpwatch_ready_seconds": 1.0,
            "thpwatch": {"latency_ms": latency, "cpu_ms_per_scrape": cpu},
        }

    results = {
        "scrape": {
            **MACHINE,
            "data": {
                "scenarios": [
                    scenario("default", 4.0, 6.0, 4.5),
                    scenario("--per-process, +1000 idle processes", 5.5, 9.0, 5.0),
                    scenario("--per-cgroup, +1000 cgroups", 7.0, 9.0, 5.0),
                ]
            },
        },
        "steady": {
            **MACHINE,
            "data": {
                "thpwatch": {
                    "cpu_percent_of_one_core": 0.05,
                    "rss_bytes": 40 << 20,
                    "peak_rss_bytes": 80 << 20,
                },
                "thpwatch_ready_seconds": 2.0,
            },
        },
        "startup": {
            **MACHINE,
            "data": {
                "helper_loads": [{"helper_peak_rss_bytes": 180 << 20, "parent_rss_bytes": 17 << 20}]
            },
        },
    }
    text = report.targets_section(results)
    assert "| /metrics median, default config | ≤ 5 ms | 4.0 ms | met |" in text
    assert "| CPU per scrape, default config | ≤ 5 ms | 4.5 ms | met |" in text
    assert "| /metrics median, --per-process (1,000) | unchanged (≤ default p99, 6.0 ms) |" in text
    assert "5.5 ms (CPU 5.0 ms) | met |" in text and "7.0 ms (CPU 5.0 ms) | **missed** |" in text
    assert "| steady RSS | ≤ 60 MiB | 40 MiB | met |" in text
    assert "| peak RSS of the daemon, start-up included | ≤ 150 MiB | 80 MiB | met |" in text
    assert "180 MiB (with the daemon's RSS then: 197 MiB) | **missed** |" in text
    assert "| ready | ≤ 1.5 s | 2.00 s | **missed** |" in text
