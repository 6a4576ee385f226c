"""`thpwatch top --prometheus`: the screen replayed from a real Prometheus that scraped real
`thpwatch run` processes during a real THP workload equals what live `top` saw then.

One recording for the module (see replay_recording.py): the live host's exporter (BPF, without
--processes/--cgroups) and a patched-fixture exporter (--processes --cgroups), both
scraped every second while PMD THPs were faulted, held and unmapped, and the kernel's per-size
files were read live every 0.1 s; then live `top --once` ran (this host, the fixture tree).
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, require

from bench.daemons import THPWATCH, free_port, start_exporter, wait_until
from e2e import kernelfiles
from e2e.harness import prometheus_binary, scrape_config, start_prometheus
from e2e.replay_recording import SCRAPE_INTERVAL, Recording, held_thps, reading_live
from thpwatch.cli import main
from thpwatch.history import History, NoData, Target
from thpwatch.promapi import PrometheusAPI
from thpwatch.snapshot import Histogram, Snapshot, State
from thpwatch.tui import names
from thpwatch.tui.frame import Frame

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"
THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage")
LIVE_JOB, FIXTURE_JOB = "thpwatch-live", "thpwatch-patched"
WORKLOAD_ROUNDS = 4
MARGIN = 2.5  # seconds of live readings before and after the workload: 2 scrapes and more
HOLD = 1.5  # seconds the THPs stay mapped: longer than a scrape interval, so scrapes see them


TOP_ENV = {**os.environ, "COLUMNS": "160", "LINES": "200"}


def top(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [THPWATCH, "top", *args], capture_output=True, text=True, env=TOP_ENV, timeout=timeout
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    require(prometheus_binary(), "needs the prometheus binary (Debian package prometheus)")
    require(os.geteuid() == 0, "needs root (BPF probes, as the daemon runs)")
    require((THP_SYSFS / "hugepages-2048kB").is_dir(), "needs THP with 2 MiB pages")
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    workdir = tmp_path_factory.mktemp("replay")
    started = []
    prom = None
    try:
        live_exporter = start_exporter(workdir)
        started.append(live_exporter)
        fixture_exporter = start_exporter(
            workdir, "--root", str(PATCHED), "--processes", "--cgroups"
        )
        started.append(fixture_exporter)
        prom = start_prometheus(
            workdir / "prometheus",
            [
                scrape_config(LIVE_JOB, live_exporter.target),
                scrape_config(FIXTURE_JOB, fixture_exporter.target),
            ],
        )
        prom.wait_for_scrapes(LIVE_JOB, count=2)
        with reading_live() as live:
            time.sleep(MARGIN)  # live readings from before the first replayed step
            start = time.time()
            thps = 0
            for _ in range(WORKLOAD_ROUNDS):
                thps += held_thps(32, HOLD).counts["thps"]
                time.sleep(HOLD)
            end = time.time()
            time.sleep(MARGIN)
        # what live top shows of this host (probes included) and of the fixture tree, while
        # the exporters run; not during the workload, whose scrapes a BPF compile would delay
        live_top = (time.time(), top("--once"))
        fixture_top = (time.time(), top("--root", str(PATCHED), "--once"))
        prom.wait_for_scrapes(LIVE_JOB, count=2)
        yield Recording(
            prom, live_exporter, fixture_exporter, live, start, end, thps, live_top, fixture_top
        )
    finally:
        if prom is not None:
            prom.stop()
        for exporter in started:
            exporter.stop()


def history(recording: Recording, target: str) -> History:
    return History(PrometheusAPI(recording.prometheus.url), Target(target))


def replay_times(recording: Recording) -> list[float]:
    """Times across the workload, off the scrape grid (every 0.7 s)."""
    n = int((recording.end - recording.start) / 0.7)
    return [recording.start + 0.35 + 0.7 * i for i in range(n)]


def mthp(snapshot: Snapshot, name: str, size: str) -> float | None:
    value = snapshot.get(name, size=size)
    assert not isinstance(value, Histogram)
    return value


def test_replayed_per_size_rows_equal_the_live_kernel_within_one_scrape(recording):
    """At times across the workload: nr_anon and every per-size counter of the replayed frame
    lie within what the kernel's files said live during that scrape, and the per-second rates
    the frame computes over its step lie within the rates those live readings allow."""
    replay = history(recording, recording.live_exporter.target)
    live = recording.live
    first = live.readings[0].snapshot
    sizes = sorted({s.label("size") for s in first.series(names.MTHP_NR_ANON)})
    counters = sorted(
        {s.name for s in first.samples if s.name.startswith(names.MTHP_PREFIX)}
        & {n for n in first.names() if n.endswith("_total")}
    )
    assert "2048kB" in sizes and names.MTHP_ALLOC in counters
    alloc, pmd = names.MTHP_ALLOC, "2048kB"
    nr_anon_seen: set[float] = set()
    increases: dict[tuple[float, float], float] = {}
    times, missed = replay_times(recording), []
    for t in times:
        try:
            before, now = replay.pair_at(t, SCRAPE_INTERVAL)
        except NoData as e:  # a scrape that timed out on this busy 2-core machine: said so
            assert "could not scrape" in str(e) and "(up 0)" in str(e), e
            missed.append(t)
            continue
        assert before is not None
        assert t - 2 * SCRAPE_INTERVAL < now.timestamp <= t, "not the last scrape before t"
        assert before.timestamp < now.timestamp
        # the exporter read the files during its scrape: after the scrape's start, within
        # one interval (Prometheus' scrape timeout)
        lo, hi = live.before(now.timestamp), live.after(now.timestamp + SCRAPE_INTERVAL)
        during = [lo, *live.during(now.timestamp, now.timestamp + SCRAPE_INTERVAL), hi]
        for size in sizes:
            nr = mthp(now, names.MTHP_NR_ANON, size)
            seen = [mthp(r.snapshot, names.MTHP_NR_ANON, size) for r in during]
            assert nr is not None and min(seen) <= nr <= max(seen), (t, size, nr, seen)
            for name in counters:
                value = mthp(now, name, size)
                low, high = mthp(lo.snapshot, name, size), mthp(hi.snapshot, name, size)
                if low is None:
                    assert value is None, (name, size)  # absent live: absent replayed
                    continue
                assert value is not None and low <= value <= high, (t, name, size, low, high)
        frame = Frame.between(before, now)
        b_lo, b_hi = live.before(before.timestamp), live.after(before.timestamp + SCRAPE_INTERVAL)
        elapsed = now.timestamp - before.timestamp
        fastest = (mthp(hi.snapshot, alloc, pmd) - mthp(b_lo.snapshot, alloc, pmd)) / elapsed
        slowest = (mthp(lo.snapshot, alloc, pmd) - mthp(b_hi.snapshot, alloc, pmd)) / elapsed
        rate = frame.rate(alloc, size=pmd)
        assert rate is not None and slowest <= rate <= fastest, (t, slowest, rate, fastest)
        nr_anon_seen.add(mthp(now, names.MTHP_NR_ANON, pmd))
        increases[(before.timestamp, now.timestamp)] = rate * elapsed
    # the workload is in the replay: its 32 THPs held at some times and not at others, every
    # fault counted in the replayed rates (other processes can only add faults)
    assert len(missed) <= len(times) // 4, f"{len(missed)} of {len(times)} times not scraped"
    assert max(nr_anon_seen) - min(nr_anon_seen) >= 32, nr_anon_seen  # others hold THPs too
    assert round(sum(increases.values())) >= recording.thps, increases


def replayed(recording: Recording, exporter, *args: str) -> subprocess.CompletedProcess[str]:
    return top("--prometheus", recording.prometheus.url, "--instance", exporter.target, *args)


PROBE_COUNTS = re.compile(r"(\d+) (ok|absent|blocked|error)\b")


def probes_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("probes: "))


def test_replayed_probe_states_equal_live_top(recording):
    when, live = recording.live_top
    assert live.returncode == 0, live.stderr
    replay = replayed(recording, recording.live_exporter, "--at", f"{when:.3f}", "--once")
    assert replay.returncode == 0, replay.stderr
    live_counts = PROBE_COUNTS.findall(probes_line(live.stdout))
    assert live_counts and ("ok" in dict((s, n) for n, s in live_counts)), live.stdout
    assert PROBE_COUNTS.findall(probes_line(replay.stdout)) == live_counts
    # the fault-latency panel names the same probes in the same states (reasons are not
    # in Prometheus: the replay says so)
    names_in = re.compile(r"(ok|absent|blocked|error): [^(]*\(([^)]*)\)")
    listed = [names_in.findall(" ".join(out.split())) for out in (replay.stdout, live.stdout)]
    assert listed[0] and listed[0] == listed[1]


def cells(text: str, drop: tuple[str, ...]) -> list[str]:
    """The cells of the screen from the pool panel down, read in order, without `drop`."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "Reserved THP pool" in line)
    out = []
    for line in lines[first:]:
        for cell in re.split(r"\s{2,}|│|╭|╰|─+", line):
            cell = cell.strip()
            if cell and not any(d in cell for d in drop):
                out.append(cell)
    return out


def test_replayed_fixture_frame_equals_live_top(recording):
    """The patched tree (pool, a 1 GiB size, processes and cgroups recorded): every cell of the
    replayed frame equals live top's, but where live reads BPF off and replay not recorded."""
    when, live = recording.fixture_top
    assert live.returncode == 0, live.stderr
    replay = replayed(recording, recording.fixture_exporter, "--at", f"{when:.3f}", "--once")
    assert replay.returncode == 0, replay.stderr
    differ = ("no fault latency", "smaps not read")
    live_cells, replay_cells = cells(live.stdout, differ), cells(replay.stdout, differ)
    assert replay_cells == live_cells
    pool = kernelfiles.reserved_pool(PATCHED)
    used = f"used {pool['used']} / {pool['total']}"
    for shown in (used, "1048576kB", "redis-server", "/vmhost/small"):
        assert any(shown in c for c in replay_cells), (shown, replay.stdout)
    assert "smaps not read (absent): reason not recorded" in replay.stdout
    assert "probes: not recorded (the exporter ran without BPF" in replay.stdout


def test_unexported_rows_read_not_recorded(recording):
    """The live exporter ran without --processes/--cgroups: replayed, those tables are
    "not recorded", where live top (which scans itself) has rows."""
    _, live = recording.live_top
    assert re.search(r"^processes\s", live.stdout, re.M), live.stdout
    replay = replayed(recording, recording.live_exporter, "--at", f"{recording.end:.3f}", "--once")
    assert replay.returncode == 0, replay.stderr
    assert "Top processes: not recorded (the exporter did not export procscan)" in replay.stdout
    assert "Top cgroups: not recorded (the exporter did not export cgroups)" in replay.stdout
    assert "process rows: the exporter ran without --processes" in replay.stdout
    assert "none reported" not in replay.stdout
    assert not re.search(r"^processes\s", replay.stdout, re.M)


def test_steps_through_a_range(recording):
    """--from/--to with -n: one frame per step, each a scrape one step after the last."""
    start = recording.start
    replay = replayed(
        recording, recording.fixture_exporter, "--from", f"{start:.3f}", "--to", f"{start + 3:.3f}",
        "--step", "1s", "-n", "10",
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    clocks = re.findall(r"^thpwatch top .* every 1s  (\d\d:\d\d:\d\d)", replay.stdout, re.M)
    assert len(clocks) == 4, replay.stdout  # from, +1, +2, +3 = to: the end of the range
    assert len(set(clocks)) == 4


def test_errors_say_what_and_exit_codes(recording):
    prom, exporter = recording.prometheus, recording.live_exporter
    closed = f"http://127.0.0.1:{free_port()}"
    cases = [  # (args, exit code, what stderr says)
        (["--prometheus", closed, "--instance", exporter.target, "--once"], 1,
         f"cannot reach Prometheus at {closed}"),
        (["--prometheus", prom.url, "--instance", "nowhere:1", "--once"], 1,
         "no thpwatch data of instance nowhere:1 at"),
        (["--prometheus", prom.url, "--instance", 'we"ird\\{}:1', "--once"], 1,
         'no thpwatch data of instance we"ird\\{}:1 at'),  # quoted in PromQL: no parse error
        (["--prometheus", prom.url, "--instance", exporter.target, "--at", "-2h", "--once"], 1,
         "no thpwatch instance at all then"),
        (["--prometheus", prom.url, "--instance", exporter.target, "--at", "yesterday"], 2,
         "Invalid value for --at: 'yesterday' is not a time"),
        (["--prometheus", prom.url, "--instance", exporter.target, "--at", "1796659500000"], 2,
         "too large for unix seconds"),
        (["--prometheus", prom.url, "--instance", exporter.target, "--from", "-1m", "--to",
          "-2m"], 2, "is not after --from"),
        (["--prometheus", "localhost:9090", "--instance", exporter.target], 2,
         "is not an http:// or https:// URL"),
        (["--prometheus", prom.url, "--once"], 2, "--prometheus needs --instance"),
        (["--at", "-1m", "--once"], 2, "--at needs --prometheus URL"),
        (["--from", "-1m", "--once"], 2, "--from needs --prometheus URL"),
        (["--prometheus", prom.url, "--instance", exporter.target, "--no-bpf"], 2,
         "--no-bpf is for live top"),
    ]  # fmt: skip
    # The same command in-process: 10 interpreter starts cost 25 s here. Click 8.1 (Debian 12's
    # python3-click) keeps stderr apart only when asked; 8.2 always does and has no such option.
    separate = "mix_stderr" in inspect.signature(CliRunner).parameters
    runner = CliRunner(**({"mix_stderr": False} if separate else {}))
    for args, code, says in cases:
        result = runner.invoke(main, ["top", *args])
        assert (result.exit_code, says in result.stderr) == (code, True), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_target_down_then_reads_no_data(prometheus, thpwatch_exporter):
    """Prometheus could not scrape the exporter at that time: said, exit 1, no frame."""
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch", count=2)
    exporter.stop()
    wait_until(
        lambda: prom.value(f'up{{instance="{exporter.target}"}}') == 0, 30, "up to drop to 0"
    )
    result = top("--prometheus", prom.url, "--instance", exporter.target, "--once")
    assert result.returncode == 1, result.stdout
    assert f"Prometheus could not scrape {exporter.target} (up 0)" in result.stderr
    assert "THP by size" not in result.stdout


def test_histograms_come_back_with_the_exporters_buckets(recording):
    """A latency histogram of the replayed Snapshot has the buckets the exporter serves."""
    exporter = recording.live_exporter
    _, now = history(recording, exporter.target).pair_at(recording.end, SCRAPE_INTERVAL)
    served = re.findall(
        r'^thpwatch_compaction_seconds_bucket\{le="([^"]+)"\}', exporter.metrics(), re.M
    )
    h = now.get(names.COMPACTION_SECONDS)
    if not served:  # the compaction probe is not attached here: nothing served, nothing replayed
        assert h is None and now.status("compaction", "probe").state is not State.OK
        return
    assert isinstance(h, Histogram)
    assert list(h.bounds) == [float(le) for le in served if le != "+Inf"]
    assert h.count >= h.cumulative[-1] >= 0 and h.total >= 0


def test_an_instance_scraped_by_two_jobs_needs_job(prometheus, thpwatch_exporter):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config(job, exporter.target) for job in ("node-a", "node-b")])
    prom.wait_for_scrapes("node-b", count=2)
    args = ["--prometheus", prom.url, "--instance", exporter.target, "--once"]
    either = top(*args)
    assert either.returncode == 1
    assert "is scraped by several jobs (node-a, node-b): choose one with --job" in either.stderr
    one = top(*args, "--job", "node-b")
    assert one.returncode == 0, one.stderr
    assert f"{exporter.target} (job node-b)" in one.stdout and "1048576kB" in one.stdout
