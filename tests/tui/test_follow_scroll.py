"""`top -p PID` / `-c CGROUP`, scrolling and reverse sort, driven with keys in a real tmux
terminal on the live host (real processes, a real cgroup made for the test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import REPO, require
from tmux_session import EXIT_MARK, TmuxSession

from thpwatch.kernel import facts

pytestmark = pytest.mark.tmux

THPWATCH = str(REPO / ".venv" / "bin" / "thpwatch")
CGROUP_FS = Path("/sys/fs/cgroup")


@pytest.fixture
def term(tmux_bin):
    session = TmuxSession(tmux_bin, 160, 60)
    yield session
    session.kill()


@pytest.fixture
def sleeper():
    """A process of our own with a name no other process has."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], stdin=subprocess.DEVNULL
    )
    yield proc
    proc.kill()
    proc.wait()


def table_rows(screen: str, title: str) -> list[str]:
    """The data rows of the table whose title line starts with title (left column)."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3 :]:  # title, header, rule
        cell = line[:60].rstrip()
        if not cell or not re.match(r"\s*\S", cell) or cell.startswith(("rows ", "Top ", "events")):
            break
        rows.append(cell.split("  ")[0].strip())
    return rows


def quits_cleanly(term: TmuxSession) -> None:
    term.keys("q")
    screen = term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit")
    assert f"{EXIT_MARK} 0" in screen


def caption(screen: str) -> str:
    found = re.search(r"rows (\d+)-(\d+) of (\d+)", screen)
    assert found, screen
    return found.group(0)


@pytest.fixture
def crowd():
    """Enough processes that the table has more than two pages whatever else runs here."""
    procs = [subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL) for _ in range(CROWD)]
    yield procs
    for p in procs:
        p.kill()
        p.wait()


CROWD = 40


def test_scroll_and_reverse_sort_of_the_process_table(term, crowd):
    require(os.geteuid() == 0, "needs root to scan every process")
    term.start([THPWATCH, "top", "--no-bpf", "--top", "40", "--pid-labels",
                "--interval", "0.5", "--scan-interval", "0.5"], REPO)  # fmt: skip
    first = term.wait_for(lambda s: "rows 1-" in s, "a process table with more rows than shown")
    shown = int(re.search(r"rows 1-(\d+) of", first).group(1))
    top_rows = table_rows(first, "Top processes")
    assert len(top_rows) == shown and "THP ▼" in first
    term.keys("Down")
    second = term.wait_for(lambda s: "rows 2-" in s, "the table one row down")
    assert len(table_rows(second, "Top processes")) == shown
    term.keys("NPage")  # PgDn: a page further
    term.wait_for(lambda s: f"rows {2 + shown}-" in s, "the table a page down")
    term.keys("g")
    term.wait_for(lambda s: "rows 1-" in s, "back to the top")
    term.keys("r")
    rev = term.wait_for(lambda s: "THP ▲" in s and "rows 1-" in s, "the reversed sort")
    assert "reversed" in rev  # said in the key line too
    quits_cleanly(term)


def test_follow_one_process(term, sleeper):
    require(os.geteuid() == 0, "needs root to scan every process")
    term.start([THPWATCH, "top", "--no-bpf", "-p", str(sleeper.pid), "--interval", "0.5"], REPO)
    screen = term.wait_for(
        lambda s: f"following pid {sleeper.pid}" in s and "Top processes" in s, "the followed view"
    )
    rows = table_rows(screen, "Top processes")
    assert rows == [f"{sleeper.pid} python3"] or rows == [f"{sleeper.pid} python"], screen
    quits_cleanly(term)


def test_follow_a_pid_that_does_not_exist_is_a_usage_error(term):
    term.start([THPWATCH, "top", "--once", "--no-bpf", "-p", "999999999"], REPO)
    screen = term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit")
    assert "no process 999999999" in screen and f"{EXIT_MARK} 2" in screen


def memory_cgroup_dir() -> tuple[Path, str]:
    """Where a test cgroup with memory accounting can be made: v2, else v1's memory."""
    v2 = CGROUP_FS / "cgroup.controllers"
    if v2.exists() and "memory" in v2.read_text().split():
        return CGROUP_FS, ""
    return CGROUP_FS / "memory", "memory"


@pytest.fixture
def test_cgroup(sleeper):
    require(os.geteuid() == 0, "needs root to make a cgroup")
    base, _ = memory_cgroup_dir()
    require(base.is_dir(), f"needs a memory cgroup hierarchy at {base}")
    name = f"thpwatch-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    path = base / name
    path.mkdir()
    try:
        (path / "cgroup.procs").write_text(str(sleeper.pid))
        yield "/" + name
    finally:
        parent_procs = base / "cgroup.procs"
        for pid in (path / "cgroup.procs").read_text().split():
            parent_procs.write_text(pid)
        path.rmdir()


def test_follow_one_cgroup(term, sleeper, test_cgroup):
    term.start([THPWATCH, "top", "--no-bpf", "-c", test_cgroup, "--interval", "0.5"], REPO)
    screen = term.wait_for(
        lambda s: f"following cgroup {test_cgroup}" in s and "Top cgroups" in s,
        "the followed cgroup",
    )
    assert table_rows(screen, "Top processes") == [f"{sleeper.pid} python3"], screen
    assert "probes host-wide" in screen  # they filter by process only
    cgroups = screen[screen.index("Top cgroups") :]
    assert test_cgroup in cgroups
    other = [
        line
        for line in cgroups.splitlines()[3:8]
        if line.startswith("/") and test_cgroup not in line
    ]
    assert other == [], screen
    quits_cleanly(term)


MADVISER = """
import mmap, time
while True:
    m = mmap.mmap(-1, 4 << 20)
    m.madvise(mmap.MADV_HUGEPAGE)
    m.close()
    time.sleep(0.02)
"""


@pytest.mark.bpf
def test_follow_one_process_filters_the_probes(term, bpf_ready):
    """-p: the madvise probe counts the followed process's MADV_HUGEPAGE calls, and not the
    MADV_COLD calls this test process makes meanwhile."""
    import mmap

    child = subprocess.Popen([sys.executable, "-c", MADVISER], stdin=subprocess.DEVNULL)
    try:
        term.start([THPWATCH, "top", "-p", str(child.pid), "--interval", "0.5"], REPO)
        region = mmap.mmap(-1, 1 << 20)

        def seen(screen: str) -> bool:
            region.madvise(facts.MADV_COLD)  # ours, not the followed process's
            return re.search(r"madvise\s+hugepage \d", screen) is not None

        screen = term.wait_for(seen, "the followed process's madvise calls", timeout=180)
        assert f"following pid {child.pid}" in screen and "this process only" in screen
        for _ in range(5):
            region.madvise(facts.MADV_COLD)
        screen = term.wait_for(lambda s: "madvise" in s, "another frame")
        madvise_line = next(line for line in screen.splitlines() if line.startswith("madvise"))
        assert "cold" not in madvise_line, screen
        quits_cleanly(term)
    finally:
        child.kill()
        child.wait()
