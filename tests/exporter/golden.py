"""Golden /metrics bodies of the fixture trees: what `thpwatch run --root TREE` serves, with
what varies from one run to the next taken out by one rule (`stable`).

The rule, applied to whole families (the HELP, TYPE and sample lines of a family go together):
- dropped: `process_*` (prometheus_client's view of the exporter process: memory, CPU, fds,
  start time) and every family ending in `_seconds` that measures thpwatch itself rather than
  the kernel: `thpwatch_source_duration_seconds`, `thpwatch_scrape_duration_seconds`,
  `thpwatch_source_age_seconds` (VOLATILE below);
- rewritten: the `version` label of `thpwatch_build_info` becomes "VERSION", so a release does
  not rewrite the files.
Everything else is kept byte for byte, in the order served.

Regenerate after a deliberate change with `pytest tests/exporter/test_golden.py --update-golden`
and review the diff like code.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import FIXTURES

from bench.daemons import start_exporter

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TREES = ("stock", "patched", "patched-unfixed")
VOLATILE = re.compile(r"process_\w+|thpwatch_(source_duration|scrape_duration|source_age)_seconds")
_FAMILY = re.compile(r"# (?:HELP|TYPE|UNIT) (\S+)|([a-zA-Z_:][a-zA-Z0-9_:]*)")
_VERSION = re.compile(r'^(thpwatch_build_info\{(?:.*,)?version=")[^"]*(")', re.M)


def golden_path(tree: str) -> Path:
    return GOLDEN / f"{tree}.metrics.txt"


def _family(line: str, names: set[str]) -> str:
    m = _FAMILY.match(line)
    assert m is not None, f"not an exposition line: {line!r}"
    if m.group(1):
        return m.group(1)
    sample = m.group(2)
    # a histogram's samples are its name plus _bucket/_count/_sum (counters are typed with _total)
    for suffix in ("", "_bucket", "_count", "_sum", "_created"):
        if sample.removesuffix(suffix) in names:
            return sample.removesuffix(suffix)
    return sample


def stable(body: str) -> str:
    """`body` with the volatile families dropped and the build version blanked (rule above)."""
    lines = body.splitlines(keepends=True)
    names = {m.group(1) for line in lines if (m := _FAMILY.match(line)) and m.group(1)}
    kept = [line for line in lines if not VOLATILE.fullmatch(_family(line, names))]
    return _VERSION.sub(r"\1VERSION\2", "".join(kept))


def served(tree: str, workdir: Path) -> str:
    """The /metrics body of `thpwatch run --root tests/fixtures/TREE`, first scrape."""
    exporter = start_exporter(workdir, "--root", str(FIXTURES / tree))
    try:
        return exporter.metrics()
    finally:
        exporter.stop()
