"""Names are bytes (#17): a process renamed to non-UTF-8 bytes with prctl(PR_SET_NAME), mapping
a file whose name is not UTF-8, and a cgroup with a non-UTF-8 name must not blank the scans or
fail a scrape of a real `thpwatch run --processes --cgroups`; and a default exporter with
its BPF probes exports no pid label (README: none unless --pid-labels)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require
from prometheus_client.parser import text_string_to_metric_families

from bench.daemons import wait_until
from e2e.harness import probes_in_this_checkout
from thpwatch import workload
from thpwatch.sources.cgroups import memory_hierarchies

BAD_COMM = b"thpw\xff\xfeodd"  # 9 bytes, under TASK_COMM_LEN; not UTF-8
PLAIN_COMM = b"thpw-plain"

# The child renames itself, maps a file whose name is not UTF-8, says so, and sleeps.
CHILD = textwrap.dedent(
    """
    import ctypes, mmap, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(15, ctypes.c_char_p(sys.argv[1].encode("latin-1")), 0, 0, 0) == 0
    path = os.fsencode(sys.argv[2])
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, 1 << 20)
    m = mmap.mmap(fd, 1 << 20)
    m[0] = 1
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def state(got, source: str) -> str:
    (on,) = [
        dict(labels)["state"]
        for (name, labels), v in got.items()
        if name == "thpwatch_source_state" and dict(labels)["source"] == source and v == 1
    ]
    return on


@contextlib.contextmanager
def renamed_child(comm: bytes, mapped: str) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, comm.decode("latin-1"), mapped],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        assert Path(f"/proc/{child.pid}/comm").read_bytes() == comm + b"\n"
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def odd_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """The odd process, and after it (a higher pid, so later in the scan) a plainly named one."""
    odd_file = os.fsdecode(bytes(tmp_path) + b"/mapped-\xff\xfe.bin")
    with (
        renamed_child(BAD_COMM, odd_file) as odd,
        renamed_child(PLAIN_COMM, str(tmp_path / "plain")),
    ):
        yield odd


@pytest.fixture
def odd_cgroup() -> Iterator[tuple[Path, str]]:
    """A cgroup named with non-UTF-8 bytes in the host's memory hierarchy (v2 or v1), and the
    metric its memory.stat is exported as."""
    require(os.geteuid() == 0, "creating a cgroup needs root")
    hierarchies = memory_hierarchies(Path("/"))
    require(hierarchies, "needs a cgroup memory controller (v2 or v1)")
    h = hierarchies[0]
    if h.version == "v2":
        control = h.path / "cgroup.subtree_control"
        require(
            "memory" in control.read_text().split(),
            "needs the v2 memory controller enabled for children of the root cgroup",
        )
    path = Path(os.fsdecode(bytes(h.path) + b"/thpw-input-\xff\xfe-%d" % os.getpid()))
    path.mkdir()
    try:
        yield path, next(iter(h.metrics.values())).name
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.rmdir()


def test_odd_names_keep_scrapes_200_and_the_scans_whole(odd_process, odd_cgroup, thpwatch_exporter):
    exporter = thpwatch_exporter(
        "--no-bpf", "--processes", "--cgroups", "--process-smaps", "on", "--top", "1000"
    )
    for _ in range(3):
        got = samples(exporter.metrics())  # asserts 200
    assert state(got, "procscan") == "ok", exporter.stderr()
    assert state(got, "cgroups") == "ok", exporter.stderr()
    comms = {dict(lbl)["comm"] for n, lbl in got if n == "thpwatch_process_anon_rss_bytes"}
    assert "thpw\\xff\\xfeodd" in comms  # escaped, kept
    # The rest of the scan is intact: the processes before (this one) and after the odd one.
    assert {Path("/proc/self/comm").read_text().strip(), PLAIN_COMM.decode()} <= comms, comms
    _, metric = odd_cgroup
    cgroups = {dict(lbl)["cgroup"] for n, lbl in got if n == metric}
    assert f"/thpw-input-\\xff\\xfe-{os.getpid()}" in cgroups
    assert len(cgroups) > 1
    assert state(got, "vmstat") == "ok" and any(n.startswith("thpwatch_vmstat_") for n, _ in got)
    assert "Traceback" not in exporter.stderr()


def test_a_default_exporter_exports_no_pid_label(bpf_ready, thpwatch_exporter):
    require(probes_in_this_checkout(), "needs the BPF probe source")
    exporter = thpwatch_exporter()
    me = Path("/proc/self/comm").read_text().strip()

    def madvise_seen() -> str | None:
        workload.madvise_storm(rounds=2)
        text = exporter.metrics()
        return text if f'thpwatch_madvise_top_process_calls_total{{comm="{me}"}}' in text else None

    text = wait_until(madvise_seen, 30, "this process's madvise calls in /metrics")
    assert text.count('pid="') == 0
