"""Writes the committed dashboard JSON and rules file: `python -m dashboards.generate [--check]`.

--check writes nothing and exits 1 naming every file that differs from what the code generates.
--targets and --runbook-base make a rules file for your setup (with --out DIR, so the committed
one keeps the defaults): which scrape targets are thpwatch (the ThpwatchDown/ThpwatchAbsent
alerts read their `up`), and where the alerts' runbooks (docs/alerts/) are served.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards.build import dashboard_json
from dashboards.fleet import FLEET_DASHBOARD
from dashboards.host import HOST_DASHBOARD
from dashboards.rules import DEFAULT_RUNBOOK_BASE, DEFAULT_TARGETS, rules_yaml
from dashboards.spec import Dashboard

HERE = Path(__file__).resolve().parent
DASHBOARDS: dict[str, Dashboard] = {
    "host.json": HOST_DASHBOARD,
    "fleet.json": FLEET_DASHBOARD,
}
RULES = "rules/thpwatch.rules.yml"


def rendered(
    out: Path | None = None,
    targets: str = DEFAULT_TARGETS,
    runbook_base: str = DEFAULT_RUNBOOK_BASE,
) -> dict[Path, str]:
    """Each file's path (under out, default the committed place) and the text generated for it."""
    base = HERE if out is None else out
    files = {base / name: dashboard_json(d) for name, d in DASHBOARDS.items()}
    files[base / RULES] = rules_yaml(targets, runbook_base)
    return files


def stale_files() -> list[Path]:
    return [
        path for path, text in rendered().items() if not path.exists() or path.read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument(
        "--targets",
        default=DEFAULT_TARGETS,
        help=f"PromQL label matchers of thpwatch's scrape targets (default: {DEFAULT_TARGETS})",
    )
    parser.add_argument(
        "--runbook-base",
        default=DEFAULT_RUNBOOK_BASE,
        help=f"URL of docs/alerts/ for the alerts' runbook_url (default: {DEFAULT_RUNBOOK_BASE})",
    )
    parser.add_argument("--out", type=Path, help="write under this directory instead")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path}: differs from the generator's output", file=sys.stderr)
        return 1 if stale else 0
    for path, text in rendered(args.out, args.targets, args.runbook_base).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
