"""`thpwatch top` outside a terminal: plain frames for pipes and scripts, clear usage errors."""

from __future__ import annotations

import subprocess

import pytest
from conftest import FIXTURES, REPO, require

PATCHED = FIXTURES / "patched"
STOCK = FIXTURES / "stock"


def top(*args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "thpwatch"), "top", *args],
        cwd=REPO,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def patched_tree():
    require(PATCHED.is_dir(), "needs the patched fixture tree")
    return PATCHED


def test_once_prints_one_plain_frame(patched_tree):
    done = top("--once", "--interval", "0.1", "--root", str(patched_tree))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out  # no escape codes in a pipe
    assert out.count("thpwatch top  kernel") == 1
    assert "1048576kB" in out and "2048kB" in out and "Reserved THP pool" in out
    assert "BPF off (viewing" in out


def test_iterations_prints_n_frames_and_svg(patched_tree, tmp_path):
    svg = tmp_path / "top.svg"
    done = top("-n", "2", "--interval", "0.1", "--root", str(patched_tree), "--svg", str(svg))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("thpwatch top  kernel") == 2
    picture = svg.read_text()
    assert picture.startswith("<svg") and "1048576kB" in picture


def test_stock_tree_says_absent(tmp_path):
    require(STOCK.is_dir(), "needs the stock fixture tree")
    done = top("--once", "--interval", "0.1", "--root", str(STOCK))
    assert done.returncode == 0, done.stderr
    assert "Reserved THP pool: absent on this kernel" in done.stdout
    assert "1048576kB" not in done.stdout


def test_not_a_terminal_is_a_usage_error():
    done = top("--no-bpf")
    assert done.returncode == 2
    assert "not a terminal: use --once or --iterations N" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--root", "/nonexistent/tree", "--once"], "'/nonexistent/tree' does not exist"),
        (["--interval", "0", "--once"], "Invalid value for '--interval'"),
        (["--svg", "x.svg"], "--svg needs --once or --iterations N"),
    ],
)
def test_bad_options_say_what_is_wrong(args, message):
    done = top(*args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
