"""The `thpwatch` command. Each subcommand lives in its own module, imported only when used,
so `thpwatch top` never pays for the exporter's imports and a broken optional part (bcc) cannot
stop the others from starting."""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS = {
    "snapshot": ("thpwatch.commands.snapshot", "snapshot"),
    "doctor": ("thpwatch.commands.doctor", "doctor"),
    "run": ("thpwatch.exporter.daemon", "run"),
    "top": ("thpwatch.tui.app", "top"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="thpwatch")
def main() -> None:
    """Observe transparent huge pages: Reserved THP, PUD THP, lazy PTE split, PMD swap-in.

    \b
    Examples:
      thpwatch doctor            what this kernel has and what thpwatch can attach
      thpwatch snapshot --json   everything read once, machine-readable
      thpwatch run               Prometheus exporter on :10386
      thpwatch top               live terminal view
    """
