"""`thpwatch top` in a real terminal: tmux runs it, capture-pane reads the screen, send-keys
presses keys. On the live host (with a real THP workload run from this process) and on the
patched-kernel fixture tree."""

from __future__ import annotations

import mmap
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, require
from tmux_session import EXIT_MARK, TmuxSession
from tui_render import row

pytestmark = pytest.mark.tmux

THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage")
THPWATCH = str(REPO / ".venv" / "bin" / "thpwatch")
HPAGE = 2 << 20


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


def fault_thps(count: int) -> mmap.mmap:
    """Fault `count` PMD THPs: private anonymous memory, MADV_HUGEPAGE, every page touched."""
    buf = mmap.mmap(-1, (count + 1) * HPAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_HUGEPAGE)
    for offset in range(0, len(buf), 4096):
        buf[offset] = 1
    return buf


def quits_cleanly(term: TmuxSession) -> None:
    term.keys("q")
    screen = term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit")
    assert f"{EXIT_MARK} 0" in screen


def test_live_rows_and_rates_follow_a_workload(term):
    sizes = host_sizes()
    require(sizes and (THP_SYSFS / "hugepages-2048kB").is_dir(), "needs THP with 2 MiB pages")
    term.start([THPWATCH, "top", "--no-bpf", "--interval", "0.5"], REPO)
    screen = term.wait_for(has_rows(sizes), "a row for every size the kernel has")
    # rates need two readings: wait for the first real alloc/s value
    screen = term.wait_for(lambda s: cell(s, "2048kB", 3) != "…", "the first rates")
    nr_before = number(cell(screen, "2048kB", 2))
    allocs_before = stat("2048kB", "anon_fault_alloc")

    workload = fault_thps(32)
    try:
        assert stat("2048kB", "anon_fault_alloc") - allocs_before >= 32, "workload got no THPs"
        seen_rates: list[float] = []

        def nr_anon_rose(s: str) -> bool:
            seen_rates.append(number(cell(s, "2048kB", 3)))
            return number(cell(s, "2048kB", 2)) >= nr_before + 32 and max(seen_rates) > 0

        screen = term.wait_for(nr_anon_rose, "nr_anon +32 and a non-zero alloc/s for 2048kB")
        # the rate the screen showed is the workload's: 32 THPs inside one or two intervals
        assert max(seen_rates) >= 32 / 0.5 / 2, seen_rates
    finally:
        workload.close()
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
    assert re.search(r"used \d+ / \d+  free \d+", screen), screen
    assert "BPF off (viewing" in screen
    quits_cleanly(term)


def test_sort_key_reorders_the_process_table(term):
    require(PATCHED.is_dir(), "needs the patched fixture tree (tests/fixtures/patched)")
    term.start([THPWATCH, "top", "--root", str(PATCHED), "--interval", "0.5"], REPO)
    first = term.wait_for(lambda s: "▼" in s and "Top processes" in s, "the process table")
    order = process_order(first)
    term.keys("s")
    second = term.wait_for(lambda s: sort_header(s) != sort_header(first), "a new sort column")
    assert process_order(second) != order, (first, second)
    quits_cleanly(term)


def sort_header(screen: str) -> str:
    return next(line for line in screen.splitlines() if "▼" in line)


def process_order(screen: str) -> list[str]:
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Top processes"))
    return [line.split()[0] for line in lines[start + 3 :] if re.match(r"^\d+ ", line)]
