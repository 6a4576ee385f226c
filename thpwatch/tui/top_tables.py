"""Top processes and cgroups by THP use or reserved-THP holdings, sortable and filterable.

Columns are discovered: every gauge under thpwatch_process_ / thpwatch_cgroup_ becomes one, so
a new per-process metric shows up without touching the TUI. Rows are keyed by their labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from thpwatch.snapshot import Histogram, Labels
from thpwatch.tui import names
from thpwatch.tui.fmt import ABSENT_STYLE, count, size_bytes
from thpwatch.tui.frame import Frame


@dataclass(frozen=True)
class Ranking:
    """Rows of one entity kind (processes or cgroups) as seen in one Snapshot."""

    title: str
    columns: tuple[str, ...]  # metric names, in catalog-stable (sorted) order
    rows: dict[Labels, dict[str, float]]

    @classmethod
    def of(cls, frame: Frame, prefix: str, key_label: str, title: str) -> Ranking:
        """Rows from the samples under prefix that carry key_label (not the scan summaries)."""
        rows: dict[Labels, dict[str, float]] = {}
        columns: set[str] = set()
        for s in frame.now.samples:
            if not s.name.startswith(prefix) or isinstance(s.value, Histogram):
                continue
            if not s.label(key_label):
                continue
            columns.add(s.name)
            rows.setdefault(s.labels, {})[s.name] = s.value
        return cls(title, tuple(sorted(columns, key=column_order)), rows)

    def sort_column(self, sort_index: int) -> str | None:
        return self.columns[sort_index % len(self.columns)] if self.columns else None

    def ranked(
        self,
        sort_index: int,
        needle: str = "",
        reverse: bool = False,
        keep: Callable[[Labels], bool] | None = None,
    ) -> list[tuple[Labels, dict[str, float]]]:
        """Rows that match needle and keep, largest first (smallest first when reverse)."""
        key = self.sort_column(sort_index)
        rows = [
            (labels, values)
            for labels, values in self.rows.items()
            if (not needle or any(needle.lower() in v.lower() for _, v in labels))
            and (keep is None or keep(labels))
        ]
        sign = 1.0 if reverse else -1.0
        rows.sort(key=lambda row: (sign * row[1].get(key, -1.0), row[0]))
        return rows


def column_order(name: str) -> tuple[int, str]:
    known = list(names.COLUMN_TITLES)
    return (known.index(name) if name in known else len(known), name)


def column_title(name: str, prefix: str) -> str:
    if name in names.COLUMN_TITLES:
        return names.COLUMN_TITLES[name]
    return name.removeprefix(prefix).removesuffix("_total").removesuffix("_bytes")


def cell(name: str, value: float | None) -> Text:
    if value is None:
        return Text("absent", style=ABSENT_STYLE)
    return Text(size_bytes(value) if name.endswith("_bytes") else count(value))


def identity(labels: Labels) -> str:
    d = dict(labels)
    if "comm" in d:
        return f"{d.get('pid', '')} {d['comm']}".strip()
    return " ".join(v for _, v in labels)


@dataclass(frozen=True)
class TableView:
    """How the keys and options shape a ranking table: sort, order, filter, scroll, follow."""

    sort_index: int = 0
    needle: str = ""
    reverse: bool = False
    offset: int = 0  # first row shown (scrolling)
    keep: Callable[[Labels], bool] | None = None  # -p / -c
    follow: str = ""  # what keep keeps, for the title


def render_ranking(
    ranking: Ranking, prefix: str, view: TableView, max_rows: int, note: str = ""
) -> RenderableType:
    """note: a caveat shown under the table (e.g. why some columns are missing)."""
    if not ranking.columns:
        return Text(f"{ranking.title}: none reported (source off or absent)", style=ABSENT_STYLE)
    sort_index, needle = view.sort_index, view.needle
    sort_col = ranking.sort_column(sort_index)
    title = ranking.title + (f"  {view.follow}" if view.follow else "")
    title += f"  filter '{needle}'" if needle else ""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column(
        ranking.title.split()[-1], no_wrap=True, overflow="ellipsis", min_width=12, max_width=40
    )
    for name in ranking.columns:
        marker = (" ▲" if view.reverse else " ▼") if name == sort_col else ""
        table.add_column(column_title(name, prefix) + marker, justify="right", no_wrap=True)
    ranked = ranking.ranked(sort_index, needle, view.reverse, view.keep)
    first = scroll_offset(view.offset, len(ranked), max_rows)
    for labels, values in ranked[first : first + max_rows]:
        table.add_row(identity(labels), *(cell(n, values.get(n)) for n in ranking.columns))
    if len(ranked) > max_rows:
        last = min(first + max_rows, len(ranked))
        table.caption = f"rows {first + 1}-{last} of {len(ranked)}  (↑↓ PgUp PgDn scroll)"
        table.caption_justify = "left"
    if not ranked:
        table.add_row(Text("no match", style=ABSENT_STYLE))
    if not note:
        return table
    return Group(table, Text(note, style=ABSENT_STYLE, no_wrap=True, overflow="ellipsis"))


def scroll_offset(wanted: int, rows: int, shown: int) -> int:
    """The first row to show: wanted, but never past the last full page."""
    return max(0, min(wanted, rows - shown))
