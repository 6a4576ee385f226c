"""The source options are one set for every command: each option's name, its environment variable
and its deprecated spellings give the same SourceOptions in run, snapshot, doctor and top.

Only the command line is parsed (click's make_context): nothing is read or served."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import FIXTURES

from thpwatch.cli import main
from thpwatch.commands.source_options import SourceOption, options_from

COMMANDS = ("run", "snapshot", "doctor", "top")
PERIODIC = ("run", "top")  # the commands that read again and again: they have the intervals
STOCK = str(FIXTURES / "stock")


@dataclass(frozen=True)
class Setting:
    """One value of one source option, as argv and as environment; `former_*` are the
    deprecated spellings of the same setting."""

    param: str
    args: tuple[str, ...]
    env: dict[str, str]
    expect: dict[str, Any]  # SourceOptions attributes (or "root") and the values they get
    former_args: tuple[tuple[str, ...], ...] = ()
    former_env: tuple[dict[str, str], ...] = ()
    commands: tuple[str, ...] = COMMANDS


SETTINGS = (
    Setting(
        "root", ("--root", STOCK), {"THPWATCH_ROOT": STOCK}, {"root": Path(STOCK), "bpf": False}
    ),
    Setting("no_bpf", ("--no-bpf",), {"THPWATCH_NO_BPF": "1"}, {"bpf": False}),
    Setting(
        "enable_probes",
        ("--enable-probe", "alloc", "--enable-probe", "faults_any"),
        {"THPWATCH_ENABLE_PROBE": "alloc faults_any"},
        {"enable_probes": ("alloc", "faults_any")},
    ),
    Setting(
        "processes",
        ("--processes",),
        {"THPWATCH_PROCESSES": "1"},
        {"processes": True},
        former_args=(("--per-process",),),
        former_env=({"THPWATCH_PER_PROCESS": "1"},),
    ),
    Setting("processes", ("--no-processes",), {"THPWATCH_PROCESSES": "0"}, {"processes": False}),
    Setting(
        "cgroups",
        ("--cgroups",),
        {"THPWATCH_CGROUPS": "true"},
        {"cgroups": True},
        former_args=(("--per-cgroup",),),
        former_env=({"THPWATCH_PER_CGROUP": "true"},),
    ),
    Setting("cgroups", ("--no-cgroups",), {"THPWATCH_CGROUPS": "false"}, {"cgroups": False}),
    Setting("top", ("--top", "7"), {"THPWATCH_TOP": "7"}, {"top": 7}),
    Setting(
        "pid_labels",
        ("--pid-labels",),
        {"THPWATCH_PID_LABELS": "1"},
        {"pid_labels": True},
        former_args=(("--process-pids",),),
    ),
    Setting(
        "process_smaps",
        ("--process-smaps", "on"),
        {"THPWATCH_PROCESS_SMAPS": "on"},
        {"process_smaps": "on"},
    ),
    Setting("kmsg", ("--no-kmsg",), {"THPWATCH_KMSG": "0"}, {"kmsg": False}),
    Setting(
        "scan_interval",
        ("--scan-interval", "30"),
        {"THPWATCH_SCAN_INTERVAL": "30"},
        {"scan_interval": 30.0},
        commands=PERIODIC,
    ),
    Setting(
        "pagetypeinfo_interval",
        ("--pagetypeinfo-interval", "7"),
        {"THPWATCH_PAGETYPEINFO_INTERVAL": "7"},
        {"pagetypeinfo_interval": 7.0},
        commands=PERIODIC,
    ),
)
ENV_NAMES = {name for s in SETTINGS for env in (s.env, *s.former_env) for name in env}


@dataclass(frozen=True)
class Spelling:
    command: str
    setting: Setting
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> click.core.ParameterSource:
        return (
            click.core.ParameterSource.COMMANDLINE
            if self.args
            else click.core.ParameterSource.ENVIRONMENT
        )


def spellings() -> list[Any]:
    """Every command x setting x (name, environment variable, each deprecated spelling)."""
    cases = []
    for s in SETTINGS:
        ways = [(s.args, {}), ((), s.env)]
        ways += [(a, {}) for a in s.former_args] + [((), e) for e in s.former_env]
        for command in s.commands:
            for args, env in ways:
                label = " ".join(args) or " ".join(f"{k}={v}" for k, v in env.items())
                cases.append(pytest.param(Spelling(command, s, args, env), id=f"{command} {label}"))
    return cases


@pytest.fixture(autouse=True)
def no_option_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def parse(command: str, args: tuple[str, ...] = ()) -> click.Context:
    cmd = main.get_command(click.Context(main), command)
    assert cmd is not None
    return cmd.make_context(command, list(args))


def read(ctx: click.Context) -> dict[str, Any]:
    """What the command would read: its SourceOptions' fields, and root."""
    params = dict(ctx.params)
    root = params["root"]
    return {**vars(options_from(root, params)), "root": root}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_source_option_is_checked_here(command: str) -> None:
    """A new source option needs its row in SETTINGS (name, variable, deprecated spellings)."""
    params = parse(command).command.params
    declared = {p.name for p in params if isinstance(p, SourceOption)}
    assert declared == {s.param for s in SETTINGS if command in s.commands}


@pytest.mark.parametrize("spelling", spellings())
def test_every_spelling_sets_the_option_in_every_command(
    spelling: Spelling, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in spelling.env.items():
        monkeypatch.setenv(name, value)
    ctx = parse(spelling.command, spelling.args)
    got = read(ctx)
    assert {k: got[k] for k in spelling.setting.expect} == spelling.setting.expect
    assert ctx.get_parameter_source(spelling.setting.param) == spelling.source


def test_the_command_line_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THPWATCH_PROCESSES", "1")
    monkeypatch.setenv("THPWATCH_PER_PROCESS", "1")
    assert read(parse("run", ("--no-processes",)))["processes"] is False


def test_the_new_variable_wins_over_the_deprecated_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THPWATCH_PROCESSES", "0")
    monkeypatch.setenv("THPWATCH_PER_PROCESS", "1")
    assert read(parse("run"))["processes"] is False


# The defaults that differ: run scans nothing per process or cgroup (a scan costs, on every host)
# and reads pagetypeinfo every 60 s; snapshot, doctor and top, run by a person, read everything.
DEFAULTS = {
    "run": {
        "processes": False,
        "cgroups": False,
        "scan_interval": 60.0,
        "pagetypeinfo_interval": 60.0,
    },
    "snapshot": {"processes": True, "cgroups": True},
    "doctor": {"processes": True, "cgroups": True},
    "top": {"processes": True, "cgroups": True, "scan_interval": 5.0, "pagetypeinfo_interval": 0.0},
}
COMMON_DEFAULTS = {
    "root": Path("/"),
    "bpf": True,
    "enable_probes": (),
    "top": 10,
    "pid_labels": False,
    "process_smaps": "auto",
    "kmsg": True,
}


@pytest.mark.parametrize("command", COMMANDS)
def test_defaults(command: str) -> None:
    expected = {**COMMON_DEFAULTS, **DEFAULTS[command]}
    got = read(parse(command))
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in PERIODIC])
def test_commands_that_read_once_have_no_intervals(command: str) -> None:
    names = {p.name for p in parse(command).command.params}
    assert not names & {"scan_interval", "pagetypeinfo_interval"}


def help_records(command: str) -> dict[str, tuple[str, str]]:
    ctx = parse(command)
    records = {p.name: p.get_help_record(ctx) for p in ctx.command.params}
    return {name: record for name, record in records.items() if record is not None}


@pytest.mark.parametrize(
    "command,setting",
    [(c, s) for s in SETTINGS for c in s.commands],
    ids=lambda v: v if isinstance(v, str) else " ".join(v.args),
)
def test_help_names_the_option_its_variable_and_its_deprecated_spellings(
    command: str, setting: Setting
) -> None:
    names, text = help_records(command)[setting.param]
    assert setting.args[0] in names.split()
    assert re.findall(r"\[env var: ([A-Z_]+)[;\]]", text) == list(setting.env)
    formers = [*(a[0] for a in setting.former_args), *(n for e in setting.former_env for n in e)]
    for former in formers:
        assert former not in names.split()
        assert re.search(rf"deprecated until the next release: [^.]*{former}\b", text), text


def test_every_option_of_run_has_its_variable_in_the_help() -> None:
    for name, (names, text) in help_records("run").items():
        if name != "help":
            assert "env var: THPWATCH_" in text, names
