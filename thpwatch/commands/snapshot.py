"""`thpwatch snapshot`: read everything once and print it (table, or JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from thpwatch.commands.common import (
    EXIT_CODES_HELP,
    exit_code,
    json_option,
    read_once,
)
from thpwatch.commands.source_options import READ_ONCE, options_from, source_options
from thpwatch.commands.tables import histograms, sample_table, status_table


@click.command(
    epilog=f"""\b
Examples:
  thpwatch snapshot                     tables of every source's state and every metric
  thpwatch snapshot --json | jq '.samples[] | select(.name | test("reserved"))'
  thpwatch snapshot --root tests/fixtures/patched --json   a fixture tree instead of /

{EXIT_CODES_HELP}"""
)
@json_option
@source_options(READ_ONCE)
def snapshot(root: Path, as_json: bool, **kw: object) -> None:
    """Read every source once: THP files, kernel features, kernel log, processes, cgroups."""
    snap = read_once(root, options_from(root, kw))
    if as_json:
        click.echo(json.dumps(snap.to_json(), indent=2))
    else:
        console = Console()
        console.print(status_table(snap.statuses))
        console.print(sample_table(snap.samples))
        if (bars := histograms(snap.samples)) is not None:
            console.print(bars)
    raise SystemExit(exit_code(snap.statuses))
