"""Run the benchmarks, write bench/results/<part>.json and regenerate bench/README.md's tables.

.venv/bin/python -m bench                 # every part (about 6 minutes; root)
.venv/bin/python -m bench scrape steady   # some parts
.venv/bin/python -m bench --quick         # tiny counts: checks the harness, not the host
.venv/bin/python -m bench --report        # only regenerate the tables from results/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, report

RESULTS = Path(__file__).resolve().parent / "results"


def _scrape(quick: bool) -> dict[str, Any]:
    from bench import scrape

    return scrape.run(scrapes=5 if quick else 100, scan_reps=1 if quick else 3)


def _steady(quick: bool) -> dict[str, Any]:
    from bench import steady

    return steady.run(window=4 if quick else 120, interval=2 if quick else 15)


def _startup(quick: bool) -> dict[str, Any]:
    from bench import startup

    return startup.run(reps=1 if quick else 3)


def _probes(quick: bool) -> dict[str, Any]:
    from bench import probe_overhead

    return probe_overhead.run(rounds=2 if quick else 30, stat_runs=1 if quick else 5)


def _pagetypeinfo(quick: bool) -> dict[str, Any]:
    from bench import pagetypeinfo_cost

    return pagetypeinfo_cost.run(reads=5 if quick else 200, fragment_mib=16 if quick else 256)


def _concurrency(quick: bool) -> dict[str, Any]:
    from bench import concurrency

    return concurrency.run(total=10 if quick else 300, reps=3 if quick else 50)


def _stages(quick: bool) -> dict[str, Any]:
    from bench import stages

    return stages.run(reps=3 if quick else 100)


PARTS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "startup": _startup,  # first: bcc's one-off set-up is only cold in a fresh process
    "probes": _probes,
    "scrape": _scrape,
    "steady": _steady,
    "pagetypeinfo": _pagetypeinfo,
    "concurrency": _concurrency,
    "stages": _stages,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", choices=[*PARTS, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="tiny counts (harness check)")
    parser.add_argument("--report", action="store_true", help="only regenerate the tables")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.report:
        if os.geteuid() != 0:
            parser.error("needs root (BPF, cgroups, other processes' /proc files)")
        args.results.mkdir(parents=True, exist_ok=True)
        for name in args.parts or PARTS:
            print(f"bench: {name}", flush=True)
            before = machine.describe()
            data = PARTS[name](args.quick)
            result = {
                "part": name,
                "quick": args.quick,
                "machine": before,
                "load_average_after": machine.load_average(),
                "data": data,
            }
            path = args.results / f"{name}.json"
            path.write_text(json.dumps(result, indent=1) + "\n")
            print(f"bench: wrote {path}", flush=True)
    readme = Path(__file__).resolve().parent / "README.md"
    report.update_readme(readme, report.load_results(args.results))
    print(f"bench: tables in {readme} regenerated", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
