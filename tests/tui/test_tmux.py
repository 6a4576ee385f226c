"""`thpwatch top` in a real terminal: tmux runs it, capture-pane reads the screen, send-keys
presses keys. On the live host (with a real THP workload run from this process) and on the
patched-kernel fixture tree."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, require
from tmux_session import EXIT_MARK, TmuxSession
from tui_render import row

from thpwatch.workload import PMD_BYTES as HPAGE
from thpwatch.workload import thp_faults

pytestmark = pytest.mark.tmux

THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage")
THPWATCH = str(REPO / ".venv" / "bin" / "thpwatch")


@pytest.fixture
def term(tmux_bin):
    session = TmuxSession(tmux_bin, 120, 40)
    yield session
    session.kill()


def host_sizes() -> list[str]:
    return sorted(
        (d.name.removeprefix("hugepages-") for d in THP_SYSFS.glob("hugepages-*kB")),
        key=lambda s: int(s.removesuffix("kB")),
    )


def has_rows(sizes: list[str]):
    def check(screen: str) -> bool:
        return all(re.search(rf"^{size}\s", screen, re.M) for size in sizes)

    return check


def cell(screen: str, size: str, column: int) -> str:
    return row(screen, size)[column]


def number(text: str) -> float:
    """A count as the TUI prints it (12, 4.5, 1.2k)."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1.0)
    return float(text.rstrip("kMG")) * scale


def stat(size: str, name: str) -> int:
    return int((THP_SYSFS / f"hugepages-{size}" / "stats" / name).read_text())


def quits_cleanly(term: TmuxSession) -> None:
    term.keys("q")
    screen = term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit")
    assert f"{EXIT_MARK} 0" in screen


def test_live_rows_and_rates_follow_a_workload(term):
    sizes = host_sizes()
    require(sizes and (THP_SYSFS / "hugepages-2048kB").is_dir(), "needs THP with 2 MiB pages")
    term.start([THPWATCH, "top", "--no-bpf", "--interval", "1"], REPO)
    term.wait_for(has_rows(sizes), "a row for every size the kernel has")
    # rates need two readings: wait for the first real alloc/s value
    term.wait_for(lambda s: cell(s, "2048kB", 3) != "…", "the first rates")
    allocs_before = stat("2048kB", "anon_fault_alloc")

    thp_faults(HPAGE, 32)  # mmap MAP_PRIVATE|MAP_ANONYMOUS, MADV_HUGEPAGE, touch, munmap
    assert stat("2048kB", "anon_fault_alloc") - allocs_before >= 32, "workload got no THPs"
    frames: dict[str, float] = {}  # header clock -> 2048kB alloc/s shown in that frame

    def workload_seen(s: str) -> bool:
        clock = re.search(r"every 1s  (\d\d:\d\d:\d\d)", s)
        if clock:
            frames[clock.group(1)] = number(cell(s, "2048kB", 3))
        # other processes can only add faults: the frames' rates must cover our 32 THPs
        return sum(frames.values()) * 1.0 >= 32

    term.wait_for(workload_seen, "the workload's 32 THP faults in the 2048kB alloc/s")
    assert any(rate > 0 for rate in frames.values())
    quits_cleanly(term)


def test_live_help_pause_and_tiny_terminal(term):
    term.start([THPWATCH, "top", "--no-bpf", "--interval", "0.5"], REPO)
    term.wait_for(has_rows(["2048kB"]), "the per-size table")
    term.keys("?")
    term.wait_for(lambda s: "cycle the sort column" in s, "the help screen")
    term.keys("x")  # any key closes the help
    term.wait_for(has_rows(["2048kB"]), "the table back after help")
    term.keys("p")
    term.wait_for(lambda s: "PAUSED" in s, "the paused marker")
    term.resize(50, 10)
    term.wait_for(lambda s: "terminal too small" in s, "the too-small message")
    term.resize(120, 40)
    term.wait_for(has_rows(["2048kB"]), "the table back after a resize")
    quits_cleanly(term)


def test_sigterm_restores_the_terminal(term):
    term.start(
        [THPWATCH, "top", "--no-bpf", "--interval", "0.5"],
        REPO,
        after="stty -a | grep -oE -- '-?(icanon|echo)\\b' | tr '\\n' ' '",
    )
    term.wait_for(has_rows(["2048kB"]), "the per-size table")
    os.kill(term.program_pid(), signal.SIGTERM)
    screen = term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit on SIGTERM")
    for _ in range(50):  # then the terminal settings `after` prints (wait_for stops at the mark)
        if "icanon" in screen:
            break
        time.sleep(0.1)
        screen = term.screen()
    assert f"{EXIT_MARK} 143" in screen  # 128 + SIGTERM, no traceback
    assert "Traceback" not in screen
    settings = set(screen.split())
    assert {"icanon", "echo"} <= settings and not {"-icanon", "-echo"} & settings, screen


def test_narrow_terminal_still_shows_every_column(tmux_bin):
    term = TmuxSession(tmux_bin, 80, 30)
    try:
        term.start([THPWATCH, "top", "--no-bpf", "--interval", "0.5"], REPO)
        screen = term.wait_for(
            lambda s: has_rows(["2048kB"])(s) and cell(s, "2048kB", 3) != "…", "rates at 80x30"
        )
        assert len(row(screen, "2048kB")) == 10  # size, mode, nr_anon and 7 rate columns
        assert "…" not in "".join(row(screen, "2048kB"))  # nothing cut off
        quits_cleanly(term)
    finally:
        term.kill()


PATCHED = FIXTURES / "patched"


def test_patched_fixture_tree(term):
    require(PATCHED.is_dir(), "needs the patched fixture tree (tests/fixtures/patched)")
    term.start([THPWATCH, "top", "--root", str(PATCHED), "--interval", "0.5"], REPO)
    screen = term.wait_for(has_rows(["2048kB", "1048576kB"]), "the 1 GiB row")
    assert "Reserved THP yes" in screen and "PUD THP yes" in screen
    assert re.search(r"used \d+ / \d+ \([\d.]+%\)  free \d+", screen), screen
    assert "BPF off (viewing" in screen
    quits_cleanly(term)


def test_sort_key_reorders_the_process_table(term):
    require(PATCHED.is_dir(), "needs the patched fixture tree (tests/fixtures/patched)")
    # smaps forced on (a fixture has no THPs to split) for the THP and rt VMA columns, whose
    # orders differ in the fixture: redis-server has most THP, vmhost holds the reserved VMAs
    argv = ["top", "--root", str(PATCHED), "--process-smaps", "on", "--pid-labels"]
    term.start([THPWATCH, *argv, "--interval", "0.5"], REPO)
    first = term.wait_for(lambda s: "▼" in s and "Top processes" in s, "the process table")
    order = process_order(first)
    term.keys("s")
    second = term.wait_for(lambda s: sort_header(s) != sort_header(first), "a new sort column")
    assert order[0] == "1300" and process_order(second)[0] == "1200", (first, second)
    assert "sort (THP)" in first and "sort (rt VMAs)" in second
    quits_cleanly(term)


UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def column_values(screen: str, title: str) -> list[float]:
    """Byte values of the process-table column titled `title` (right-aligned under it)."""
    lines = screen.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("processes") and title in line)
    end = lines[head].index(title) + len(title)
    values = []
    for line in lines[head + 2 :]:
        cells = line[:end].split()
        if len(cells) < 3 or cells[-1] not in UNITS:
            break
        values.append(float(cells[-2]) * UNITS[cells[-1]])
    return values


def test_live_sort_key_cycles_and_orders_by_it(term):
    term.start([THPWATCH, "top", "--no-bpf", "--interval", "0.5", "--scan-interval", "1"], REPO)
    screen = term.wait_for(lambda s: "THP ▼" in s, "the process table sorted by THP")
    thp = column_values(screen, "THP ▼")
    assert len(thp) >= 2 and thp == sorted(thp, reverse=True), screen
    for _ in range(4):  # THP -> rt VMAs -> rt resident -> hg VMAs -> anon RSS
        term.keys("s")
    screen = term.wait_for(lambda s: "anon RSS ▼" in s, "the table sorted by anon RSS")
    assert "sort (anon RSS)" in screen and "THP ▼" not in screen
    rss = column_values(screen, "anon RSS ▼")
    assert len(rss) >= 2 and rss == sorted(rss, reverse=True), screen
    quits_cleanly(term)


def sort_header(screen: str) -> str:
    return next(line for line in screen.splitlines() if "▼" in line)


def process_order(screen: str) -> list[str]:
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Top processes"))
    return [line.split()[0] for line in lines[start + 3 :] if re.match(r"^\d+ ", line)]


def test_filter_keeps_matching_processes(term):
    require(PATCHED.is_dir(), "needs the patched fixture tree (tests/fixtures/patched)")
    argv = ["top", "--root", str(PATCHED), "--pid-labels", "--interval", "0.5"]
    term.start([THPWATCH, *argv], REPO)
    first = term.wait_for(lambda s: "Top processes" in s, "the process table")
    assert {"1300", "1200"} <= set(process_order(first))
    term.keys("/", "r", "e", "d", "i", "s")
    term.wait_for(lambda s: "filter: redis" in s, "the filter prompt")
    term.keys("Enter")
    screen = term.wait_for(lambda s: "filter 'redis'" in s, "the filter applied")
    assert process_order(screen) == ["1300"], screen
    quits_cleanly(term)


@pytest.mark.bpf
def test_live_with_bpf_probes(term, bpf_ready):
    from conftest import host_refuses_function_probes

    refused = host_refuses_function_probes()
    term.start([THPWATCH, "top", "--interval", "0.5"], REPO)
    screen = term.wait_for(
        lambda s: has_rows(["2048kB"])(s) and re.search(r"probes: \d+ ok", s) is not None,
        "probes attached and the per-size table",
        timeout=180,  # bcc compiles the probes first
    )
    if refused:
        # said plainly, with the state and the probes concerned; the rest of the screen works
        assert "no fault latency — fault probes blocked" in screen, screen
        assert "do_huge_pmd_anonymous_page" in screen
    else:
        thp_faults(HPAGE, 32)
        term.wait_for(
            lambda s: re.search(r"^2M anon \(PMD\)\s+\d", s, re.M) is not None,
            "a PMD fault latency row after the workload",
        )
    quits_cleanly(term)
