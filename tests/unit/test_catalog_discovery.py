"""The catalog finds its emitters itself: every thpwatch module that declares METRICS or
DISCOVERED is in it, whatever its package, and none is listed by hand."""

from __future__ import annotations

import importlib
import pkgutil

import thpwatch
from thpwatch import catalog as catalog_module
from thpwatch.catalog import catalog, emitter_modules


def every_module() -> list[str]:
    """Every module of the package, imported (not __main__: importing it runs the CLI)."""
    names = [
        m.name
        for m in pkgutil.walk_packages(thpwatch.__path__, "thpwatch.")
        if not m.name.endswith(".__main__")
    ]
    for name in names:
        importlib.import_module(name)
    return names


def test_every_module_that_declares_metrics_is_in_the_catalog():
    cat = catalog()
    declaring = []
    for name in every_module():
        module = importlib.import_module(name)
        metrics = getattr(module, "METRICS", ())
        families = getattr(module, "DISCOVERED", ())
        if metrics or families:
            declaring.append(name)
        for m in metrics:
            assert cat.lookup(m.name) == m, f"{name}: {m.name}"
        for f in families:
            assert f in cat.families, f"{name}: {f.pattern.pattern}"
    assert sorted(declaring) == sorted(emitter_modules())
    # the sources, the probes, the status metrics and the exporter's own all declare some
    for package in ("thpwatch.sources.", "thpwatch.probes.", "thpwatch.exporter."):
        assert any(n.startswith(package) for n in declaring), package
    assert "thpwatch.status_metrics" in declaring


def test_a_module_is_found_by_its_top_level_declaration(tmp_path, monkeypatch):
    """A module added anywhere in the package joins by declaring METRICS or DISCOVERED; a
    mention elsewhere (a docstring, an indented name) does not make a module an emitter."""
    package = tmp_path / "thpwatch"
    (package / "sources").mkdir(parents=True)
    (package / "sources" / "new.py").write_text("METRICS = (NEW,)\n")
    (package / "sources" / "typed.py").write_text("DISCOVERED: tuple[F, ...] = ()\n")
    (package / "sources" / "__init__.py").write_text('"""Each module declares\nMETRICS."""\n')
    (package / "plain.py").write_text("def f():\n    METRICS = ()\n")
    monkeypatch.setattr(catalog_module, "PACKAGE", package)
    assert catalog_module.emitter_modules() == ("thpwatch.sources.new", "thpwatch.sources.typed")
