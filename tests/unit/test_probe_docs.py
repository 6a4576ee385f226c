"""docs/probes.md's group table says what the groups are (probes/groups/): a row per group, in
their order, naming its file, whether it is opt-in, its kind and every attach point."""

from __future__ import annotations

import re
from pathlib import Path

from thpwatch.probes.groups import GROUPS

DOC = Path(__file__).resolve().parents[2] / "docs" / "probes.md"


def group_rows() -> list[list[str]]:
    text = DOC.read_text().split("## Groups", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]  # after the header
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_the_group_table_names_every_group_its_file_kind_and_attach_points() -> None:
    rows = group_rows()
    assert [row[0].removesuffix(" (opt-in)") for row in rows] == [g.name for g in GROUPS]
    for (name, file, probes, kind), group in zip(rows, GROUPS, strict=True):
        assert name.endswith(" (opt-in)") == group.opt_in, name
        assert file == group.bpf_file, name
        assert kind == "/".join(dict.fromkeys(p.kind for p in group.probes)), name
        named = set(re.findall(r"`([^`]+)`", probes))
        attach_points = {t for p in group.probes for t in (*p.targets, *p.functions)}
        assert named == attach_points, (name, named ^ attach_points)
