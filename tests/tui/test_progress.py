"""snapshot, doctor and run say on a terminal's stderr that bcc is compiling (it takes seconds),
and never put that into stdout: --json stays pure, and a pipe or file gets nothing extra."""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO
from tmux_session import EXIT_MARK, TmuxSession

from thpwatch.commands.common import LOADING_BPF

pytestmark = [pytest.mark.tmux, pytest.mark.bpf]

THPWATCH = str(REPO / ".venv" / "bin" / "thpwatch")
SAID = LOADING_BPF[:40]  # the line as it appears on a terminal wider than that


@pytest.fixture
def term(tmux_bin):
    session = TmuxSession(tmux_bin, 120, 40)
    yield session
    session.kill()


@pytest.mark.parametrize("command", ["snapshot", "doctor"])
def test_one_shot_commands_say_they_load_probes_but_not_in_json(term, bpf_ready, tmp_path, command):
    out = tmp_path / "out.json"
    # stdout to a file, stderr to the terminal: the message shows, the JSON stays clean
    term.start(["sh", "-c", f"exec {THPWATCH} {command} --no-processes --json > {out}"], REPO)
    screen = term.wait_for(lambda s: EXIT_MARK in s, f"{command} to finish", timeout=180)
    assert SAID in screen, screen
    if command == "doctor":
        assert "trying each BPF attach type" in screen, screen
    text = out.read_text()
    assert LOADING_BPF not in text
    json.loads(text)


def test_quiet_when_stderr_is_not_a_terminal(term, bpf_ready, tmp_path):
    err = tmp_path / "err"
    term.start(
        ["sh", "-c", f"exec {THPWATCH} snapshot --no-processes --json 2>{err} >/dev/null"], REPO
    )
    term.wait_for(lambda s: EXIT_MARK in s, "snapshot to finish", timeout=180)
    assert LOADING_BPF not in err.read_text()


def test_run_says_it_loads_probes(term, bpf_ready):
    term.start([THPWATCH, "run", "--listen", "127.0.0.1:0"], REPO)
    screen = term.wait_for(lambda s: "serving /metrics" in s, "the exporter serving", timeout=180)
    assert SAID in screen
    assert screen.index(SAID) < screen.index("serving /metrics")
    os.kill(term.program_pid(), 15)
    term.wait_for(lambda s: EXIT_MARK in s, "run to stop")
