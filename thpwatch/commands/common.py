"""What snapshot and doctor share: the exit codes, --json, reading everything once (the options
that pick what to read are in source_options.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from thpwatch.assembly import SourceOptions
from thpwatch.sampler import Sampler
from thpwatch.snapshot import Snapshot, SourceStatus, State

EXIT_OK = 0  # every source read, or absent because the kernel lacks it
EXIT_FAILED = 1  # a source or probe failed (malformed file, compile error, ...)
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_BLOCKED = 3  # a source may not read what exists: not root, dmesg_restrict, ...

EXIT_CODES_HELP = """\b
Exit codes:
  0  every source was read, or is absent because the kernel lacks it
  1  a source or probe failed (malformed file, BPF compile error, ...)
  2  bad command line
  3  a source is blocked: not root, dmesg_restrict, ... (checked before 1)
Probes the kernel refuses (e.g. fentry with EPERM) are reported, not an exit code."""


def exit_code(statuses: Iterable[SourceStatus]) -> int:
    statuses = list(statuses)
    if any(s.state is State.BLOCKED and s.kind == "source" for s in statuses):
        return EXIT_BLOCKED
    if any(s.state is State.ERROR for s in statuses):
        return EXIT_FAILED
    return EXIT_OK


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")


LOADING_BPF = "loading BPF probes (bcc compiles them; seconds on a busy host)…"


def say(message: str) -> None:
    """Tell a person at a terminal what slow work is going on (bcc compiling, a workload).
    On stderr, and only when it is a terminal: never in --json output, logs or pipes."""
    if sys.stderr.isatty():
        from rich.console import Console

        Console(stderr=True).print(message, style="dim")


def say_loading_bpf(will_load: bool) -> None:
    if will_load:
        say(LOADING_BPF)


def read_once(root: Path, options: SourceOptions) -> Snapshot:
    """Every source under root, read once (scans included) into one Snapshot."""
    from thpwatch.assembly import all_sources

    say_loading_bpf(options.bpf)
    return Sampler(all_sources(root, options)).snapshot()
