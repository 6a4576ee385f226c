"""Render a TUI renderable to plain text the way a terminal of a given width would show it."""

from __future__ import annotations

from rich.console import Console, RenderableType


def text_of(renderable: RenderableType, width: int = 120) -> str:
    console = Console(record=True, width=width, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def row(text: str, first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is first_cell."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row starting with {first_cell!r} in:\n{text}")
