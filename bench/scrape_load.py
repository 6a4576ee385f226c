"""Load on /metrics: C concurrent scrapers x N scrapes each against a running `thpwatch run`.

    .venv/bin/python -m bench.scrape_load                     # starts its own exporter (live host)
    .venv/bin/python -m bench.scrape_load --url http://127.0.0.1:10386/metrics
    .venv/bin/python -m bench.scrape_load --scrapers 50 --scrapes 1000 --json out.json

Prints errors, p50/p90/p99/max latency and throughput. Latency is per request as a scraper
sees it (connect to last byte), so it includes queueing behind the other scrapers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.daemons import start_exporter
from bench.load import run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="scrape this URL instead of starting an exporter")
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=1000, help="scrapes per scraper")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("exporter_args", nargs="*", help="extra `thpwatch run` arguments")
    args = parser.parse_args()
    exporter = None
    url = args.url
    if url is None:
        exporter = start_exporter(
            Path(tempfile.mkdtemp(prefix="thpwatch-load-")), *args.exporter_args
        )
        url = exporter.url + "/metrics"
    try:
        result = run_load(url, args.scrapers, args.scrapes)
    finally:
        if exporter is not None:
            exporter.stop()
    print(result.summary())
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
