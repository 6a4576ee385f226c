"""`thpwatch doctor`: what this kernel has, what thpwatch can attach and read, what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from thpwatch.commands.common import (
    EXIT_BLOCKED,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_OK,
    json_option,
    read_once,
    say,
)
from thpwatch.commands.source_options import READ_ONCE, options_from, source_options
from thpwatch.commands.tables import STATE_STYLE, status_table
from thpwatch.diagnosis import BLOCKED, ERROR, Diagnosis, diagnose, probe_bpf
from thpwatch.doctor_selftest import SelftestReport, run_probe_selftest
from thpwatch.features import Presence

PRESENCE_STYLE = {Presence.YES: "green", Presence.NO: "dim", Presence.UNKNOWN: "yellow"}
SEVERITY_STYLE = {"info": "dim", "warning": "yellow", "error": "bold red", "blocked": "yellow"}


def diagnosis_exit_code(d: Diagnosis) -> int:
    severities = {f.severity for f in d.findings}
    if BLOCKED in severities:
        return EXIT_BLOCKED
    return EXIT_FAILED if ERROR in severities else EXIT_OK


@click.command(
    epilog=f"""\b
Examples:
  sudo thpwatch doctor            features with evidence, BPF attach types, what to fix
  sudo thpwatch doctor --json     the same, machine-readable
  thpwatch doctor --root tests/fixtures/patched --no-processes
  sudo thpwatch doctor --selftest  also check the probes against a real workload

{EXIT_CODES_HELP}
doctor's findings decide its code: any "blocked" finding gives 3, else any "error" 1."""
)
@json_option
@click.option(
    "--selftest",
    is_flag=True,
    help="Also run a short real workload (THP faults, madvise, collapse, splits, swap) and "
    "compare what it did, what the kernel counted and what thpwatch counted (root, BPF).",
)
@click.option("--selftest-no-swap", is_flag=True, help="Leave swap out of --selftest.")
@source_options(READ_ONCE)
def doctor(root: Path, as_json: bool, selftest: bool, selftest_no_swap: bool, **kw: object) -> None:
    """Which THP series this kernel carries and how that was concluded, which BPF attach
    types work here (each tried), what thpwatch may read, and what to do about each problem."""
    options = options_from(root, kw)
    if selftest and not options.bpf:
        raise click.UsageError("--selftest needs BPF on the running kernel (no --no-bpf/--root)")
    snap = read_once(root, options)
    if options.bpf:
        say("trying each BPF attach type…")
    if selftest:
        say("then the self-test: a short THP workload…")
    d = diagnose(
        root,
        snap,
        probe_bpf if options.bpf else None,
        (lambda: run_probe_selftest(not selftest_no_swap)) if selftest else None,
    )
    if as_json:
        click.echo(json.dumps(d.to_json(), indent=2))
    else:
        render(d, Console())
    raise SystemExit(diagnosis_exit_code(d))


def render(d: Diagnosis, console: Console) -> None:
    console.print(f"[bold]Kernel[/] {d.kernel.release}")
    console.print(series_table(d))
    bpf = Table(title="BPF attach types (tried)", title_justify="left")
    for column in ("type", "state", "reason"):
        bpf.add_column(column, overflow="fold")
    for a in d.bpf.attach_types:
        bpf.add_row(a.name, f"[{STATE_STYLE[a.state]}]{a.state.value}[/]", a.reason)
    if d.bpf.skipped:
        bpf.add_row("-", "not tried", d.bpf.skipped)
    console.print(bpf)
    if d.bpf.headers or d.bpf.tracefs:
        console.print(f"headers: {d.bpf.headers or '-'}\ntracefs: {d.bpf.tracefs or '-'}")
    console.print(f"running as root: {'yes' if d.root_user else 'no'}")
    console.print(status_table(d.sources))
    if d.selftest and d.selftest.rows:
        console.print(selftest_table(d.selftest))
    findings = Table(title="Findings", title_justify="left")
    for column in ("severity", "problem", "what to do"):
        findings.add_column(column, overflow="fold")
    for f in d.findings:
        findings.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]", f.problem, f.fix)
    console.print(findings if d.findings else "[green]No problems found.[/]")


def series_table(d: Diagnosis) -> Table:
    """Each series on its own row, its evidence on indented rows below it: the evidence gets
    the whole width (paths and prototypes are long), not a third of it."""
    table = Table(title="Patch series", title_justify="left")
    table.add_column("present", no_wrap=True)
    table.add_column("series / evidence (what says so: check: what was found)", overflow="fold")
    for f in (*d.kernel.series, d.kernel.smaps_pud_safe):
        table.add_row(f"[{PRESENCE_STYLE[f.present]}]{f.present.value}[/]", f"[bold]{f.title}[/]")
        for e in f.evidence:
            table.add_row(f"  {e.says.value}", f"  {e.check}: {e.found}")
    return table


def selftest_table(report: SelftestReport) -> Table:
    table = Table(title="Self-test: workload vs kernel vs thpwatch", title_justify="left")
    for column in ("event", "workload", "kernel", "thpwatch", "agree", "note"):
        table.add_column(column, overflow="fold")
    marks = {True: "[green]yes[/]", False: "[bold red]no[/]", None: "-"}
    for r in report.rows:
        cells = [str(v) if v is not None else "-" for v in (r.workload, r.kernel, r.thpwatch)]
        table.add_row(r.event, *cells, marks[r.agree], r.note)
    return table
