"""The README's two development commands set up different things: `scripts/thpwatch` (through
scripts/setup-runtime) installs only what running thpwatch needs and never touches another
service; the test command's setup (scripts/setup) adds the test tools and stops only the Debian
services it has just installed itself.

The scripts run for real against stand-ins for apt-get, dpkg-query, systemctl and pip that
record what they were asked to do (a copy of scripts/ in a temporary checkout whose venv is
already there, so nothing is installed on this machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import REPO

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
"""
# dpkg-query: the packages listed in $INSTALLED are installed, every other one is not.
DPKG_QUERY = """#!/bin/sh
for p in $INSTALLED; do [ "$p" = "$3" ] && { echo "install ok installed"; exit 0; }; done
exit 1
"""


def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", repo / "scripts")
    shutil.copy(REPO / "pyproject.toml", repo)
    venv_bin = repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for name in ("python", "pip"):
        (venv_bin / name).write_text(RECORDER)
        (venv_bin / name).chmod(0o755)
    return repo


def run(tmp_path: Path, script: str, installed: str = "") -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("apt-get", "systemctl", "sudo"):
        (bin_dir / name).write_text(RECORDER)
    (bin_dir / "dpkg-query").write_text(DPKG_QUERY)
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    env = dict(
        os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(calls), INSTALLED=installed
    )
    subprocess.run(
        [str(checkout(tmp_path) / "scripts" / script)], env=env, check=True, capture_output=True
    )
    # sudo is a recorder too: as a non-root user the real command after it is not run; keep
    # what it was asked to run, so the assertions hold as root and as a user.
    return [c.removeprefix("sudo ") for c in calls.read_text().splitlines()]


def installs(calls: list[str]) -> list[str]:
    """The packages of every `apt-get install` call (options and their values left out)."""
    lines = [c.split()[1:] for c in calls if c.startswith("apt-get ") and " install " in c]
    return [
        w
        for words in lines
        for i, w in enumerate(words)
        if not w.startswith("-") and w != "install" and words[i - 1 : i] != ["-o"]
    ]


def test_the_run_commands_setup_installs_only_the_runtime_and_touches_no_service(tmp_path):
    calls = run(tmp_path, "setup-runtime")
    assert installs(calls) == [
        "python3-bpfcc",
        "python3-venv",
        "linux-headers-amd64",
        "python3-yaml",
        "python3-bcrypt",
    ]
    assert not [c for c in calls if c.startswith("systemctl")], calls
    pip = [c for c in calls if c.startswith("pip ")]
    assert len(pip) == 1 and pip[0].endswith("-e " + str(tmp_path / "repo")), pip


def test_the_run_command_uses_the_runtime_setup_only():
    text = (REPO / "scripts" / "thpwatch").read_text()
    assert '"$repo/scripts/setup-runtime"' in text
    assert 'scripts/setup"' not in text and "systemctl" not in text


def test_the_test_setup_stops_the_services_it_installed(tmp_path):
    calls = run(tmp_path, "setup")
    assert {"prometheus", "tmux", "bpftool", "prometheus-node-exporter"} <= set(installs(calls))
    stops = [c for c in calls if c.startswith("systemctl")]
    assert stops == [
        "systemctl disable --now prometheus",
        "systemctl disable --now prometheus-node-exporter",
    ]
    assert [c for c in calls if c.startswith("pip ")][-1].endswith("[test]")


def test_the_test_setup_leaves_a_hosts_own_node_exporter_alone(tmp_path):
    everything = (
        "python3-bpfcc python3-venv linux-headers-amd64 python3-yaml python3-bcrypt prometheus "
        "tmux bpftool python3-seccomp prometheus-node-exporter libcap2-bin python3-click-man "
        "lintian openssl"
    )
    calls = run(tmp_path, "setup", installed=everything)
    assert not [c for c in calls if c.startswith(("systemctl", "apt-get"))], calls


def test_apt_waits_for_another_apt_instead_of_failing(tmp_path):
    """A lane building its root filesystem (or unattended-upgrades) may hold dpkg's lock."""
    apt_calls = [c for c in run(tmp_path, "setup") if c.startswith("apt-get ")]
    assert apt_calls
    assert all("-o DPkg::Lock::Timeout=600" in c for c in apt_calls), apt_calls
