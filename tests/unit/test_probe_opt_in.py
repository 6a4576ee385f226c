"""Opt-in probe groups: not loaded by default, loaded with --enable-probe (every command)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from thpwatch.assembly import SourceOptions, all_sources
from thpwatch.cli import main
from thpwatch.probes.specs import DEFAULT_GROUPS, OPT_IN_GROUPS


def bpf_groups(options: SourceOptions) -> tuple[str, ...]:
    (bpf,) = [s for s in all_sources(Path("/"), options) if s.name == "bpf"]
    return bpf.probes.groups


def test_costly_groups_are_opt_in():
    assert {"alloc", "faults_any"} <= OPT_IN_GROUPS
    assert not OPT_IN_GROUPS & set(DEFAULT_GROUPS)
    assert not set(bpf_groups(SourceOptions())) & OPT_IN_GROUPS


def test_enable_probes_adds_the_group():
    assert "alloc" in bpf_groups(SourceOptions(enable_probes=("alloc",)))


@pytest.mark.parametrize("command", ["run", "snapshot", "doctor", "top"])
def test_every_command_takes_enable_probe_and_rejects_unknown_groups(command):
    result = CliRunner().invoke(main, [command, "--enable-probe", "nosuch"])
    assert result.exit_code == 2
    assert "alloc" in result.output and "faults_any" in result.output
