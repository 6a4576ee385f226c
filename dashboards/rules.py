"""The Prometheus recording rules and alerts, as data; `python -m dashboards.generate` writes
rules/thpwatch.rules.yml from them.

Two things are parameters, not constants, because they belong to the user's setup:
  targets      the selector of thpwatch's scrape targets (the `up` series the ThpwatchDown and
               ThpwatchAbsent alerts read), e.g. job="thpwatch" or job=~"node-thp.*";
  runbook_base where docs/alerts/ is served: every alert's runbook_url is <base>/<Alert>.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_TARGETS = 'job="thpwatch"'
# docs/alerts/ of a checkout installed as the README says (/opt/thpwatch)
DEFAULT_RUNBOOK_BASE = "file:///opt/thpwatch/docs/alerts"

PROBE_ATTACHED = "instance_probe:thpwatch_probe_attached:since_start"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str = ""


def recording_rules() -> list[dict[str, str]]:
    return [
        {
            "record": "instance:thpwatch_reserved_thp_used_per_pool:ratio",
            "expr": "thpwatch_reserved_thp_used_hpages / (thpwatch_reserved_thp_pool_hpages > 0)",
        },
        {
            "record": "instance_size:thpwatch_mthp_anon_fault_alloc:rate5m",
            "expr": "rate(thpwatch_mthp_anon_fault_alloc_total[5m])",
        },
        {
            "record": "instance_size:thpwatch_mthp_anon_fault_fallback:rate5m",
            "expr": "rate(thpwatch_mthp_anon_fault_fallback_total[5m])",
        },
        {
            "record": "instance_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m",
            "expr": """\
instance_size:thpwatch_mthp_anon_fault_fallback:rate5m
  / (instance_size:thpwatch_mthp_anon_fault_alloc:rate5m
     + instance_size:thpwatch_mthp_anon_fault_fallback:rate5m)
""",
        },
        {
            "record": "job_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m",
            "expr": """\
sum by (job, size) (instance_size:thpwatch_mthp_anon_fault_fallback:rate5m)
  / (sum by (job, size) (instance_size:thpwatch_mthp_anon_fault_alloc:rate5m)
     + sum by (job, size) (instance_size:thpwatch_mthp_anon_fault_fallback:rate5m))
""",
        },
        {
            "record": "instance_fault:thpwatch_fault_seconds:p99_rate5m",
            "expr": """\
histogram_quantile(0.99,
  sum by (job, instance, fault, le) (rate(thpwatch_fault_seconds_bucket[5m])))
""",
        },
        {
            "record": "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_rate5m",
            "expr": """\
sum by (job, instance) (rate(thpwatch_pmd_swapin_total{outcome="split_fallback"}[5m]))
  / sum by (job, instance) (rate(thpwatch_pmd_swapin_total{outcome!="retry"}[5m]))
""",
        },
        {
            # The fraction of PMD swap-ins that fell back to PTE level in the last 10 minutes,
            # per host (a retry is an async read in flight, redone: not a swap-in).
            "record": "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_increase10m",
            "expr": """\
sum by (job, instance) (increase(thpwatch_pmd_swapin_total{outcome="split_fallback"}[10m]))
  / sum by (job, instance) (increase(thpwatch_pmd_swapin_total{outcome!="retry"}[10m]))
""",
        },
        {
            "record": "instance_state:thpwatch_probes:count",
            "expr": "count by (job, instance, state) (thpwatch_probe_state == 1)",
        },
        {
            # 1 from the first time a probe is attached until thpwatch restarts (its process
            # start time changes) or stops reporting the probe: a latch that reads its own last
            # value, so "was attached" does not expire after any fixed window.
            "record": PROBE_ATTACHED,
            "expr": f"""\
max by (job, instance, probe) (thpwatch_probe_state{{state="ok"}}) == 1
or
(
  last_over_time({PROBE_ATTACHED}[10m])
    and on (job, instance, probe) max by (job, instance, probe) (thpwatch_probe_state)
    unless on (job, instance) (changes(process_start_time_seconds[10m]) > 0)
)
""",
        },
    ]


def alerts(targets: str) -> list[Alert]:
    return [
        Alert(
            "ThpwatchReservedPoolNearlyExhausted",
            "instance:thpwatch_reserved_thp_used_per_pool:ratio > 0.9",
            "warning",
            "Reserved THP pool on {{ $labels.instance }} is {{ $value | humanizePercentage }} used",
            "The madvise(MADV_RESERVED_THP) quota has charged more than 90 % of the reserved pool "
            "for 15 minutes. When it is full, madvise fails with EAGAIN and fork/mremap of "
            "reserved VMAs with ENOMEM. Grow thp_reserved_nr= or find the holders (thpwatch top).",
            "15m",
        ),
        Alert(
            "ThpwatchReservedThpOverQuota",
            """\
sum by (job, instance) (increase(thpwatch_madvise_calls_total{advice="reserved_thp", result="EAGAIN"}[10m])) > 0
or
sum by (job, instance) (increase(thpwatch_reserved_thp_charge_total{result="ENOMEM"}[10m])) > 0
""",  # noqa: E501
            "warning",
            "Reserved THP requests refused over quota on {{ $labels.instance }}",
            "madvise(MADV_RESERVED_THP) returned EAGAIN or reserved_thp_charge returned ENOMEM "
            "(fork, mremap growth) in the last 10 minutes: the pool could not cover a request.",
        ),
        Alert(
            "ThpwatchReservedThpOomFaults",
            """\
sum by (job, instance) (increase(thpwatch_faults_total{outcome="oom"}[10m])) > 0
or
sum by (job, instance) (increase(thpwatch_kmsg_oom_leaked_lines_total[10m])) > 0
""",
            "critical",
            "Reserved THP faults hit OOM on {{ $labels.instance }}",
            "A fault in a reserved-THP VMA found the pool empty (VM_FAULT_OOM, or the kernel "
            'logged "VM_FAULT_OOM leaked out to the #PF handler"). The faulting task refaults '
            "until killed.",
        ),
        Alert(
            "ThpwatchReserveTHPBlocksExceedPool",
            """\
thpwatch_check_observed{check="reserve_pageblocks_match_pool"}
  > thpwatch_check_limit{check="reserve_pageblocks_match_pool"}
""",
            "critical",
            "More ReserveTHP pageblocks than the reserved pool on {{ $labels.instance }}",
            "/proc/pagetypeinfo counts more ReserveTHP pageblocks than total_hpages accounts for: "
            "an ordinary pageblock was converted (the RFC's allocator slowpath bug).",
            "5m",
        ),
        Alert(
            "ThpwatchReservedQuotaExceedsFree",
            'thpwatch_check_violation{check="quota_backed_by_free_blocks"} == 1',
            "warning",
            "Reserved THP quota promises more than is free on {{ $labels.instance }}",
            "free_hpages exceeds the free ReserveTHP blocks (MADV_HUGEPAGE/NOHUGEPAGE on a "
            "populated reserved VMA uncharged the quota but left its THPs mapped). Reserved "
            "faults can OOM.",
            "5m",
        ),
        Alert(
            "ThpwatchThpFallbackRatioHigh",
            """\
instance_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m > 0.5
and
instance_size:thpwatch_mthp_anon_fault_fallback:rate5m > 0.1
""",
            "warning",
            "{{ $labels.size }} THP faults fall back {{ $value | humanizePercentage }} of the time "
            "on {{ $labels.instance }}",
            "More than half of the anonymous THP faults of this size fell back to smaller pages "
            "for 30 minutes (memory fragmented, or memcg limit): check compaction stalls.",
            "30m",
        ),
        Alert(
            "ThpwatchSplitFailures",
            """\
sum by (job, instance, level) (increase(thpwatch_splits_total{result!~"ok|returned"}[10m])) > 0
or
sum by (job, instance, size) (increase(thpwatch_mthp_split_failed_total[10m])) > 0
""",
            "warning",
            "THP splits failing on {{ $labels.instance }}",
            "THP splits were aborted in the last 10 minutes (lazy PTE allocation failed, or the "
            "kernel's split_failed counter rose); callers may silently skip the work.",
        ),
        Alert(
            "ThpwatchPmdSwapinSplitFallbackHigh",
            "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_rate5m > 0.2",
            "warning",
            "PMD swap-ins fall back to 4 KiB on {{ $labels.instance }} "
            "({{ $value | humanizePercentage }})",
            "More than 20 % of whole-THP swap-ins split into 512 PTE swap entries for 15 minutes "
            "(no PMD-order folio could be allocated or charged).",
            "15m",
        ),
        Alert(
            "ThpwatchProbeDown",
            f"""\
max by (job, instance, probe) (thpwatch_probe_state{{state="error"}}) == 1
or
(
  max by (job, instance, probe) (thpwatch_probe_state{{state="ok"}}) == 0
  and on (job, instance, probe)
  {PROBE_ATTACHED} == 1
)
""",
            "warning",
            "thpwatch probe {{ $labels.probe }} down on {{ $labels.instance }}",
            "The probe is in error, or was attached since thpwatch started and no longer is. "
            "Probes that were never attached (absent on this kernel, blocked by policy) are "
            "shown on the dashboards, not alerted.",
            "5m",
        ),
        Alert(
            "ThpwatchBpfProbesUnavailable",
            'max by (job, instance) (thpwatch_source_state{source="bpf", state=~"error|blocked"})'
            " == 1",
            "warning",
            "thpwatch on {{ $labels.instance }} cannot load its BPF probes",
            "The bpf source has been in error or blocked for 5 minutes: no probe counts anything "
            "on this host (no kernel headers for the running kernel after an update, /lib/modules "
            "hidden by a sandbox, not enough capabilities). thpwatch doctor says which.",
            "5m",
        ),
        Alert(
            "ThpwatchSourceFailing",
            'thpwatch_source_state{state="error", source!="bpf"} == 1',
            "warning",
            "thpwatch source {{ $labels.source }} failing on {{ $labels.instance }}",
            "The source has been in error for 10 minutes; see thpwatch doctor.",
            "10m",
        ),
        Alert(
            "ThpwatchDown",
            f"up{{{targets}}} == 0",
            "critical",
            "thpwatch on {{ $labels.instance }} cannot be scraped",
            "Prometheus has failed to scrape thpwatch for 5 minutes.",
            "5m",
        ),
        Alert(
            "ThpwatchAbsent",
            f"absent(up{{{targets}}})",
            "critical",
            "No thpwatch target is known to Prometheus",
            f"No scrape target matches {targets} for 10 minutes: check service discovery.",
            "10m",
        ),
    ]


def alert_rule(a: Alert, runbook_base: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": a.name, "expr": a.expr}
    if a.for_:
        rule["for"] = a.for_
    rule["labels"] = {"severity": a.severity}
    rule["annotations"] = {
        "summary": a.summary,
        "description": a.description,
        "runbook_url": f"{runbook_base.rstrip('/')}/{a.name}.md",
    }
    return rule


def rules_model(targets: str, runbook_base: str) -> dict[str, Any]:
    return {
        "groups": [
            {"name": "thpwatch.recording", "rules": recording_rules()},
            {
                "name": "thpwatch.alerts",
                "rules": [alert_rule(a, runbook_base) for a in alerts(targets)],
            },
        ]
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None  # multi-line PromQL as a literal block
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)

HEADER = """\
# Prometheus recording rules and alerts for thpwatch. GENERATED by
# `python -m dashboards.generate` from dashboards/rules.py: edit that, not this file.
# Scrape targets: {targets} (generate with --targets SELECTOR for yours).
# Runbooks: {runbook_base}/<Alert>.md (--runbook-base URL).
"""


def rules_yaml(targets: str = DEFAULT_TARGETS, runbook_base: str = DEFAULT_RUNBOOK_BASE) -> str:
    body = yaml.dump(
        rules_model(targets, runbook_base),
        Dumper=_Dumper,
        sort_keys=False,
        width=100,
        allow_unicode=True,
    )
    return HEADER.format(targets=targets, runbook_base=runbook_base) + body
