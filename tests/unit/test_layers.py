"""Imports inside thpwatch/ only go down the layers of docs/layers.md (this list is the rule).

A module may import modules of its own layer or of any layer below, never above. kernel/ is the
leaf: it imports nothing of thpwatch outside itself (its own errors are kernel/errors.py).
Imports inside functions count too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "thpwatch"

# lowest first; a unit is a subpackage ("kernel/") or a top-level module ("sampler")
LAYERS: list[tuple[str, set[str]]] = [
    ("kernel", {"kernel/"}),
    (
        "model",
        {"thpwatch", "metric", "timespec", "snapshot", "emitter", "status_metrics", "catalog"},
    ),
    (
        "readers",
        {
            "sources/",
            "probes/",
            "features",
            "workload",
            "libc",
            "swapdev",
            "vmpte_selftest",
            "doctor_selftest",
        },
    ),
    ("sampling", {"sampler", "assembly"}),
    ("views", {"diagnosis", "rates", "promapi", "history"}),
    ("frontends", {"exporter/", "tui/", "commands/"}),
    ("cli", {"cli", "__main__"}),
]
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """thpwatch.kernel.text -> "kernel/"; thpwatch.sampler -> "sampler"; thpwatch -> "thpwatch"."""
    parts = module.split(".")
    if len(parts) == 1:
        return "thpwatch"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1] + "/"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every thpwatch module `path` imports, relative imports resolved."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            if base == "thpwatch":  # from thpwatch import workload: the names are modules
                found += [(node.lineno, f"thpwatch.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, m) for line, m in found if m == "thpwatch" or m.startswith("thpwatch.")]


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).is_dir() or (PACKAGE.parent / rel).with_suffix(".py").exists()


def upward_imports() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = unit_of(module_name(path))
        for line, target in imported(path):
            if not is_module(target):  # `from thpwatch import __version__`
                target = target.rsplit(".", 1)[0]
            dst = unit_of(target)
            if LAYER_OF[dst] > LAYER_OF[src]:
                where = path.relative_to(PACKAGE.parent)
                bad.append(f"{where}:{line}: {src} ({LAYERS[LAYER_OF[src]][0]}) imports {target}")
    return bad


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert sorted(units - LAYER_OF.keys()) == []


def test_imports_only_go_down_the_layers():
    assert upward_imports() == []


def test_kernel_imports_nothing_of_thpwatch_outside_kernel():
    outside = [
        f"{p.name}: {m}"
        for p in (PACKAGE / "kernel").rglob("*.py")
        for _, m in imported(p)
        if not m.startswith("thpwatch.kernel")
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("src", "text", "expected"),
    [
        ("kernel/text.py", "from thpwatch.sources.base import Source\n", "kernel/"),
        ("kernel/text.py", "def f():\n    from ..sampler import Sampler\n", "kernel/"),
        ("sampler.py", "from thpwatch import cli\n", "sampler"),
    ],
)
def test_an_upward_import_is_caught(tmp_path, monkeypatch, src, text, expected):
    """The checker itself: an upward import (plain, relative and lazy, `from thpwatch import
    module`) written into a copy of the package is reported."""
    import shutil

    copy = tmp_path / "thpwatch"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.c", "*.h"))
    (copy / src).write_text((copy / src).read_text() + text)
    monkeypatch.setitem(globals(), "PACKAGE", copy)
    (found,) = upward_imports()
    assert found.startswith(f"thpwatch/{src}:") and f": {expected} (" in found
