"""Concurrent scrapes against the live exporter: none may fail (latency goes to bench/)."""

from __future__ import annotations

import os

import pytest
from conftest import require

from bench.load import run_load

pytestmark = pytest.mark.e2e

# The full 50 x 1,000 run is bench/scrape_load.py (results in docs/exporter.md); the test keeps
# the 50 concurrent scrapers and makes 1,000 requests in all, to stay short on shared CI cores.
SCRAPERS, SCRAPES_EACH = 50, 20


def test_fifty_concurrent_scrapers_get_no_errors(thpwatch_exporter):
    require(os.geteuid() == 0, "needs root to read the live host like the daemon does")
    exporter = thpwatch_exporter()
    result = run_load(exporter.url + "/metrics", SCRAPERS, SCRAPES_EACH)
    assert result.requests == SCRAPERS * SCRAPES_EACH
    assert (result.errors, result.first_error) == (0, "")
    assert exporter.process.poll() is None
