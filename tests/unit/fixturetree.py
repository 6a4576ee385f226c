"""Fixture trees for the kernel-file tests: stock/, patched/ (+ variants), the malformed corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

from thpwatch.kernel import text
from thpwatch.sampler import run_source
from thpwatch.snapshot import Sample, SourceStatus
from thpwatch.sources.base import Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
STOCK = FIXTURES / "stock"
PATCHED = FIXTURES / "patched"


def collect(source: Source) -> tuple[dict[tuple[str, tuple], float], SourceStatus]:
    """Run one source as the sampler does: {(name, labels): value} and its status."""
    samples, statuses = run_source(source)
    return {(s.name, s.labels): s.value for s in samples}, statuses[0]


def values(samples: list[Sample] | tuple[Sample, ...], name: str) -> dict[tuple, float]:
    return {s.labels: s.value for s in samples if s.name == name}


def tree(tmp_path: Path, case: str | None = None, base: str = "patched") -> Path:
    """A writable copy of fixture tree `base` with malformed corpus case `case` laid over it."""
    root = tmp_path / (case or base)
    shutil.copytree(FIXTURES / base, root)
    if case:
        shutil.copytree(FIXTURES / "malformed" / case, root, dirs_exist_ok=True)
    return root


def deny_reading(monkeypatch, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Make reading `path` fail with EACCES, as /proc/pagetypeinfo does for non-root."""
    real = text.read_file

    def read_file(p: Path, *args, **kw) -> bytes:  # type: ignore[no-untyped-def]
        if p == path:
            raise PermissionError(13, "Permission denied", str(p))
        return real(p, *args, **kw)

    monkeypatch.setattr(text, "read_file", read_file)
