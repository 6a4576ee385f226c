"""What snapshot and doctor share: the exit codes and the options that pick what to read."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from thpwatch.assembly import SourceOptions
from thpwatch.kernel.liveroot import is_live
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


root_option = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Read the kernel's files under this directory: the host's /proc and /sys mounted "
    "there (a container), or a fixture tree (BPF is off then).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")


def enable_probe_option(**kw):  # type: ignore[no-untyped-def]
    """--enable-probe GROUP: load an opt-in probe group (costly; see bench/README.md)."""
    from thpwatch.probes.specs import OPT_IN_GROUPS

    return click.option(
        "--enable-probe",
        "enable_probes",
        multiple=True,
        type=click.Choice(sorted(OPT_IN_GROUPS)),
        help="Also load an opt-in probe group (repeatable): alloc = kmem:mm_page_alloc "
        "(order >= 2 allocations, reserved-THP GFP bit), faults_any = handle_mm_fault latency.",
        **kw,
    )


def source_options(command):  # type: ignore[no-untyped-def]
    """The options choosing which host sources run (see thpwatch.assembly.SourceOptions)."""
    options = (
        click.option("--no-bpf", is_flag=True, help="Do not load BPF programs."),
        enable_probe_option(),
        click.option("--processes/--no-processes", default=True, help="Scan processes (bounded)."),
        click.option(
            "--process-smaps",
            type=click.Choice(["auto", "on", "off"]),
            default="auto",
            show_default=True,
            help="Read /proc/<pid>/smaps. auto: not on kernels where that splits 1 GiB THPs.",
        ),
        click.option("--process-pids", is_flag=True, help="Label processes by pid, not only comm."),
        click.option("--cgroups/--no-cgroups", default=True, help="Read cgroup memory.stat."),
        click.option("--top", default=10, show_default=True, help="Processes/cgroups to show."),
    )
    for option in reversed(options):
        command = option(command)
    return command


def options_from(root: Path, kw: dict) -> SourceOptions:
    """SourceOptions from the click keyword arguments of source_options (consumes them)."""
    return SourceOptions(
        processes=kw.pop("processes"),
        process_smaps=kw.pop("process_smaps"),
        process_pids=kw.pop("process_pids"),
        cgroups=kw.pop("cgroups"),
        top=kw.pop("top"),
        bpf=not kw.pop("no_bpf") and is_live(root),
        enable_probes=tuple(kw.pop("enable_probes")),
    )


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
