"""The systemd VM lane (tests/systemd/lane.py): the package installed in Debian 12, booted with
systemd as PID 1 on Debian's 6.12 kernel under QEMU. One boot per session; each test asserts
one item of what the guest (guest.py) and the host recorded."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, require

from systemd import lane
from systemd.conftest import build_deb

pytestmark = pytest.mark.vm
DOC = REPO / "docs" / "exporter.md"


@pytest.fixture(scope="module")
def result(deb: Path, tmp_path_factory) -> dict:
    require(os.geteuid() == 0, "needs root (debootstrap, chroot, mkfs)")
    require(shutil.which("apt-get"), "needs Debian's apt (the lane installs qemu, debootstrap)")
    version = deb.name.split("_")[1]
    newer = build_deb(tmp_path_factory.mktemp("newer"), version=f"{version}+lane1")
    work = tmp_path_factory.mktemp("lane")
    return lane.run(deb, newer, work)


def record(result: dict, check: str) -> dict:
    found = [r for r in result["guest"] if r["check"] == check]
    stuck = [r for r in result["guest"] if r["check"] in ("crash", "timeout")]
    host = {k: v for k, v in result["host"].items() if k != "scrape"}
    assert found, f"no '{check}' record; guest crashes and timeouts: {stuck}; host: {host}"
    return found[-1]


def test_the_guest_ran_every_step(result):
    assert [r for r in result["guest"] if r["check"] in ("crash", "timeout")] == []
    record(result, "done")
    assert record(result, "boot")["kernel"].startswith("6.12.")


def test_the_service_is_active_after_boot(result):
    assert record(result, "boot")["state"] == "active"


def test_ready_came_after_the_probes_attached(result):
    """Type=notify: systemd logs the unit started when READY=1 arrives; the daemon logs the
    probes it attached just before sending it."""
    journal = [e["MESSAGE"] for e in record(result, "boot")["journal"]]
    attached = [i for i, m in enumerate(journal) if re.search(r": [1-9]\d* probes attached: ", m)]
    started = [i for i, m in enumerate(journal) if m.startswith("Started thpwatch")]
    assert attached and started, journal
    assert attached[0] < started[0], journal


def test_metrics_answer_from_the_host_through_hostfwd(result):
    scrape = result["host"]["scrape"]
    assert scrape["status"] == 200, scrape
    assert 'thpwatch_source_state{source="bpf",state="ok"} 1.0' in scrape["body"]


def test_the_probes_under_the_units_sandbox_reach_what_doctor_reaches_as_root(result):
    states = record(result, "states")
    unit, doctor = states["unit"], states["doctor"]
    probes = {k: v for k, v in doctor.items() if k.startswith("probe ")}
    assert probes, states
    assert {k: unit.get(k) for k in probes} == probes
    assert unit["source bpf"] == doctor["source bpf"] == "ok"
    # Debian's 6.12 allows both kinds: tracepoints (madvise, compaction) and fentry function
    # probes (the fault, swap-in and split functions).
    for probe in ("madvise", "compaction", "do_huge_pmd_anonymous_page", "do_swap_page"):
        assert unit[f"probe {probe}"] == "ok", probe


def test_descriptors_stay_well_under_the_units_limit(result):
    fds = record(result, "fds")
    assert fds["limit"] == "4096"
    assert 0 < fds["open"] < int(fds["limit"]) // 8, fds


def test_kill_9_restarts_it_and_leaves_no_bpf_programs_of_the_dead_one(result):
    kill = record(result, "kill9")
    assert kill["restarted"]["state"] == "active"
    assert kill["restarted"]["pid"] not in (0, kill["old_pid"])
    assert kill["progs_before"], kill
    assert kill["progs_left"] == []
    assert kill["progs_new"], kill


def test_a_stopped_daemon_is_killed_by_the_watchdog_and_restarted(result):
    """The stopped daemon is the blocked-probe step's; restarted without its drop-in, all the
    probes are back."""
    dog = record(result, "watchdog")
    assert dog["restarted"]["state"] == "active"
    assert dog["restarted"]["pid"] not in (0, dog["old_pid"])
    assert "thpwatch.service: Failed with result 'watchdog'." in dog["messages"], dog["messages"]
    assert dog["states"]["source bpf"] == "ok"
    assert "blocked" not in dog["states"].values(), dog["states"]


def test_a_blocked_probe_is_logged_at_warning_priority(result):
    blocked = record(result, "blocked")
    assert "blocked" in blocked["states"].values(), blocked
    names = [k.split(" ", 1)[1] for k, v in blocked["states"].items() if v == "blocked"]
    assert any(f"probe {n}: blocked" in line for n in names for line in blocked["warnings"])


def test_the_exposure_scores_are_the_ones_in_the_docs(result):
    scores = record(result, "security")["scores"]
    text = DOC.read_text()
    for unit, (score, _verdict) in scores.items():
        assert re.search(rf"\| `{unit}\.service` [^|]*\| {re.escape(score)} ", text), (unit, score)


def test_an_upgrade_keeps_the_edited_defaults_and_restarts_the_service(result):
    up = record(result, "upgrade")
    assert up["rc"] == 0, up["output"]
    assert up["version"] == up["wanted"]
    assert up["default_kept"]
    assert up["restarted"]["state"] == "active"
    assert up["restarted"]["pid"] not in (0, up["old_pid"])
    assert "--log-level" in up["cmdline"], up["cmdline"]


def test_purge_leaves_no_unit_no_user_no_files(result):
    purge = record(result, "purge")
    assert purge["rc"] == 0
    assert purge["files"] > 20
    assert purge["leftovers"] == []
    assert not purge["unit_known"] and purge["load_state"] == "not-found"
    assert purge["user"] == ""
    assert purge["progs_before"] and purge["progs_left"] == []
    assert purge["processes"] == []


def test_a_dedicated_user_with_the_units_capabilities_loses_bpf_and_pagetypeinfo(result):
    """Why the unit runs as uid 0 (docs/exporter.md "Why uid 0"): as a transient system user
    (DynamicUser=yes) with CAP_BPF, CAP_PERFMON and CAP_SYSLOG as ambient capabilities, the BPF
    source is blocked (thpwatch's loader requires uid 0) and so is /proc/pagetypeinfo (0400
    root). If this test fails, a dedicated user may have become possible: revisit the unit."""
    user = record(result, "dedicated_user")
    assert user["uid"] and user["uid"][0] != "0", user
    assert user["restarted"]["state"] == "active"
    assert user["states"]["source bpf"] == "blocked"
    assert user["states"]["source pagetypeinfo"] == "blocked"
    warnings = "\n".join(user["warnings"])
    assert "source bpf: blocked" in warnings and "BPF probes need root" in warnings
