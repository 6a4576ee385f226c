"""The bench harness's pieces on tiny inputs: statistics, A/B order, /proc and fdinfo parsing,
exposition parsing, table rendering. Nothing here is timed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# bench/ is a top-level package beside tests/, not installed: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import bpfstats, procstat, report  # noqa: E402
from bench.scrape import by_label, sample_sum  # noqa: E402
from bench.stats import alternation, paired, percentile, summarize  # noqa: E402


def test_percentile_interpolates_between_ranks():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([0, 100], 99) == pytest.approx(99)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summary():
    s = summarize([3.0, 1.0, 2.0])
    assert (s.n, s.median, s.minimum, s.maximum) == (3, 2.0, 1.0, 3.0)


def test_paired_ratios_are_per_pair_not_ratio_of_medians():
    # A drifts upwards; B is always 10 % above the A run next to it.
    a = [1.0, 2.0, 4.0]
    b = [1.1, 2.2, 4.4]
    p = paired(a, b)
    assert p.median_ratio == pytest.approx(1.1)
    assert p.added_percent == pytest.approx(10.0)
    assert (p.median_a, p.median_b) == (2.0, 2.2)
    assert p.as_dict()["added_percent"] == pytest.approx(10.0)


def test_paired_refuses_unequal_counts():
    with pytest.raises(ValueError, match="equal, non-zero"):
        paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="equal, non-zero"):
        paired([], [])


def test_alternation_reverses_every_other_round():
    assert alternation(["none", "default", "alloc"], 3) == [
        "none", "default", "alloc",
        "alloc", "default", "none",
        "none", "default", "alloc",
    ]  # fmt: skip


def test_procstat_reads_cpu_and_memory(tmp_path: Path):
    pid = tmp_path / "42"
    pid.mkdir()
    # comm with a space and a parenthesis: fields are counted after the last ')'
    fields = ["S"] + ["0"] * 10 + [str(procstat.TICK * 3), str(procstat.TICK * 2)] + ["0"] * 30
    (pid / "stat").write_text(f"42 (odd) name) {' '.join(fields)}\n")
    (pid / "status").write_text(
        "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\n"
    )
    assert procstat.cpu_seconds(42, tmp_path) == 5.0
    mem = procstat.memory(42, tmp_path)
    assert (mem.rss_bytes, mem.hwm_bytes) == (1 << 20, 2 << 20)
    assert (mem.anon_bytes, mem.file_bytes) == (768 << 10, 256 << 10)


def test_procstat_on_this_process():
    import os

    assert procstat.cpu_seconds(os.getpid()) > 0
    assert procstat.memory(os.getpid()).rss_bytes > 0


FDINFO = """pos:	0
flags:	02000002
mnt_id:	15
ino:	2068
prog_type:	5
prog_jited:	1
prog_tag:	a04f5eef06a7f555
memlock:	4096
prog_id:	97
run_time_ns:	1500
run_cnt:	20
recursion_misses:	0
verified_insns:	9
"""


def test_fdinfo_parsing_and_deltas():
    after = bpfstats.parse_fdinfo(FDINFO)
    assert after == bpfstats.RunStats(1500, 20)
    before = bpfstats.RunStats(500, 10)
    d = bpfstats.delta({"p": after, "q": after}, {"p": before})
    assert d == {"p": bpfstats.RunStats(1000, 10)}  # q was not there before: no delta
    assert d["p"].ns_per_run == 100
    assert bpfstats.RunStats(0, 0).ns_per_run is None


def test_fdinfo_without_stats_names_the_file():
    with pytest.raises(bpfstats.StatsUnavailable, match="/proc/self/fdinfo/7: no run_time_ns"):
        bpfstats.parse_fdinfo("pos:\t0\n", "/proc/self/fdinfo/7")


BODY = b"""# HELP thpwatch_cgroup_scan_cgroups x
thpwatch_cgroup_scan_cgroups{hierarchy="v1"} 12.0
thpwatch_cgroup_scan_cgroups{hierarchy="v2"} 3.0
thpwatch_process_scan_processes 57.0
thpwatch_source_duration_seconds{source="vmstat"} 0.002
thpwatch_source_duration_seconds{source="bpf"} 1.5e-03
"""


def test_exposition_parsing():
    assert sample_sum(BODY, "thpwatch_cgroup_scan_cgroups") == 15.0
    assert sample_sum(BODY, "thpwatch_process_scan_processes") == 57.0
    assert sample_sum(BODY, "thpwatch_nothing") is None
    assert by_label(BODY, "thpwatch_source_duration_seconds", "source") == {
        "vmstat": 0.002,
        "bpf": 0.0015,
    }


def _paired(added: float) -> dict[str, float]:
    r = 1 + added / 100
    return {"n": 2, "median_ratio": r, "q1_ratio": r, "q3_ratio": r, "median_a": 0.01,
            "median_b": 0.01 * r, "added_percent": added}  # fmt: skip


MACHINE = {
    "machine": {"date_utc": "2026-01-01T00:00:00Z", "commit": "abc", "kernel": "6.18",
                "cpus": 2, "cpu_model": "cpu", "load_average_1_5_15": [1.0, 1.0, 1.0]},
    "load_average_after": [1.0, 1.0, 1.0],
    "quick": False,
}  # fmt: skip


def _probes_result() -> dict:
    ab = {"default": {"cpu": _paired(0.5), "wall": _paired(0.7)},
          "alloc": {"cpu": _paired(3.0), "wall": _paired(2.0)}}  # fmt: skip
    stats = {"bpf_share_percent": 0.4, "programs": {
        "tracepoint__kmem__mm_page_alloc": {"group": "alloc", "ns_per_event": 70.0,
                                            "events_per_workload_run": 300.0}}}  # fmt: skip
    workloads = {
        "a": {"title": "THP storm", "rounds": 2, "ab": {"vs_none": ab}, "stats": stats},
        "b": {"title": "4K storm", "rounds": 2, "ab": {"vs_none": {**ab, "default": {
            "cpu": _paired(6.0), "wall": _paired(6.0)}}}, "stats": stats},
    }  # fmt: skip
    probes = {"do_swap_page": {"group": "swapin", "state": "blocked", "reason": "EPERM"}}
    return {**MACHINE, "data": {"workloads": workloads, "probes": probes}}


def test_report_renders_targets_and_tables(tmp_path: Path):
    results = {"probes": _probes_result()}
    text = report.render(results)
    assert (
        "| default probe set on (a) | ≤ 1 % CPU added | +0.5 % (IQR +0.5 % … +0.5 %) | met |"
        in text
    )
    assert (
        "| default probe set on (b) | ≤ 2 % CPU added | +6.0 % (IQR +6.0 % … +6.0 %) | **missed** |"
        in text
    )
    assert "| default probe set on (c) | ≤ 2 % CPU added | – | not measured |" in text
    assert "| (a) | kmem:mm_page_alloc | alloc | 70 | 300 |" in text
    assert "do_swap_page (swapin): blocked, EPERM" in text
    # round trip through results/*.json and the README markers, text around them kept
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "probes.json").write_text(json.dumps(results["probes"]))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{report.START}\nold\n{report.END}\n\noutro\n")
    report.update_readme(readme, report.load_results(tmp_path / "results"))
    out = readme.read_text()
    assert out.startswith("intro\n") and out.endswith("\noutro\n")
    assert "old" not in out and "| default probe set on (a) |" in out


def test_overhead_verdict_needs_the_whole_iqr_on_one_side():
    def p(q1: float, q3: float) -> dict[str, float]:
        return {"q1_ratio": 1 + q1 / 100, "q3_ratio": 1 + q3 / 100}

    assert report.overhead_verdict(p(-1, 0.9), 0.5, 1.0) == "met"
    assert report.overhead_verdict(p(2.5, 6), 0.5, 2.0) == "**missed**"
    spans = report.overhead_verdict(p(0.5, 6), 2.3, 2.0)
    assert spans.startswith("not resolved") and "2.30 %: **likely missed**" in spans
    assert report.overhead_verdict(p(-5, 5), 0.7, 1.0).endswith("take 0.70 %")


def test_report_refuses_a_readme_without_markers(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="no .*results:start"):
        report.update_readme(readme, {})
