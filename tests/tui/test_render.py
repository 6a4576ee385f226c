"""The renderables on fixed Snapshots: what an operator reads on the screen."""

from __future__ import annotations

import re

import pytest
import tui_snapshots as snaps
from rich.console import Console
from tui_render import row, text_of

from thpwatch.snapshot import Histogram, Snapshot, SourceStatus, State
from thpwatch.tui.events import EventLog
from thpwatch.tui.frame import Frame
from thpwatch.tui.latency import render_latency
from thpwatch.tui.pool import render_pool
from thpwatch.tui.screen import MIN_HEIGHT, MIN_WIDTH, ViewState, render_screen
from thpwatch.tui.sizes import render_sizes
from thpwatch.tui.top_tables import Ranking, TableView, render_ranking


def screen(frame: Frame, width: int, height: int | None, **state) -> str:
    console = Console(record=True, width=width, force_terminal=False, color_system=None)
    console.print(render_screen(console, frame, ViewState(**state), EventLog(), width, height))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_every_size_gets_a_row_with_its_rates(width):
    text = text_of(render_sizes(Frame.between(snaps.stock(0), snaps.stock(2)), width < 110), width)
    for size in snaps.STOCK_SIZES:
        cells = row(text, size)
        # mode, nr_anon, alloc/s 30, fallback/s 10, fb% 10/(30+10), split 2, swpout 1, swpin 0.5
        assert cells[3:10] == ["30.0", "10.0", "25.0%", "2.0", "1.0", "0.5", "0"], cells
    assert row(text, "2048kB")[1] == "inherit" and row(text, "16kB")[1] == "never"
    assert max(len(line) for line in text.splitlines()) <= width


def test_size_without_anon_stats_is_absent_not_zero():
    text = text_of(render_sizes(Frame.between(snaps.stock(0), snaps.stock(2))))
    assert row(text, "8kB")[1:] == ["absent"] * 9


def test_one_gib_row_on_patched_kernel():
    text = text_of(render_sizes(Frame.between(snaps.patched(0), snaps.patched(2))))
    assert row(text, "1048576kB")[1:4] == ["always", "32", "30.0"]
    sizes = [line.split()[0] for line in text.splitlines() if line.split()[:1] != []]
    assert sizes.index("64kB") < sizes.index("2048kB") < sizes.index("1048576kB")


def test_first_frame_has_no_rates_yet():
    text = text_of(render_sizes(Frame.between(None, snaps.stock(0))))
    assert row(text, "2048kB")[3:6] == ["…", "…", "…"]


def fallback_frame(alloc: tuple[float, float], fallback: tuple[float, float]) -> Frame:
    def snap(t: float, a: float, f: float) -> Snapshot:
        return Snapshot(
            t,
            t,
            (
                snaps.s("thpwatch_mthp_anon_fault_alloc_total", a, size="2048kB"),
                snaps.s("thpwatch_mthp_anon_fault_fallback_total", f, size="2048kB"),
            ),
            (),
        )

    return Frame.between(snap(0.0, alloc[0], fallback[0]), snap(4.0, alloc[1], fallback[1]))


def test_fallback_percent_is_share_of_attempts():
    # 12 allocations and 4 fallbacks in 4 s: 3/s and 1/s, 4 of 16 attempts fell back
    text = text_of(render_sizes(fallback_frame((0.0, 12.0), (0.0, 4.0))))
    assert row(text, "2048kB")[3:6] == ["3.0", "1.0", "25.0%"]


def test_fallback_percent_with_no_faults_is_na():
    text = text_of(render_sizes(fallback_frame((7.0, 7.0), (2.0, 2.0))))
    assert row(text, "2048kB")[3:6] == ["0", "0", "n/a"]


def test_pool_absent_on_stock_kernel():
    text = text_of(render_pool(Frame(snaps.stock(0)), 120))
    assert "Reserved THP pool: absent on this kernel" in text
    assert "VIOLATION" not in text


def test_pool_numbers_failures_and_violation():
    frame = Frame.between(snaps.patched(0), snaps.patched(2))
    text = text_of(render_pool(frame, 120), 120)
    assert "used 54 / 64 (84.4%)  free 10  (128.0 MiB pool)" in text
    assert "resident 40   requested at boot 80   boot shortfall 16" in text
    # EINVAL rose 1/s to 5; EAGAIN stayed at 2; the successful calls are not failures
    assert "EINVAL 5 (1.0/s)" in text and "EAGAIN 2 (0/s)" in text and "52" not in text
    assert "pool-empty OOM faults: 9 (2.0/s)" in text
    assert "VIOLATION quota_exceeds_free_blocks  observed 10, limit 4" in text
    assert "used_plus_free_is_total" not in text  # that check holds


def test_pool_violation_is_red():
    console = Console(record=True, width=120, force_terminal=True, color_system="truecolor")
    console.print(render_pool(Frame.between(snaps.patched(0), snaps.patched(2)), 120))
    assert "VIOLATION" in console.export_text()
    assert any(
        seg.style and seg.style.bgcolor and seg.style.bgcolor.name == "red"
        for seg in console.render(render_pool(Frame(snaps.patched(2)), 120))
        if "VIOLATION" in seg.text
    )


def test_pool_without_probes_says_na_for_probe_counts():
    without = [
        x
        for x in snaps.patched(2).samples
        if x.name not in ("thpwatch_madvise_calls_total", "thpwatch_faults_total")
    ]
    frame = Frame(Snapshot(1.0, 1.0, tuple(without), ()))
    text = text_of(render_pool(frame, 120), 120)
    assert "EINVAL n/a" in text and "pool-empty OOM faults: n/a" in text


def test_latency_percentiles_over_the_interval():
    frame = Frame.between(snaps.patched(0), snaps.patched(2))
    text = text_of(render_latency(frame), 120)
    delta = snaps.fault_hist(2, 1).minus(snaps.fault_hist(0, 1))
    cells = row(text, "2M")
    # 200 faults in 2 s; p50 interpolated inside the (10 µs, 100 µs] bucket
    assert cells[3] == "100.0"
    assert delta.quantile(0.5) == pytest.approx(1e-4)
    assert cells[4] == "100µs" and cells[6] == "982µs"
    assert row(text, "1G")[3] == "100.0"
    # fallback/s: the 1 GiB handler fell back once a second; the PMD one only OOMed (no
    # fallback series, yet the family is counted: 0)
    assert row(text, "1G")[7] == "1.0" and cells[7] == "0"
    assert "swap-in" not in text  # no probe reports swap-in latency: no invented row


def test_latency_says_why_when_probes_are_not_attached():
    text = text_of(render_latency(Frame(snaps.stock(0))), 120).replace("\n", "")
    assert "no fault latency — fault probes blocked: fentry refused (EPERM), no kprobes " in text
    assert "(do_huge_pmd_anonymous_page, handle_mm_fault)" in text
    assert "mm_page_alloc" not in text  # a tracepoint probe has nothing to do with it
    no_bpf = render_latency(Frame(snaps.stock(0)), "BPF off (--no-bpf)")
    assert text_of(no_bpf).strip() == "no fault latency: BPF off (--no-bpf)"


def test_latency_absent_probes_and_attached_but_idle():
    absent = SourceStatus(
        "do_huge_pud_anonymous_page",
        "probe",
        State.ABSENT,
        "function do_huge_pud_anonymous_page not in BTF nor /proc/kallsyms",
        detail=(("group", "faults"),),
    )
    text = text_of(render_latency(Frame(Snapshot(1.0, 1.0, (), (absent,)))), 200)
    assert "fault probes absent: not in this kernel (do_huge_pud_anonymous_page)" in text
    attached = Frame(Snapshot(1.0, 1.0, (), snaps.patched(0).statuses))
    assert "fault probes attached; no fault measured yet" in text_of(render_latency(attached))
    bpf = SourceStatus("bpf", "source", State.BLOCKED, "needs root (CAP_BPF)")
    text = text_of(render_latency(Frame(Snapshot(1.0, 1.0, (), (bpf,)))))
    assert "no fault latency: BPF blocked: needs root (CAP_BPF)" in text


def test_latency_first_frame_counts_everything_but_no_rate():
    text = text_of(render_latency(Frame(snaps.patched(2))), 120)
    assert row(text, "2M")[3] == "…"


def test_rankings_sort_and_filter():
    frame = Frame(snaps.patched(0))
    procs = Ranking.of(frame, "thpwatch_process_", "comm", "Top processes")
    assert procs.columns == (
        "thpwatch_process_anon_huge_bytes",
        "thpwatch_process_reserved_thp_bytes",
    )
    by_thp = text_of(render_ranking(procs, "thpwatch_process_", TableView(0, ""), 10))
    by_reserved = text_of(render_ranking(procs, "thpwatch_process_", TableView(1, ""), 10))
    assert by_thp.index("101 db") < by_thp.index("202 cache")
    assert by_reserved.index("202 cache") < by_reserved.index("101 db")
    assert "THP ▼" in by_thp and "rt VMAs ▼" in by_reserved
    only_cache = text_of(render_ranking(procs, "thpwatch_process_", TableView(0, "cach"), 10))
    assert "202 cache" in only_cache and "db" not in only_cache
    assert "60.0 MiB" in only_cache


def test_ranking_caps_rows():
    procs = Ranking.of(Frame(snaps.patched(0)), "thpwatch_process_", "comm", "Top processes")
    text = text_of(render_ranking(procs, "thpwatch_process_", TableView(0, ""), 1))
    assert "101 db" in text and "202 cache" not in text and "rows 1-1 of 2" in text


def test_no_process_source_is_said():
    procs = Ranking.of(Frame(snaps.stock(0)), "thpwatch_process_", "comm", "Top processes")
    assert "Top processes: none reported" in text_of(
        render_ranking(procs, "p", TableView(0, ""), 5)
    )


@pytest.mark.parametrize("width,height", [(80, 24), (120, 40), (200, 60)])
@pytest.mark.parametrize("kind", ["stock", "patched"])
def test_screen_fits_the_terminal(width, height, kind):
    make = snaps.stock if kind == "stock" else snaps.patched
    text = screen(Frame.between(make(0), make(2)), width, height)
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= height
    assert max(len(line) for line in lines) <= width
    assert lines[0].startswith("thpwatch top") and "q quit" in lines[-1]
    assert row(text, "2048kB")  # the per-size table always survives


def test_short_terminal_names_hidden_panels():
    text = screen(Frame.between(snaps.patched(0), snaps.patched(2)), 120, 30)
    assert "hidden (enlarge terminal):" in text


def test_tiny_terminal_gets_a_message():
    text = screen(Frame(snaps.stock(0)), MIN_WIDTH - 1, MIN_HEIGHT)
    assert "terminal too small" in text
    assert "terminal too small" in screen(Frame(snaps.stock(0)), 100, MIN_HEIGHT - 1)


def test_help_screen():
    assert "cycle the sort column" in screen(Frame(snaps.stock(0)), 100, 30, show_help=True)


def test_header_shows_series_modes_and_probes():
    text = screen(Frame.between(snaps.patched(0), snaps.patched(2)), 120, None)
    assert "kernel 6.12.0-thp+" in text
    assert "Reserved THP yes  PUD THP yes  lazy PTE yes  PMD swap yes" in text
    assert "always 1048576kB  madvise 2048kB  never 64kB" in text
    assert "probes: 2 ok" in text
    stock = screen(Frame(snaps.stock(0)), 120, None, paused=True)
    assert "THP enabled: global madvise  inherit 2048kB  never 16kB 32kB 64kB" in stock
    assert "Reserved THP no" in stock and "probes: 1 ok  2 blocked" in stock and "PAUSED" in stock


def test_events_pool_exhausted_split_failure_probe_detached_violation():
    before = snaps.patched(0, pool_free=3, violated=False)
    after = snaps.patched(2, pool_free=0, violated=True)
    detached = Snapshot(
        after.timestamp,
        after.monotonic,
        after.samples,
        (SourceStatus("do_huge_pmd_anonymous_page", "probe", State.ERROR, "perf buffer lost"),),
    )
    log = EventLog()
    log.observe(Frame.between(before, detached))
    text = text_of(log.render(10))
    assert "reserved THP pool exhausted" in text
    assert "THP split failures" in text
    assert "reserved THP fault OOM" in text
    assert "probe do_huge_pmd_anonymous_page detached: error perf buffer lost" in text
    assert "consistency violation: quota_exceeds_free_blocks" in text
    quiet = EventLog()
    quiet.observe(Frame.between(snaps.stock(0), snaps.stock(2)))
    assert text_of(quiet.render(3)).strip() == "events: none"


def test_histogram_spark_marks_the_fullest_bucket():
    from thpwatch.tui.latency import spark

    h = Histogram((1e-6, 1e-5, 1e-4), (0, 1, 9), 10, 0.0)
    assert spark(h) == " ▁█▁"  # 0, 1, 8 and 1 in +Inf
    assert spark(Histogram((1e-6,), (0,), 0, 0.0)) == ""


def test_repeated_event_is_one_line_with_a_count():
    log = EventLog()
    for t in range(4):
        log.observe(Frame.between(snaps.patched(t), snaps.patched(t + 1)))
    text = text_of(log.render(5))
    assert text.count("THP split failures") == 1 and "(x4 since" in text


def test_process_table_says_why_smaps_columns_are_missing():
    base = snaps.patched(0)
    status = SourceStatus(
        "procscan.smaps", "source", State.ABSENT, "off by default: kernel has PUD THP and ..."
    )
    frame = Frame(Snapshot(1.0, 1.0, base.samples, (*base.statuses, status)))
    text = screen(frame, 120, None)
    assert "smaps not read (absent): off by default" in text
    assert "kernel has PUD THP" not in text  # the whole story is doctor's


def test_splits_swapin_and_stalls():
    from thpwatch.tui.activity import render_activity

    text = text_of(render_activity(Frame.between(snaps.patched(0), snaps.patched(2))), 200)
    # vmstat thp_split_pmd +4/s; probe pmd splits: ok 1/s + ENOMEM 1/s, ENOMEM is a failure
    assert "PMD 4.0/s" in text and "probe pmd 2.0/s  failed 1.0/s" in text
    assert "PMD whole_from_device 1.0/s" in text and "PMD split_fallback 1.0/s" in text
    from thpwatch.tui.activity import swapin_items

    styles = {
        item.plain.split()[1]: {str(span.style) for span in item.spans}
        for item in swapin_items(Frame.between(snaps.patched(0), snaps.patched(2)))
        if item is not None and item.plain.startswith("PMD ")
    }
    assert "bold red" in styles["split_fallback"]
    assert "bold red" not in styles["retry"] | styles["whole_from_device"]  # no failures
    # swap-out: 2/s kept huge as PMD swap entries, 3/s written whole, 1/s split first
    assert "2M kept huge 2.0/s  written whole 3.0/s  split 1.0/s" in text
    assert "compact stall 1.0/s" in text
    # madvise(MADV_RESERVED_THP): EINVAL +1/s, EAGAIN flat, ok +1/s
    assert re.search(r"madvise +reserved_thp 2.0/s  failed 1.0/s", text)
    stock = text_of(render_activity(Frame.between(snaps.stock(0), snaps.stock(2))), 200)
    assert "PUD absent" in stock and "probe pmd" not in stock and "madvise" not in stock
    assert "2M kept huge absent" in stock  # no PMD swap series: absent, not 0
    hugepage_ok = [
        Snapshot(
            t,
            t,
            (snaps.s("thpwatch_madvise_calls_total", 4.0 * t, advice="hugepage", result="ok"),),
            (),
        )
        for t in (1.0, 2.0)
    ]
    only_ok = text_of(render_activity(Frame.between(*hugepage_ok)), 200)
    assert re.search(
        r"madvise +hugepage 4.0/s  failed 0/s", only_ok
    )  # no failure series: none happened


def test_activity_leaves_out_label_sets_that_never_counted():
    """The probes export their known label sets at 0 from the start: every advice and PMD
    swap-in outcome at 0/s would fill the lines; shown are those that counted, else idle."""
    from thpwatch.tui.activity import render_activity

    def snap(t: float, hugepage: float) -> Snapshot:
        samples = [
            snaps.s("thpwatch_madvise_calls_total", 0.0, advice=a, result="ok")
            for a in ("cold", "collapse", "nohugepage", "pageout")
        ]
        samples.append(
            snaps.s("thpwatch_madvise_calls_total", hugepage, advice="hugepage", result="ok")
        )
        samples += [
            snaps.s("thpwatch_pmd_swapin_total", 0.0, outcome=o)
            for o in ("whole_from_device", "whole_from_swap_cache", "oom")
        ]
        return Snapshot(t, t, tuple(samples), ())

    quiet = " ".join(
        text_of(render_activity(Frame.between(snap(1.0, 0), snap(2.0, 0))), 200).split()
    )
    assert "madvise idle" in quiet and "cold" not in quiet and "PMD oom" not in quiet
    busy = " ".join(
        text_of(render_activity(Frame.between(snap(1.0, 3), snap(2.0, 7))), 200).split()
    )
    assert "madvise hugepage 4.0/s failed 0/s" in busy and "collapse" not in busy


def test_latency_with_the_probes_bucket_layout():
    from thpwatch.probes.histogram import LATENCY_BOUNDS

    # 90 PMD faults in the first bucket (<= 1.024 µs), 10 in (524 µs, 1.049 ms]
    cumulative = tuple(90 if b < 1e-3 else 100 for b in LATENCY_BOUNDS)
    h = Histogram(LATENCY_BOUNDS, cumulative, 100, 0.01)
    empty = Histogram(LATENCY_BOUNDS, (0,) * len(LATENCY_BOUNDS), 0, 0.0)
    before = Snapshot(0.0, 0.0, (snaps.s("thpwatch_fault_seconds", empty, fault="pmd_anon"),), ())
    after = Snapshot(2.0, 2.0, (snaps.s("thpwatch_fault_seconds", h, fault="pmd_anon"),), ())
    text = text_of(render_latency(Frame.between(before, after)), 120)
    cells = row(text, "2M")
    assert cells[3] == "50.0"  # 100 faults in 2 s
    # p50 = 1.024 µs * 50/90; p99 = 524.288 µs + 524.288 µs * 9/10, as PromQL interpolates
    assert cells[4] == "569ns" and cells[6] == "996µs", cells
    assert cells[7] == "n/a"  # no outcome counts from the probes in this snapshot
    from thpwatch.tui.latency import spark

    bars = spark(h)
    assert len(bars) == len(LATENCY_BOUNDS) + 1  # one bar per bucket, +Inf included
    assert bars[0] == "█" and bars[10] == "▁" and bars.strip(" ▁█") == ""
    assert bars.rstrip() in text


def test_ranking_reverse_scroll_and_follow():
    procs = Ranking.of(Frame(snaps.patched(0)), "thpwatch_process_", "comm", "Top processes")
    prefix = "thpwatch_process_"
    smallest_first = text_of(render_ranking(procs, prefix, TableView(reverse=True), 10))
    assert smallest_first.index("202 cache") < smallest_first.index("101 db")
    assert "THP ▲" in smallest_first
    second_page = text_of(render_ranking(procs, prefix, TableView(offset=1), 1))
    assert "202 cache" in second_page and "101 db" not in second_page
    assert "rows 2-2 of 2" in second_page
    past_the_end = text_of(render_ranking(procs, prefix, TableView(offset=50), 1))
    assert "rows 2-2 of 2" in past_the_end  # clamped to the last page
    only_db = TableView(keep=lambda labels: dict(labels).get("pid") == "101", follow="pid 101")
    followed = text_of(render_ranking(procs, prefix, only_db, 10))
    assert "101 db" in followed and "cache" not in followed and "pid 101" in followed
