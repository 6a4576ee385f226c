"""Every dashboard panel's and rule's PromQL, run on a real Prometheus scraping a real thpwatch.

Two targets: the patched fixture tree (Reserved THP and PUD THP files, no BPF) and the live host
(this stock kernel, tracepoint probes; function probes are refused here). Each query declares in
dashboards/spec.py which capabilities it needs; on each target a query must parse, must return
data when the target offers everything it needs, and must return none when it does not (a
kernel without a feature shows it absent, never as a fake zero).
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import pytest
from conftest import FIXTURES, require

from bench.daemons import wait_until
from dashboards import inventory
from dashboards.generate import DASHBOARDS
from dashboards.promql import expand_variables, variable_query_selector
from dashboards.render import render
from dashboards.spec import (
    FUNCTION_PROBES,
    KERNEL,
    PMD_SWAP,
    PUD_THP,
    RESERVED_THP,
    TRACEPOINT_PROBES,
)
from e2e.harness import Prometheus, PromQLError, parse_rfc3339, scrape_config

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"
JOB = "thpwatch"  # the committed rules' default --targets selector (job="thpwatch")


@dataclass(frozen=True)
class Target:
    name: str
    args: tuple[str, ...]
    offers: frozenset[str]


PATCHED_TREE = Target(
    "patched fixture",
    ("--root", str(PATCHED), "--no-bpf"),
    frozenset({KERNEL, RESERVED_THP, PUD_THP, PMD_SWAP}),
)
# The opt-in alloc probe too: the "Huge page allocations" panel reads it.
LIVE_HOST = Target("live host", ("--enable-probe", "alloc"), frozenset({KERNEL, TRACEPOINT_PROBES}))

# What each recording rule needs for data (a new rule must say).
RECORDING_NEEDS = {
    "instance:thpwatch_reserved_thp_used_per_pool:ratio": {KERNEL, RESERVED_THP},
    "instance_size:thpwatch_mthp_anon_fault_alloc:rate5m": {KERNEL},
    "instance_size:thpwatch_mthp_anon_fault_fallback:rate5m": {KERNEL},
    "instance_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m": {KERNEL},
    "job_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m": {KERNEL},
    "instance_fault:thpwatch_fault_seconds:p99_rate5m": {FUNCTION_PROBES},
    "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_rate5m": {FUNCTION_PROBES},
    "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_increase10m": {FUNCTION_PROBES},
    "instance_state:thpwatch_probes:count": {TRACEPOINT_PROBES},
    "instance_probe:thpwatch_probe_attached:since_start": {TRACEPOINT_PROBES},
}


def scraped_with_rules(prometheus, thpwatch_exporter, target: Target) -> Prometheus:
    """A Prometheus with the rules loaded that has scraped target a few times (rate windows
    need two samples) and evaluated every rule group since."""
    exporter = thpwatch_exporter(*target.args)
    prom = prometheus([scrape_config(JOB, exporter.target)], rule_files=[str(inventory.RULES_FILE)])
    prom.wait_for_scrapes(JOB, count=3)
    since = time.time()

    def rules_evaluated() -> bool:
        groups = prom.api("rules")["groups"]
        return bool(groups) and all(
            g["lastEvaluation"] and parse_rfc3339(g["lastEvaluation"]) > since for g in groups
        )

    wait_until(rules_evaluated, 30, "every rule group to be evaluated after the scrapes")
    return prom


def dashboard_problems(prom: Prometheus, target: Target) -> list[str]:
    problems = []
    for file_name, dashboard in DASHBOARDS.items():
        for v in dashboard.variables:
            selector = expand_variables(variable_query_selector(v.query))
            if not prom.query(selector):
                problems.append(f"{file_name} variable ${v.name}: {selector} has no series")
        for panel, q in dashboard.queries():
            where = f"{file_name} panel {panel.title!r}: {q.expr}"
            try:
                result = prom.query(expand_variables(q.expr))
            except PromQLError as e:
                problems.append(f"{where}: {e}")
                continue
            missing = q.needs - target.offers
            if not missing and not result:
                problems.append(f"{where}: no data on the {target.name}")
            if missing and result:
                problems.append(
                    f"{where}: data on the {target.name}, which lacks {sorted(missing)}: "
                    f"{[r['metric'] for r in result][:3]}"
                )
    return problems


def rule_problems(prom: Prometheus, target: Target) -> list[str]:
    problems = []
    for e in inventory.rule_expressions():
        try:
            prom.query(e.expr)
        except PromQLError as err:
            problems.append(f"{e.where}: {err}")
    for group in prom.api("rules")["groups"]:
        for rule in group["rules"]:
            if rule["health"] != "ok":
                problems.append(f"rule {rule['name']}: {rule['health']} {rule.get('lastError')}")
    for name, wanted in RECORDING_NEEDS.items():
        has_data = bool(prom.query(name))
        if wanted <= target.offers and not has_data:
            problems.append(f"recording rule {name}: no data on the {target.name}")
        if not wanted <= target.offers and has_data:
            problems.append(f"recording rule {name}: data on the {target.name}, which lacks it")
    return problems


def test_every_recording_rule_declares_what_it_needs() -> None:
    assert set(RECORDING_NEEDS) == inventory.recording_rule_names()


@pytest.mark.parametrize("target", [PATCHED_TREE, LIVE_HOST], ids=lambda t: t.name)
def test_dashboard_and_rule_queries(prometheus, thpwatch_exporter, target: Target) -> None:
    if target is LIVE_HOST:
        require(os.geteuid() == 0, "needs root (BPF tracepoint probes, /proc/pagetypeinfo)")
        require(
            importlib.util.find_spec("thpwatch.probes.metrics"),
            "the BPF probes (thpwatch.probes.metrics) are not in this checkout",
        )
    else:
        require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    prom = scraped_with_rules(prometheus, thpwatch_exporter, target)
    problems = dashboard_problems(prom, target) + rule_problems(prom, target)
    assert problems == [], "\n".join(problems)


def test_host_dashboard_renders_from_prometheus(prometheus, thpwatch_exporter, tmp_path) -> None:
    """The README picture's code path: panels queried from a real Prometheus drawn to a PNG."""
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    prom = scraped_with_rules(prometheus, thpwatch_exporter, PATCHED_TREE)
    out = tmp_path / "host.png"
    drawn = render(prom.url, DASHBOARDS["host.json"], out, minutes=1)
    assert {"Pool now (PMD huge pages)", "Pool utilisation", "Anonymous THP faults"} <= set(drawn)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
