"""`thpwatch top --prometheus` in a real terminal: ←/→ step through a real Prometheus' record of
a real `thpwatch run` (the patched fixture tree), `g` jumps to a typed time, `p` plays."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, require
from e2e.harness import prometheus_binary, scrape_config, start_prometheus
from tmux_session import EXIT_MARK, TmuxSession

from bench.daemons import start_exporter
from thpwatch.timespec import format_time

pytestmark = [pytest.mark.tmux, pytest.mark.e2e]

PATCHED = FIXTURES / "patched"
THPWATCH = str(REPO / ".venv" / "bin" / "thpwatch")
JOB = "thpwatch"


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(Prometheus URL, instance) after five 1 s scrapes of a patched-fixture exporter."""
    require(prometheus_binary(), "needs the prometheus binary (Debian package prometheus)")
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = start_exporter(tmp_path, "--root", str(PATCHED))
    prom = None
    try:
        prom = start_prometheus(tmp_path / "prometheus", [scrape_config(JOB, exporter.target)])
        prom.wait_for_scrapes(JOB, count=5)
        yield prom.url, exporter.target
    finally:
        if prom is not None:
            prom.stop()
        exporter.stop()


@pytest.fixture
def term(tmux_bin: str) -> Iterator[TmuxSession]:
    session = TmuxSession(tmux_bin, 140, 50)
    yield session
    session.kill()


def at(screen: str) -> str:
    """The time the replay banner says it is at."""
    m = re.search(r"^replay  at (.+? \S+)  step", screen, re.M)
    assert m, screen
    return m.group(1)


def scrape_clock(screen: str) -> str:
    """The header's clock: the time of the scrape shown."""
    m = re.search(r"^thpwatch top .* every 1s  (\d\d:\d\d:\d\d)", screen, re.M)
    assert m, screen
    return m.group(1)


def test_arrows_jump_prompt_and_play(term, recorded):
    url, instance = recorded
    end = int(time.time()) - 1
    start = end - 3
    argv = ["top", "--prometheus", url, "--instance", instance]
    term.start([THPWATCH, *argv, "--from", str(start), "--to", str(end), "--step", "1s"], REPO)
    first = term.wait_for(lambda s: "1048576kB" in s and "replay" in s, "the replayed frame")
    assert at(first) == format_time(start)
    assert re.search(r"used \d+ / \d+", first) and "Top processes" in first

    term.keys("Right")
    second = term.wait_for(lambda s: at(s) == format_time(start + 1), "one step on")
    assert scrape_clock(second) != scrape_clock(first)  # another scrape
    term.keys("Left")
    back = term.wait_for(lambda s: at(s) == format_time(start), "one step back")
    assert scrape_clock(back) == scrape_clock(first)
    term.keys("Left")
    term.wait_for(lambda s: "start of the replay" in s, "the start of the range said")

    term.keys("g")
    term.wait_for(lambda s: "jump to:" in s, "the jump prompt")
    term.keys("-l", "--", "-2h")  # outside --from/--to
    term.keys("Enter")
    term.wait_for(lambda s: "is outside --from" in s, "a time out of range refused")
    term.keys("g")
    term.keys("-l", "nope")
    term.keys("Enter")
    term.wait_for(lambda s: "'nope' is not a time" in s, "a bad time refused")
    term.keys("g")
    term.keys("-l", str(start + 2))
    term.keys("Enter")
    term.wait_for(lambda s: at(s) == format_time(start + 2), "the typed time")

    term.keys("p")
    term.wait_for(lambda s: "PLAYING" in s, "playing")
    done = term.wait_for(lambda s: "PLAYING" not in s and "end of the replay" in s, "the end")
    assert at(done) == format_time(end)
    term.keys("q")
    assert f"{EXIT_MARK} 0" in term.wait_for(lambda s: EXIT_MARK in s, "thpwatch to exit")
