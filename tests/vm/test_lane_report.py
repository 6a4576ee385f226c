"""The VM lane's verdict logic, on pytest junit reports like the guest writes (no VM needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.vm import guestvm, lane

PASSED_WITH_NUMBERS = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2">
<testcase classname="tests.bpf.test_function_probes" name="test_pmd_faults">
  <properties><property name="thp_fault_alloc" value="32"/>
  <property name="thpwatch_faults_total" value="32"/></properties>
</testcase>
<testcase classname="tests.bpf.test_function_probes" name="test_splits"/>
</testsuite></testsuites>"""

ONE_FAILED = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2">
<testcase classname="t" name="ok"><properties><property name="n" value="1"/></properties>
</testcase>
<testcase classname="t" name="bad"><failure message="assert 0 == 32">trace</failure></testcase>
<testcase classname="t" name="gone"><skipped message="needs fentry"/></testcase>
</testsuite></testsuites>"""


def _junit(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(text)
    return path


def test_passed_tests_and_their_numbers_are_read(tmp_path: Path) -> None:
    cases = guestvm.parse_junit(_junit(tmp_path, PASSED_WITH_NUMBERS))
    assert [c.outcome for c in cases] == ["passed", "passed"]
    assert cases[0].name == "tests.bpf.test_function_probes::test_pmd_faults"
    assert cases[0].properties == [("thp_fault_alloc", "32"), ("thpwatch_faults_total", "32")]
    assert lane.ModeResult("fentry", 0, cases).passed


def test_failures_and_skips_fail_the_mode(tmp_path: Path) -> None:
    cases = guestvm.parse_junit(_junit(tmp_path, ONE_FAILED))
    assert [(c.name, c.outcome) for c in cases] == [
        ("t::ok", "passed"),
        ("t::bad", "failed"),
        ("t::gone", "skipped"),
    ]
    assert cases[1].message == "assert 0 == 32"
    assert not lane.ModeResult("fentry", 1, cases).passed


@pytest.mark.parametrize(
    ("returncode", "with_numbers", "passed"),
    [(0, True, True), (5, True, False), (None, True, False), (0, False, False)],
)
def test_mode_needs_exit_zero_and_numbers(
    returncode: int | None, with_numbers: bool, passed: bool
) -> None:
    props = [("thp_split_pmd", "1")] if with_numbers else []
    cases = [guestvm.Testcase("t::x", "passed", props)]
    assert lane.ModeResult("kprobe", returncode, cases).passed is passed
    assert not lane.ModeResult("kprobe", 0, []).passed


def test_lane_fails_without_both_modes_or_with_a_problem() -> None:
    good = lane.ModeResult("fentry", 0, [guestvm.Testcase("t::x", "passed", [("n", "1")])])
    result = lane.LaneResult("6.12", "vmlinuz", modes=[good, good])
    assert result.passed
    assert not lane.LaneResult("6.12", "vmlinuz", modes=[good]).passed
    assert not lane.LaneResult(
        "6.12", "vmlinuz", modes=[good, good], problems=["vng exited 1"]
    ).passed
    text = lane.render(lane.LaneResult("6.12", "vmlinuz", release="6.12.1", modes=[good, good]))
    assert text.startswith("VM lane PASS: Linux 6.12.1")
    assert "n = 1" in text


def test_facts_file_is_read_as_pairs(tmp_path: Path) -> None:
    facts = tmp_path / "facts.txt"
    facts.write_text("release=6.1.0-56-amd64\nthp_enabled=[always] madvise never\ngarbage\n")
    assert guestvm.parse_facts(facts) == {
        "release": "6.1.0-56-amd64",
        "thp_enabled": "[always] madvise never",
    }
    assert guestvm.parse_facts(tmp_path / "missing.txt") == {}


def test_a_boot_whose_guest_never_started_is_tried_once_more(monkeypatch, tmp_path) -> None:
    """QEMU can die before the guest's first line (an emulator assertion under TCG): that boot is
    repeated once, its problems kept as notes; a second such failure is the verdict."""
    attempts: list[int] = []

    def fake_boot(result, results: Path) -> None:
        attempts.append(1)
        if len(attempts) == 1 or crash_twice:
            result.problems.append("the guest command never started (no THPWATCH-GUEST-START line)")
            result.output_tail = ["qemu-system-x86_64: msix_table_mmio_write: Assertion failed."]
        else:
            result.seconds_to_guest = 3.0

    monkeypatch.setattr(lane, "prepare", lambda series: tmp_path / "vmlinuz")
    monkeypatch.setattr(lane, "boot", fake_boot)
    crash_twice = False
    result = lane.run_lane("6.12")
    assert len(attempts) == 2 and result.seconds_to_guest == 3.0 and not result.problems
    assert any("msix_table_mmio_write" in n for n in result.notes)
    attempts.clear()
    crash_twice = True
    result = lane.run_lane("6.12")
    assert len(attempts) == 2 and result.problems and not result.passed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_guest_kills_a_silent_guest_and_its_whole_group(tmp_path: Path):
    # vng's stand-in starts a grandchild (QEMU's) that keeps the pipe open, says one line, and
    # then prints nothing: the deadline must still hold and the grandchild must die too.
    pidfile = tmp_path / "grandchild"
    command = ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; echo started; wait"]
    lines: list[str] = []
    start = time.monotonic()
    rc, timed_out = guestvm.run_guest(command, lines.append, timeout_s=1)
    assert timed_out and rc != 0
    assert lines == ["started"]
    assert time.monotonic() - start < 30
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_run_guest_returns_the_exit_status_of_a_guest_that_finishes():
    lines: list[str] = []
    assert guestvm.run_guest(["sh", "-c", "echo a; echo b; exit 3"], lines.append, 60) == (3, False)
    assert lines == ["a", "b"]
