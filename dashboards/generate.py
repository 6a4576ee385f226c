"""Writes the committed dashboard JSON: `python -m dashboards.generate [--check]`.

--check writes nothing and exits 1 naming every file that differs from what the code generates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards.build import dashboard_json
from dashboards.fleet import FLEET_DASHBOARD
from dashboards.host import HOST_DASHBOARD
from dashboards.spec import Dashboard

HERE = Path(__file__).resolve().parent
DASHBOARDS: dict[str, Dashboard] = {
    "host.json": HOST_DASHBOARD,
    "fleet.json": FLEET_DASHBOARD,
}


def rendered() -> dict[Path, str]:
    """Each committed file's path and the text the code generates for it."""
    return {HERE / name: dashboard_json(d) for name, d in DASHBOARDS.items()}


def stale_files() -> list[Path]:
    return [
        path for path, text in rendered().items() if not path.exists() or path.read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path}: differs from the generator's output", file=sys.stderr)
        return 1 if stale else 0
    for path, text in rendered().items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
