"""Fleet dashboard: many thpwatch instances side by side, from the recording rules."""

from __future__ import annotations

from dashboards.spec import (
    FUNCTION_PROBES,
    KERNEL,
    PUD_THP,
    RESERVED_THP,
    STATE_TABLE,
    TRACEPOINT_PROBES,
    Dashboard,
    Panel,
    Query,
    Row,
    Variable,
    needs,
)

HOSTS = 'job=~"$job", instance=~"$instance"'
SIZED = HOSTS + ', size=~"$size"'
RESERVED = needs(KERNEL, RESERVED_THP)
FAULT_P99 = "instance_fault:thpwatch_fault_seconds:p99_rate5m"

reserved_pool = Row(
    "Reserved THP pool",
    (
        Panel(
            "Pool utilisation per host",
            "bargauge",
            (
                Query(
                    f"sort_desc(instance:thpwatch_reserved_thp_used_per_pool:ratio{{{HOSTS}}})",
                    "{{instance}}",
                    RESERVED,
                    instant=True,
                ),
            ),
            "Share of each host's reserved pool promised to madvise(MADV_RESERVED_THP) ranges, "
            "fullest first. Hosts without a pool are not listed.",
            unit="percentunit",
            width=12,
            height=10,
            max=1,
            thresholds=((0.8, "orange"), (0.95, "red")),
        ),
        Panel(
            "Pool across the fleet",
            "timeseries",
            (
                Query(
                    f"sum by (job) (thpwatch_reserved_thp_pool_bytes{{{HOSTS}}})",
                    "capacity {{job}}",
                    RESERVED,
                ),
                Query(
                    f"sum by (job) (thpwatch_reserved_thp_used_bytes{{{HOSTS}}})",
                    "used {{job}}",
                    RESERVED,
                ),
            ),
            "Reserved pool capacity and charged quota summed over the selected hosts.",
            unit="bytes",
            width=12,
            height=10,
        ),
    ),
)

fallback = Row(
    "THP fallback",
    (
        Panel(
            "Hosts by fault fallback ratio",
            "bargauge",
            (
                Query(
                    "sort_desc(instance_size:thpwatch_mthp_anon_fault_fallback_per_attempt"
                    f":ratio_rate5m{{{SIZED}}})",
                    "{{instance}} {{size}}",
                    instant=True,
                ),
            ),
            "fallback / (alloc + fallback) of anonymous THP faults over 5 minutes per host and "
            "size, worst first. Hosts with no faults of a size in the window are not listed.",
            unit="percentunit",
            width=12,
            height=10,
            max=1,
            thresholds=((0.2, "orange"), (0.5, "red")),
        ),
        Panel(
            "Fallback ratio per size, fleet-wide",
            "timeseries",
            (
                Query(
                    "job_size:thpwatch_mthp_anon_fault_fallback_per_attempt:ratio_rate5m"
                    '{job=~"$job", size=~"$size"}',
                    "{{job}} {{size}}",
                ),
            ),
            "The same ratio over all hosts of a job, per size.",
            unit="percentunit",
            width=12,
            height=10,
            max=1,
        ),
    ),
)

latency = Row(
    "Fault latency",
    (
        Panel(
            "PUD (1 GiB) fault latency p99 per host",
            "timeseries",
            (
                Query(
                    f'{FAULT_P99}{{{HOSTS}, fault="pud_anon"}}',
                    "{{instance}}",
                    needs(FUNCTION_PROBES, PUD_THP),
                ),
            ),
            "p99 of do_huge_pud_anonymous_page over 5 minutes, per host.",
            unit="s",
            width=12,
        ),
        Panel(
            "PMD (2 MiB) fault latency p99 per host",
            "timeseries",
            (
                Query(
                    f'{FAULT_P99}{{{HOSTS}, fault="pmd_anon"}}',
                    "{{instance}}",
                    needs(FUNCTION_PROBES),
                ),
            ),
            "p99 of do_huge_pmd_anonymous_page over 5 minutes, per host.",
            unit="s",
            width=12,
        ),
    ),
)

inventory = Row(
    "Hosts",
    (
        Panel(
            "Hosts with probes missing or blocked",
            "table",
            (
                Query(
                    f'instance_state:thpwatch_probes:count{{{HOSTS}, state!="ok"}}',
                    needs=needs(TRACEPOINT_PROBES),
                    instant=True,
                ),
            ),
            "Number of BPF probes per host in each state other than ok (absent: the kernel lacks "
            "the function or tracepoint; blocked: refused, e.g. fentry EPERM; error).",
            width=12,
            height=10,
        ),
        Panel(
            "Patch series per host",
            "table",
            (Query(f"thpwatch_kernel_info{{{HOSTS}}}", instant=True),),
            "Which hosts run which patch series (thpwatch_kernel_info: kernel release and yes/no "
            "per series).",
            width=12,
            height=10,
            hidden_columns=STATE_TABLE,
        ),
        Panel(
            "thpwatch up",
            "stat",
            (
                Query(f"sum(up{{{HOSTS}}})", "up", instant=True),
                Query(f"count(up{{{HOSTS}}} == 0) or vector(0)", "down", instant=True),
            ),
            "Scrape targets up and down.",
            width=24,
            height=4,
        ),
    ),
)

FLEET_DASHBOARD = Dashboard(
    uid="thpwatch-fleet",
    title="thpwatch / fleet",
    description="Transparent huge pages across hosts: reserved-pool utilisation, THP fallback "
    "ratios, PUD fault latency, probe coverage and which hosts run which patch series.",
    variables=(
        Variable("job", "Job", "label_values(thpwatch_build_info, job)"),
        Variable(
            "instance", "Instance", 'label_values(thpwatch_build_info{job=~"$job"}, instance)'
        ),
        Variable("size", "THP size", 'label_values(thpwatch_mthp_enabled{job=~"$job"}, size)'),
    ),
    rows=(reserved_pool, fallback, latency, inventory),
)
