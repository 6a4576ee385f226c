"""PMD-level swap entries on the kernel that carries them (pmd-swap-6.12.patch): real swap-out
and swap-in workloads, with the kernel's own counters as the oracle and thpwatch's /metrics
(the do_huge_pmd_swap_page probe, the vmstat and per-size readers, the cross-checks) compared
with them exactly.

Paths (shared/kernel/README.md, KERNEL-INTERFACES §4): zram gives PMD-order swap allocations,
so MADV_PAGEOUT installs one PMD swap entry per THP and a touch reads it back whole; a memcg
whose memory.max is its usage + 1 MiB makes the PMD-order charge fail, so each touch splits the
swap PMD and falls back to 4 KiB swap-ins; a rotational device gets no PMD-order allocation, so
the THP is split before swap-out; fork shares the entry whole; swapoff reads each THP back whole
(unuse_pmd_entry)."""

from __future__ import annotations

import ctypes
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from doctorjson import doctor, evidence_saying, series
from swapdev import loop_device, memcg, swap_on, zram
from thpcli import Exporter, Reading, delta, probe_states, record
from workload import MADV_HUGEPAGE, MADV_PAGEOUT, PAGE, PMD_SIZE, Holder, Region, madvise

from thpwatch.kernel.readings import SHARED_MAX_AGE_S

PMD = "2048kB"
THPS = 8
PAGES_PER_THP = PMD_SIZE // PAGE
KERNEL_COUNTERS = (
    "vmstat:thp_swpout",
    "vmstat:thp_swpout_pmd",
    "vmstat:thp_swpout_fallback",
    "vmstat:thp_split_pmd",
    "vmstat:pswpin",
    "vmstat:pgmajfault",
    f"mthp:{PMD}:swpin",
    f"mthp:{PMD}:swpin_fallback",
    f"mthp:{PMD}:swpin_fallback_charge",
)


def kernel() -> dict[str, int]:
    """The kernel's counters, read directly (the oracle)."""
    out: dict[str, int] = {}
    with open("/proc/vmstat") as f:
        for line in f:
            name, value = line.split()
            out[f"vmstat:{name}"] = int(value)
    stats = Path(f"/sys/kernel/mm/transparent_hugepage/hugepages-{PMD}/stats")
    for stat in ("swpin", "swpin_fallback", "swpin_fallback_charge"):
        out[f"mthp:{PMD}:{stat}"] = int((stats / stat).read_text())
    return out


def kdelta(k0: dict[str, int], k1: dict[str, int]) -> dict[str, int]:
    return {key.split(":")[-1]: k1[key] - k0[key] for key in KERNEL_COUNTERS}


def page_byte(i: int) -> int:
    return i % 251 + 1  # never 0: an all-zero folio is not read from the device


def fill(region: Region) -> None:
    for i in range(region.length // PAGE):
        ctypes.memset(region.addr + i * PAGE, page_byte(i), 1)


def intact(region: Region) -> bool:
    return all(
        ctypes.c_ubyte.from_address(region.addr + i * PAGE).value == page_byte(i)
        for i in range(region.length // PAGE)
    )


def touch_each_thp(region: Region) -> None:
    """Read one byte of each THP: one PMD swap fault each."""
    for off in range(0, region.length, PMD_SIZE):
        ctypes.c_ubyte.from_address(region.addr + off).value  # noqa: B018


def self_kb(field: str, path: str = "/proc/self/status") -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(f"{path} has no {field}")


def swapped_thps(
    thps: int,
    after_pageout: Callable[[], None] = lambda: None,
    after_touch: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """In the child: fault `thps` THPs, write every page, MADV_PAGEOUT them, run after_pageout,
    touch one byte per THP (swap-in), run after_touch, then check every page. Numbers from its
    own /proc."""
    region = Region(thps * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_HUGEPAGE) == "ok"
    fill(region)
    huge0, pte0 = self_kb("AnonHugePages", "/proc/self/smaps_rollup"), self_kb("VmPTE")
    pageout = madvise(region, MADV_PAGEOUT)
    swap_kb = self_kb("Swap", "/proc/self/smaps_rollup")
    huge_out = self_kb("AnonHugePages", "/proc/self/smaps_rollup")
    pte1 = self_kb("VmPTE")
    after_pageout()
    touch_each_thp(region)
    after_touch()
    huge1 = self_kb("AnonHugePages", "/proc/self/smaps_rollup")
    ok = intact(region)
    return {
        "pageout": pageout,
        "anon_huge_kb_before": huge0,
        "swap_kb_after_pageout": swap_kb,
        "anon_huge_kb_after_pageout": huge_out,
        "vmpte_growth_at_swapout_kb": pte1 - pte0,
        "anon_huge_kb_after_swapin": huge1,
        "intact": ok,
    }


@pytest.fixture
def zram_swap() -> Iterator[str]:
    with zram() as dev, swap_on(dev):
        yield dev


def held(comm: str, setup: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """setup() in a child process named comm (workload.Holder); its result."""
    with Holder(comm, setup) as child:
        return child.result


def in_memcg(comm: str, setup: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """setup(cgroup) in a child process that has joined a new memory cgroup; its result."""
    with memcg(f"thpwatch-{comm}-{os.getpid()}") as cg:

        def joined() -> dict[str, Any]:
            (cg / "cgroup.procs").write_text(str(os.getpid()))
            return setup(cg)

        return held(comm, joined)


def forced_fallback(comm: str, thps: int) -> dict[str, Any]:
    """`thps` THPs swapped out to zram by a child in its own memcg, whose memory.max is then
    set to its usage + 1 MiB: touching each THP cannot charge a PMD-order folio (the facts'
    recipe). The limit is lifted after those touches: reading every page back under it, the
    child died before reporting (most likely OOM-killed in the memcg)."""

    def setup(cg: Path) -> dict[str, Any]:
        def limit() -> None:
            usage = int((cg / "memory.current").read_text())
            (cg / "memory.max").write_text(str(usage + (1 << 20)))

        def unlimit() -> None:
            (cg / "memory.max").write_text("max")

        return swapped_thps(thps, limit, unlimit)

    return in_memcg(comm, setup)


def measured(exporter: Exporter, workload: Callable[[], dict[str, Any]]) -> tuple:
    """(workload's result, kernel deltas, /metrics before, /metrics after) around one workload.
    Each scrape comes SHARED_MAX_AGE_S after what it must include: a scrape may serve the vmstat
    reading the BPF source's cross-check took up to that long before."""
    time.sleep(SHARED_MAX_AGE_S)
    before, k0 = exporter.scrape(), kernel()
    result = workload()
    k1 = kernel()
    time.sleep(SHARED_MAX_AGE_S)
    after = exporter.scrape()
    return result, kdelta(k0, k1), before, after


def swapins(before: Reading, after: Reading, outcome: str) -> float:
    return delta(before, after, "thpwatch_pmd_swapin_total", outcome=outcome)


def ratio(reading: Reading, check: str) -> float | None:
    return reading.get("thpwatch_crosscheck_disagreement_ratio", check=check)


def test_doctor_says_pmd_swap_yes_with_evidence(record_property) -> None:  # type: ignore[no-untyped-def]
    pmd_swap = series(doctor(), "pmd_swap")
    assert pmd_swap["present"] == "yes", pmd_swap
    for words in (("symbol", "do_huge_pmd_swap_page"), ("BTF",), ("thp_swpout_pmd", "listed")):
        assert evidence_saying(pmd_swap, "yes", *words), (words, pmd_swap)
    record(record_property, evidence=[f"{e['check']}: {e['found']}" for e in pmd_swap["evidence"]])


def test_zram_swaps_thps_out_and_in_whole(
    exporter: Exporter,
    zram_swap: str,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """8 THPs to zram: 8 PMD swap entries, no split, no PTE table; one touch per THP reads
    each back whole. thpwatch counts every one exactly, and pswpin's +4096 (8 x 512 pages) is
    no disagreement of the PTE swap-in check."""
    result, k, before, after = measured(
        exporter, lambda: held("pmdswap-zram", lambda: swapped_thps(THPS))
    )
    whole = swapins(before, after, "whole_from_device")
    numbers = {
        **{f"kernel_{n}": v for n, v in k.items()},
        **result,
        "thpwatch_whole_from_device": whole,
        "thpwatch_split_fallback": swapins(before, after, "split_fallback"),
        "thpwatch_thp_swpout_pmd": delta(before, after, "thpwatch_vmstat_thp_swpout_pmd_total"),
        "whole_swapin_latency_count": delta(
            before, after, "thpwatch_fault_seconds_count", fault="pmd_swapin"
        ),
        "ratios": {c: ratio(after, c) for c in ("pmd_swapin", "pmd_swapin_fallback", "pte_swapin")},
        "states": {p: s for p, s in probe_states(after).items() if "swap" in p},
    }
    record(record_property, **numbers)
    assert result["pageout"] == "ok" and result["intact"]
    # (the interpreter's own heap may hold THPs too: compare with the child's own before)
    assert result["anon_huge_kb_before"] - result["anon_huge_kb_after_pageout"] == THPS * 2048
    assert result["anon_huge_kb_after_swapin"] == result["anon_huge_kb_before"]
    assert result["swap_kb_after_pageout"] == THPS * 2048
    assert result["vmpte_growth_at_swapout_kb"] == 0  # no PTE table: kept huge
    # the kernel: kept huge at swap-out, read back whole
    assert k["thp_swpout_pmd"] == k["thp_swpout"] == THPS and k["thp_swpout_fallback"] == 0
    # (thp_split_pmd is recorded, not asserted: it counts every process's splits, and other
    # processes' partial frees of THP heap split PMDs: +10 in one run while this one kept all 8)
    assert k["swpin"] == THPS and k["swpin_fallback"] == 0
    assert k["pswpin"] == THPS * PAGES_PER_THP
    # thpwatch, exactly
    assert numbers["thpwatch_thp_swpout_pmd"] == THPS
    assert whole == k["swpin"] and numbers["thpwatch_split_fallback"] == 0
    assert numbers["whole_swapin_latency_count"] == THPS
    assert numbers["ratios"] == {"pmd_swapin": 0, "pmd_swapin_fallback": 0, "pte_swapin": 0}
    assert numbers["states"] == {"do_huge_pmd_swap_page": "ok", "do_swap_page": "ok"}


def test_memcg_limit_forces_split_fallback(
    exporter: Exporter,
    zram_swap: str,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """memory.max = usage + 1 MiB after swap-out: every PMD-order charge fails, the swap PMD is
    split into 512 PTE entries and the touch swaps in one 4 KiB page."""
    thps = 4
    result, k, before, after = measured(exporter, lambda: forced_fallback("pmdswap-memcg", thps))
    fallbacks = swapins(before, after, "split_fallback")
    pte_reads = delta(before, after, "thpwatch_faults_total", fault="pte_swapin", outcome="major")
    record(
        record_property,
        **{f"kernel_{n}": v for n, v in k.items()},
        **result,
        thpwatch_split_fallback=fallbacks,
        thpwatch_whole_from_device=swapins(before, after, "whole_from_device"),
        thpwatch_pte_swapin_major=pte_reads,
        ratios={c: ratio(after, c) for c in ("pmd_swapin", "pmd_swapin_fallback", "pte_swapin")},
    )
    assert result["intact"]
    assert k["thp_swpout_pmd"] == thps
    assert k["swpin_fallback"] == k["swpin_fallback_charge"] == thps and k["swpin"] == 0
    assert k["thp_split_pmd"] >= thps  # each fallback splits; the counter is system-wide
    assert fallbacks == k["swpin_fallback"]
    assert swapins(before, after, "whole_from_device") == 0
    # every page is read back at PTE level, one do_swap_page read each (zram: no readahead);
    # under the limit, reclaim may swap some out and in again: more reads, still one per fault
    assert k["pswpin"] == pte_reads >= thps * PAGES_PER_THP
    assert ratio(after, "pmd_swapin_fallback") == 0 and ratio(after, "pte_swapin") == 0


def test_prometheus_sees_the_fallback_alert_and_swap_panels(
    exporter: Exporter,
    zram_swap: str,
    tmp_path: Path,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """A real Prometheus in the guest scrapes the exporter with the project's rules while the
    forced-fallback workload runs: the 10-minute fallback fraction is 1 (every PMD swap-in fell
    back), ThpwatchPmdSwapinSplitFallbackHigh is active (pending: its `for` is 15 minutes;
    the same expression with `for: 0` fires), and the host dashboard's swap panels have data."""
    from e2e.harness import scrape_config, start_prometheus

    from bench.daemons import wait_until
    from dashboards.generate import DASHBOARDS
    from dashboards.inventory import RULES_FILE, rules
    from dashboards.promql import expand_variables
    from dashboards.spec import FUNCTION_PROBES, KERNEL, PMD_SWAP, TRACEPOINT_PROBES

    alert = "ThpwatchPmdSwapinSplitFallbackHigh"
    (rule,) = [r for r in rules() if r.get("alert") == alert]
    at_once = tmp_path / "at-once.rules.yml"
    at_once.write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "name": "at-once",
                        "rules": [{"alert": alert + "AtOnce", "expr": rule["expr"]}],
                    }
                ]
            }
        )
    )
    prom = start_prometheus(
        tmp_path / "prometheus",
        [scrape_config("thpwatch", f"127.0.0.1:{exporter.port}")],
        rule_files=[str(RULES_FILE), str(at_once)],
    )
    try:
        prom.wait_for_scrapes("thpwatch", count=2, timeout=60)
        for round_ in range(2):  # the first may create the series; rates need an increase
            forced_fallback(f"pmdswap-prom{round_}", 2)
            prom.wait_for_scrapes("thpwatch", count=3, timeout=60)

        def alerts() -> dict[str, str]:
            return {a["labels"]["alertname"]: a["state"] for a in prom.api("alerts")["alerts"]}

        states = wait_until(
            lambda: (a := alerts()).get(alert + "AtOnce") == "firing" and a, 60, "the alert"
        )
        fraction = prom.value(
            "instance:thpwatch_pmd_swapin_split_fallback_per_swapin:ratio_increase10m"
        )
        offers = {KERNEL, PMD_SWAP, FUNCTION_PROBES, TRACEPOINT_PROBES}
        panels = {}
        for panel, q in DASHBOARDS["host.json"].queries():
            if "swap" in panel.title.lower() and q.needs <= offers:
                panels[f"{panel.title}: {q.legend}"] = len(prom.query(expand_variables(q.expr)))
    finally:
        prom.stop()
    record(record_property, alerts=states, fallback_fraction_10m=fraction, panels=panels)
    assert states[alert] == "pending" and states[alert + "AtOnce"] == "firing", states
    assert fraction == 1.0
    assert panels and all(panels.values()), panels


def test_rotational_device_splits_at_swapout(
    exporter: Exporter,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """A rotational loop device gets no PMD-order swap allocation: each THP is split before
    swap-out (thp_swpout_fallback), a PTE table is allocated per THP (lazy PTE), and nothing
    is swapped in whole."""
    thps = 4
    with zram() as backing, loop_device(backing, rotational=True) as loop, swap_on(loop):
        result, k, before, after = measured(
            exporter, lambda: held("pmdswap-rot", lambda: swapped_thps(thps))
        )
    kept = delta(before, after, "thpwatch_vmstat_thp_swpout_pmd_total")
    split = delta(before, after, "thpwatch_vmstat_thp_swpout_fallback_total")
    record(
        record_property,
        **{f"kernel_{n}": v for n, v in k.items()},
        **result,
        thpwatch_swpout_pmd=kept,
        thpwatch_swpout_fallback=split,
    )
    assert result["intact"]
    assert k["thp_swpout_fallback"] == thps == split and k["thp_swpout_pmd"] == 0 == kept
    assert result["vmpte_growth_at_swapout_kb"] == thps * PAGE // 1024
    assert swapins(before, after, "whole_from_device") == 0 == k["swpin"]


def _fork_after_swapout() -> dict[str, Any]:
    thps = 4
    region = Region(thps * PMD_SIZE, PMD_SIZE)
    assert madvise(region, MADV_HUGEPAGE) == "ok"
    fill(region)
    assert madvise(region, MADV_PAGEOUT) == "ok"
    pid = os.fork()
    if pid == 0:
        touch_each_thp(region)
        os._exit(0 if intact(region) else 1)
    _, status = os.waitpid(pid, 0)
    touch_each_thp(region)
    return {"child_intact": os.waitstatus_to_exitcode(status) == 0, "intact": intact(region)}


def test_fork_after_swapout_shares_the_entry_whole(
    exporter: Exporter,
    zram_swap: str,
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    """fork duplicates each PMD swap entry whole; the child and then the parent fault each THP
    in whole (the second one from the swap cache or the device), no split anywhere."""
    thps = 4
    result, k, before, after = measured(exporter, lambda: held("pmdswap-fork", _fork_after_swapout))
    outcomes = {
        o: swapins(before, after, o)
        for o in ("whole_from_device", "whole_from_swap_cache", "split_fallback")
    }
    record(record_property, **{f"kernel_{n}": v for n, v in k.items()}, **result, **outcomes)
    assert result == {"child_intact": True, "intact": True}
    assert k["thp_swpout_pmd"] == thps and k["swpin_fallback"] == 0
    assert outcomes["split_fallback"] == 0
    assert outcomes["whole_from_device"] == k["swpin"]
    assert outcomes["whole_from_device"] + outcomes["whole_from_swap_cache"] == 2 * thps


def test_swapoff_brings_thps_back_whole(record_property) -> None:  # type: ignore[no-untyped-def]
    """swapoff reads each PMD swap entry back as one THP (unuse_pmd_entry), no split."""
    thps = 4

    def setup() -> dict[str, Any]:
        region = Region(thps * PMD_SIZE, PMD_SIZE)
        assert madvise(region, MADV_HUGEPAGE) == "ok"
        fill(region)
        huge = self_kb("AnonHugePages", "/proc/self/smaps_rollup")
        return {"pageout": madvise(region, MADV_PAGEOUT), "anon_huge_kb_before": huge}

    with zram() as dev:
        with swap_on(dev):
            k0 = kernel()
            child = Holder("pmdswap-off", setup)
            k_out = kernel()
        # swap_on's exit ran swapoff while the child holds its swapped-out THPs; the window is
        # the swapoff alone (a first run counted 12 thp_split_pmd over set-up + swapoff)
        swapped_out, k = kdelta(k0, k_out), kdelta(k_out, kernel())
        smaps = f"/proc/{child.pid}/smaps_rollup"
        huge, swap = self_kb("AnonHugePages", smaps), self_kb("Swap", smaps)
        child.release()
    record(record_property, **{f"kernel_{n}": v for n, v in k.items()}, anon_huge_kb=huge)
    assert child.result["pageout"] == "ok"
    assert swapped_out["thp_swpout_pmd"] == thps
    assert k["swpin"] == thps and k["thp_split_pmd"] == 0
    assert huge == child.result["anon_huge_kb_before"] and swap == 0


def test_doctor_selftest_rows_agree_on_equal_counts(record_property) -> None:  # type: ignore[no-untyped-def]
    """doctor --selftest's rows (run in-process: the same code, one bcc compile less) on this
    kernel: 16 THPs swapped out kept huge and read back whole; every row that has both numbers
    agrees, and only on equal counts or a bound it names."""
    from thpwatch.probes.selftest import run_selftest

    rows = {r.event: r for r in run_selftest(with_swap=True)}
    record(
        record_property,
        rows=[
            f"{r.event}: {r.workload} {r.kernel} {r.thpwatch} {r.agree} {r.note}"
            for r in rows.values()
        ],
    )
    for r in rows.values():
        if r.kernel is not None and r.thpwatch is not None:
            assert r.agree, r
            if "bound" not in r.note:
                assert abs(r.thpwatch - r.kernel) <= r.kernel // 100, r
    whole = rows["whole-THP swap-ins read from swap (THPs)"]
    assert whole.workload == whole.kernel == whole.thpwatch == 16, whole
    assert rows["THP swap-out kept huge (PMD swap entries)"].kernel == 16
    reads = rows["PTE-level swap reads (pswpin less large-folio reads)"]
    assert reads.kernel == reads.thpwatch == 0, reads  # all 8192 pages came back in 16 reads
    splits = rows["PMD splits"]
    assert splits.workload == splits.kernel == splits.thpwatch == 16, splits


def test_top_shows_swap_out_kept_huge(record_property) -> None:  # type: ignore[no-untyped-def]
    """`top --once` while THPs cycle through zram: the swap-out row shows them kept huge and the
    2048kB row swapping in; saved as an SVG where the lane keeps artifacts."""
    import subprocess
    import threading
    import time

    from thpcli import THPWATCH

    out = Path(os.environ.get("THPWATCH_KERNEL_RESULTS", "/tmp")) / "top-pmd-swap.svg"
    stop = Path(f"/tmp/thpwatch-top-done-{os.getpid()}")
    stop.unlink(missing_ok=True)

    def cycle() -> dict[str, Any]:
        """Swap 4 THPs out and back in, again and again, until top has printed its frame."""
        region = Region(4 * PMD_SIZE, PMD_SIZE)
        assert madvise(region, MADV_HUGEPAGE) == "ok"
        fill(region)
        end = time.monotonic() + 300
        rounds = 0
        while not stop.exists() and time.monotonic() < end:
            assert madvise(region, MADV_PAGEOUT) == "ok"
            touch_each_thp(region)
            rounds += 1
        return {"rounds": rounds}

    with zram() as dev, swap_on(dev):
        top = subprocess.Popen(
            [str(THPWATCH), "top", "--once", "--no-bpf", "--interval", "10", "--svg", str(out)],
            env=dict(os.environ, COLUMNS="120"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        printed: list[str] = []

        def wait_top() -> None:
            try:
                printed.append(top.communicate(timeout=280)[0])
            finally:
                stop.touch()

        waiter = threading.Thread(target=wait_top)
        waiter.start()
        with Holder("pmdswap-top", cycle) as child:
            rounds = child.result["rounds"]
        waiter.join()
    stop.unlink(missing_ok=True)
    text = printed[0] if printed else ""
    record(record_property, rounds=rounds, svg=str(out))
    assert top.returncode == 0, text
    line = next((x for x in text.splitlines() if "2M kept huge" in x), "")
    assert line and "2M kept huge 0/s" not in line and "absent" not in line, text
    assert out.stat().st_size > 0
