"""What /metrics serves: promtool-clean, and every thpwatch name declared in the catalog."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import FIXTURES, require
from prometheus_client.parser import text_string_to_metric_families

from bench.daemons import Exporter
from thpwatch.catalog import catalog

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"


@pytest.fixture(params=["live", "patched"])
def served(request, thpwatch_exporter) -> Exporter:
    """An exporter with every source on (process and cgroup scans too)."""
    everything = ("--processes", "--cgroups")
    if request.param == "live":
        require(os.geteuid() == 0, "needs root to read the live host like the daemon does")
        return thpwatch_exporter(*everything)
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    return thpwatch_exporter("--root", str(PATCHED), *everything)


def test_promtool_check_metrics_is_clean(served):
    promtool = shutil.which("promtool")
    require(promtool, "needs promtool (Debian package prometheus)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=served.metrics(), capture_output=True, text=True
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_thpwatch_name_is_in_the_catalog_with_its_type(served):
    cat = catalog()
    families = list(text_string_to_metric_families(served.metrics()))
    # The exporter drops (and logs) a sample whose name the catalog lacks: none may be dropped.
    assert "not in the metric catalog" not in served.stderr()
    assert "not exported" not in served.stderr()
    thpwatch = [f for f in families if f.name.startswith("thpwatch_")]
    assert len(thpwatch) > 10
    for family in thpwatch:
        for sample in family.samples:
            name = sample.name
            if family.type == "histogram":
                name = family.name
            metric = cat.lookup(name)
            assert metric is not None, f"{name} is exported but not in the catalog"
            assert metric.type == family.type or (metric.type, family.type) == ("info", "gauge")
    others = {f.name.split("_")[0] for f in families if not f.name.startswith("thpwatch_")}
    assert others == {"process"}
