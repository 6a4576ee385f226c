"""`thpwatch snapshot` and `thpwatch doctor`: CliRunner on fixture trees, real runs on this host."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import subprocess

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, REPO, require
from rich.console import Console
from unit.fixturetree import tree

from thpwatch.cli import main
from thpwatch.diagnosis import AttachType, BpfReport, diagnose
from thpwatch.doctor_selftest import SelftestReport
from thpwatch.probes.selftest import SelftestRow
from thpwatch.snapshot import Snapshot, SourceStatus, State

NOTHING_READ = Snapshot(0, 0, (), ())

THPWATCH = REPO / ".venv/bin/thpwatch"
SERIES = ("reserved_thp", "pud_thp", "lazy_pte", "pmd_swap")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def statuses(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["statuses"]}


def samples(doc: dict, name: str) -> list[dict]:
    return [s for s in doc["samples"] if s["name"] == name]


def test_snapshot_json_on_the_patched_tree():
    result = run("snapshot", "--root", str(FIXTURES / "patched"), "--json")
    doc = json.loads(result.output)
    st = statuses(doc)
    assert st["features"]["state"] == "ok"
    assert st["kmsg"]["state"] == "ok"
    assert st["procscan.smaps"]["state"] == "absent" and "PUD THP" in st["procscan.smaps"]["reason"]
    (info,) = samples(doc, "thpwatch_kernel_info")
    assert {k: info["labels"][k] for k in SERIES} == dict.fromkeys(SERIES, "yes")
    assert samples(doc, "thpwatch_kmsg_boot_reserved_hpages")[0]["value"] == 64
    assert samples(doc, "thpwatch_cgroup_v1_rss_huge_bytes")
    assert not samples(doc, "thpwatch_process_reserved_thp_bytes")  # smaps off: not faked
    assert result.exit_code == 0, [s for s in doc["statuses"] if s["state"] != "ok"]


def test_snapshot_forced_smaps_and_pids():
    result = run(
        "snapshot", "--root", str(FIXTURES / "patched"), "--json",
        "--process-smaps", "on", "--pid-labels", "--top", "1",
    )  # fmt: skip
    doc = json.loads(result.output)
    (held,) = samples(doc, "thpwatch_process_reserved_thp_bytes")
    assert held["labels"] == {"comm": "vmhost", "pid": "1200"} and held["value"] == 128 << 20


def test_snapshot_table_on_the_stock_tree():
    result = run("snapshot", "--root", str(FIXTURES / "stock"), "--no-processes")
    assert "thpwatch_kernel_info" in result.output
    assert "features" in result.output and "procscan" not in result.output


def test_snapshot_on_malformed_tree_names_files_and_exits_1(tmp_path):
    root = tree(tmp_path, "processes-garbled")
    result = run("snapshot", "--root", str(root), "--json", "--process-smaps", "on")
    doc = json.loads(result.output)
    assert result.exit_code == 1
    reason = statuses(doc)["procscan"]["reason"]
    assert f"{root}/proc/500/smaps: line 26" in reason
    assert statuses(doc)["features"]["state"] == "ok"  # the rest still reported
    assert samples(doc, "thpwatch_reserved_thp_pool_hpages")


def test_usage_error_is_2():
    assert CliRunner().invoke(main, ["snapshot", "--process-smaps", "maybe"]).exit_code == 2


@pytest.mark.parametrize("command", ["snapshot", "doctor"])
def test_help_has_examples_and_exit_codes(command):
    out = run(command, "--help").output
    assert "Examples:" in out and f"thpwatch {command}" in out
    assert "Exit codes:" in out and "3  a source is blocked" in out


def test_doctor_json_on_the_patched_tree():
    result = run("doctor", "--root", str(FIXTURES / "patched"), "--json")
    doc = json.loads(result.output)
    present = {f["key"]: f["present"] for f in doc["kernel"]["series"]}
    assert present == dict.fromkeys(SERIES, "yes")
    lazy = next(f for f in doc["kernel"]["series"] if f["key"] == "lazy_pte")
    assert "pgtable_t pgtable" in lazy["evidence"][0]["found"]
    assert doc["bpf"]["tried"] is False and "fixture tree" in doc["bpf"]["skipped"]
    assert {s["name"] for s in doc["sources"]} >= {"features", "kmsg", "procscan", "cgroups"}
    smaps = [f for f in doc["findings"] if f["problem"].startswith("procscan.smaps")]
    assert smaps and smaps[0]["severity"] == "info" and "--process-smaps=on" in smaps[0]["fix"]


def test_doctor_table_on_the_stock_tree():
    result = run("doctor", "--root", str(FIXTURES / "stock"), "--no-processes")
    assert "Patch series" in result.output and "Reserved THP pool" in result.output
    assert "split_huge_pmd_locked" in result.output


def _this_machines_bpf() -> BpfReport:
    """What probes.capabilities reports here (shape test; the live test tries for real)."""
    return BpfReport(
        (
            AttachType("tracepoint", State.OK, None, "attached"),
            AttachType("raw_tracepoint", State.OK, None, "attached"),
            AttachType("fentry", State.BLOCKED, errno.EPERM, "EPERM: Operation not permitted"),
            AttachType("kprobe", State.ABSENT, errno.ENOENT, "ENOENT: kprobes not built in"),
        ),
        "/usr/src/linux-headers-6.12 (merged)",
        "/sys/kernel/tracing",
    )


def test_doctor_findings_for_refused_function_probes():
    d = diagnose(FIXTURES / "stock", NOTHING_READ, _this_machines_bpf)
    doc = d.to_json()
    assert [a["works"] for a in doc["bpf"]["attach_types"]] == [True, True, False, False]
    (warning,) = [f for f in d.findings if "function probes cannot attach" in f.problem]
    assert warning.severity == "warning" and "CONFIG_KPROBES" in warning.fix


def test_doctor_when_nothing_attaches():
    bpf = BpfReport((AttachType("tracepoint", State.ERROR, None, "compile failed"),), "", "")
    d = diagnose(FIXTURES / "stock", NOTHING_READ, lambda: bpf)
    assert any(f.problem.startswith("no BPF program can attach") for f in d.findings)


def _require_probes(module: str) -> None:
    require(os.geteuid() == 0, "needs root")
    name = f"thpwatch.probes.{module}"
    require(importlib.util.find_spec(name), f"needs {name} (probes branch)")


def _live_json(*args: str) -> tuple[int, dict]:
    proc = subprocess.run([str(THPWATCH), *args, "--json"], capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.live
def test_live_snapshot_subprocess():
    require(os.geteuid() == 0, "needs root")
    require(THPWATCH.exists(), "needs .venv/bin/thpwatch (scripts/setup)")
    code, doc = _live_json("snapshot", "--no-bpf", "--top", "3")
    st = statuses(doc)
    assert st["features"]["state"] == "ok" and st["kmsg"]["state"] == "ok"
    (info,) = samples(doc, "thpwatch_kernel_info")
    assert info["labels"]["release"] == os.uname().release
    assert {k: info["labels"][k] for k in SERIES} == dict.fromkeys(SERIES, "no")
    assert st["procscan.smaps"]["state"] == "ok"  # no PUD THP here: smaps is safe to read
    assert samples(doc, "thpwatch_cgroup_v1_total_rss_huge_bytes")  # hybrid host: v1 memory
    assert code == 0, [s for s in doc["statuses"] if s["state"] not in ("ok", "absent")]


@pytest.mark.live
def test_live_snapshot_as_nobody_is_blocked():
    require(os.geteuid() == 0, "needs root (to drop to nobody)")
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(THPWATCH),
         "snapshot", "--json", "--no-processes", "--no-bpf"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3
    assert statuses(doc)["kmsg"]["state"] == "blocked"
    # kallsyms names and BTF are world-readable: detection works without root
    assert statuses(doc)["features"]["state"] == "ok"
    (info,) = samples(doc, "thpwatch_kernel_info")
    assert {k: info["labels"][k] for k in SERIES} == dict.fromkeys(SERIES, "no")


@pytest.mark.live
@pytest.mark.bpf
def test_live_doctor_reports_this_machine():
    _require_probes("capabilities")
    code, doc = _live_json("doctor", "--no-processes")
    present = {f["key"]: f["present"] for f in doc["kernel"]["series"]}
    assert present["reserved_thp"] == "no" and present["pud_thp"] == "no"
    types = {a["name"]: a for a in doc["bpf"]["attach_types"]}
    assert types["tracepoint"]["works"] and types["raw_tracepoint"]["works"]
    assert not types["fentry"]["works"] and types["fentry"]["errno"] == errno.EPERM
    assert not types["kprobe"]["works"]
    assert doc["permissions"]["root"] is True
    assert code == 0, doc["findings"]


def test_doctor_groups_refused_probes_and_keeps_probe_errors_apart():
    probe = "probe"
    sts = (
        SourceStatus("__split_huge_pmd", probe, State.BLOCKED, "fentry: EPERM"),
        SourceStatus("do_swap_page", probe, State.BLOCKED, "fentry: EPERM"),
        SourceStatus("mm_page_alloc", probe, State.ERROR, "compile failed"),
        SourceStatus("pagetypeinfo", "source", State.BLOCKED, "/proc/pagetypeinfo: EACCES"),
    )
    findings = diagnose(FIXTURES / "stock", Snapshot(0, 0, (), sts), None).findings
    (refused,) = [f for f in findings if f.problem.startswith("probes refused")]
    assert refused.severity == "warning" and "__split_huge_pmd, do_swap_page" in refused.problem
    assert [f.severity for f in findings if f.problem.startswith("mm_page_alloc")] == ["error"]
    (blocked,) = [f for f in findings if f.problem.startswith("pagetypeinfo")]
    assert blocked.severity == "blocked" and "0400" in blocked.fix


def test_doctor_warns_when_evidence_disagrees(tmp_path):
    root = tree(tmp_path, base="stock")
    (root / "sys/kernel/mm/reserved_thp").mkdir()  # sysfs says yes, kallsyms and BTF say no
    findings = diagnose(root, NOTHING_READ, None).findings
    (f,) = [f for f in findings if f.problem.startswith("evidence disagrees on Reserved THP")]
    assert f.severity == "warning"


def test_doctor_selftest_rows_and_disagreements():
    rows = (
        SelftestRow("THP fault 2048kB (allocations of order 9)", 32, 32, 32, True),
        SelftestRow("PMD splits", 4, 4, 0, False, "kprobe attached but counted 0"),
        SelftestRow("PMD fault handler calls", 32, 32, None, None, "fentry blocked: EPERM"),
    )
    d = diagnose(FIXTURES / "stock", NOTHING_READ, None, lambda: SelftestReport(rows))
    doc = d.to_json()
    assert doc["selftest"]["ran"] and len(doc["selftest"]["rows"]) == 3
    (bad,) = [f for f in d.findings if f.problem.startswith("self-test:")]
    assert "PMD splits: workload 4, kernel 4, thpwatch 0" in bad.problem
    assert bad.severity == "warning"


def test_doctor_selftest_that_could_not_run_is_an_error():
    d = diagnose(FIXTURES / "stock", NOTHING_READ, None, lambda: SelftestReport((), "no probes"))
    assert [f.severity for f in d.findings if "self-test did not run" in f.problem] == ["error"]


def test_doctor_selftest_needs_bpf():
    result = CliRunner().invoke(main, ["doctor", "--selftest", "--no-bpf"])
    assert result.exit_code == 2 and "--selftest needs BPF" in result.output


@pytest.mark.live
@pytest.mark.bpf
def test_live_doctor_selftest_without_swap():
    _require_probes("selftest")
    code, doc = _live_json("doctor", "--selftest", "--selftest-no-swap", "--no-processes")
    rows = {r["event"]: r for r in doc["selftest"]["rows"]}
    pmd = rows["THP fault 2048kB (allocations of order 9)"]
    assert pmd["workload"] == 32 and pmd["agree"], pmd
    assert code == 0, doc["findings"]


def _doctor_problems_on(root):
    result = CliRunner().invoke(main, ["doctor", "--json", "--root", str(root)])
    return [f["problem"] for f in json.loads(result.output)["findings"]]


def test_doctor_reports_a_converted_pageblock_with_its_numbers():
    problems = _doctor_problems_on(FIXTURES / "patched-unfixed")
    (violation,) = [p for p in problems if p.startswith("reserve_pageblocks_match_pool")]
    assert "(65 vs 64)" in violation and "converted" in violation


def test_doctor_reports_an_over_promised_quota():
    problems = _doctor_problems_on(FIXTURES / "patched-overquota")
    assert [p for p in problems if p.startswith("quota_backed_by_free_blocks violated")]


def test_doctor_is_quiet_about_a_consistent_pool():
    problems = _doctor_problems_on(FIXTURES / "patched")
    assert not [p for p in problems if "violated" in p or "rejected" in p]


def test_doctor_reports_boot_parameters_the_kernel_rejected(tmp_path):
    root = tree(tmp_path, base="patched")
    (root / "proc/cmdline").write_text("root=/dev/vda thp_reserved_size=1G thp_reserved_nr=16\n")
    (root / "dev/kmsg").write_text(
        "4,120,1000,-;unsupported thp_reserved_size=1G, only 2097152 is supported\n"
    )
    problems = _doctor_problems_on(root)
    (rejected,) = [p for p in problems if "rejected" in p]
    assert rejected.startswith("the kernel rejected thp_reserved_size=1G at boot")
    assert not [p for p in problems if p.startswith("thp_reserved_size on /proc/cmdline")]


# -- human output at 80 columns, through a real pipe -------------------------------------------


def _through_a_pipe(*argv: str, columns: str | None = None) -> str:
    """What a reader of `thpwatch ARGS | less` gets: stdout a pipe, COLUMNS as given (unset:
    rich falls back to 80 columns for a pipe)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    proc = subprocess.run([*argv], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("columns", [None, "80"])
def test_snapshot_values_readable_at_80_columns_through_a_pipe(columns):
    require(THPWATCH.exists(), "needs .venv/bin/thpwatch (scripts/setup)")
    out = _through_a_pipe(
        str(THPWATCH), "snapshot", "--root", str(FIXTURES / "patched"), "--no-processes",
        columns=columns,
    )  # fmt: skip
    assert max(len(line) for line in out.splitlines()) <= 80
    lines = out.splitlines()
    # the reserved pool's size (64 hpages) and a cgroup's bytes are on the rows of their labels
    pool = lines.index(next(x for x in lines if "thpwatch_reserved_thp_pool_hpages" in x))
    assert lines[pool].rstrip(" │").endswith(" 64")
    assert any("cgroup=/vmhost " in x and "134217728 (128.0 MiB)" in x for x in lines)
    mthp = [x for x in lines if "size=2048kB" in x]
    assert mthp and all(x.rstrip(" │").split()[-1].isdigit() for x in mthp), mthp


def test_doctor_evidence_readable_at_80_columns_through_a_pipe():
    require(THPWATCH.exists(), "needs .venv/bin/thpwatch (scripts/setup)")
    out = _through_a_pipe(
        str(THPWATCH), "doctor", "--root", str(FIXTURES / "patched"), "--no-processes"
    )
    assert max(len(line) for line in out.splitlines()) <= 80
    # an evidence line keeps its check and what was found on one line, not cut to 30 columns
    assert any("  symbol reserved_thp_charge in" in x for x in out.splitlines())
    assert "│ yes       │ Reserved THP pool" in out


def test_python_dash_m_thpwatch():
    proc = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "thpwatch", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Usage: thpwatch" in proc.stdout and "snapshot" in proc.stdout


def test_snapshot_prints_histograms_as_log2_bars():
    from thpwatch.commands.tables import histograms
    from thpwatch.probes.histogram import HIST_SLOTS, LogHist, histogram
    from thpwatch.snapshot import Sample

    slots = [0] * HIST_SLOTS
    slots[14], slots[15], slots[17] = 40, 10, 1  # 16-32 us, 32-65 us, 131-262 us
    busy = Sample(
        "thpwatch_fault_seconds", (("fault", "pmd_anon"),), histogram(LogHist(tuple(slots), 0))
    )
    idle = Sample(
        "thpwatch_split_seconds", (("level", "pmd"),), histogram(LogHist((0,) * HIST_SLOTS, 0))
    )
    console = Console(width=80, record=True)
    console.print(histograms([busy, idle]))
    text = console.export_text()
    lines = text.splitlines()
    assert "thpwatch_fault_seconds{fault=pmd_anon}  (count 51" in text
    assert "thpwatch_split_seconds" not in text  # nothing observed: no bars
    bars = {x.split(":")[0].strip(): x for x in lines if "->" in x}
    assert list(bars) == ["16384 -> 32767", "32768 -> 65535", "65536 -> 131071", "131072 -> 262143"]
    assert bars["16384 -> 32767"].count("*") == 40  # the fullest bucket fills the bar
    assert bars["32768 -> 65535"].count("*") == 10
    assert bars["65536 -> 131071"].count("*") == 0 and ": 0 " in bars["65536 -> 131071"]
    assert max(map(len, lines)) <= 80
    assert histograms([idle]) is None


def test_snapshot_command_prints_the_bars_of_observed_histograms(monkeypatch):
    from thpwatch.commands import snapshot as snapshot_command
    from thpwatch.probes.histogram import HIST_SLOTS, LogHist, histogram
    from thpwatch.snapshot import Sample

    slots = [0] * HIST_SLOTS
    slots[20] = 3
    h = Sample("thpwatch_compaction_seconds", (), histogram(LogHist(tuple(slots), 3 << 20)))
    snap = Snapshot(0, 0, (h,), ())
    monkeypatch.setattr(snapshot_command, "read_once", lambda root, options: snap)
    out = run("snapshot", "--no-bpf").output
    assert "Histograms" in out
    assert "1048576 -> 2097151 : 3" in out
