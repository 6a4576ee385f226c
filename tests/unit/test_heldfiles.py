"""Held sysfs files (re-read from offset 0) and the mTHP reader that keeps its layout until the
THP directory changes: the same readings as reading afresh, with fds reused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fixturetree import PATCHED, STOCK, tree

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.heldfiles import MAX_VALUE_BYTES, HeldFiles, signature
from thpwatch.kernel.mthp import MthpReader, read_mthp
from thpwatch.kernel.thp_settings import read_thp_settings


def test_a_held_file_is_read_afresh_through_the_same_fd(tmp_path: Path) -> None:
    f = tmp_path / "value"
    f.write_text("1\n")
    files = HeldFiles()
    assert files.text(f) == "1\n"
    fds = set(os.listdir("/proc/self/fd"))
    f.write_text("22\n")  # in place, as the kernel's value changes
    assert files.text(f) == "22\n"
    assert set(os.listdir("/proc/self/fd")) == fds and len(files) == 1
    files.close()
    assert len(files) == 0


def test_missing_oversized_and_non_regular_files_raise_without_reading(tmp_path: Path) -> None:
    files = HeldFiles()
    with pytest.raises(KernelFileError, match="missing"):
        files.text(tmp_path / "nothing")
    big = tmp_path / "big"
    big.write_text("1" * MAX_VALUE_BYTES + "\n")
    with pytest.raises(KernelFileError, match=f"longer than {MAX_VALUE_BYTES} bytes"):
        files.text(big)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking read would hang forever
    with pytest.raises(KernelFileError, match="not a regular file"):
        files.text(fifo)


@pytest.mark.parametrize("root", [STOCK, PATCHED, Path("/")], ids=["stock", "patched", "live"])
def test_the_reader_reads_what_a_fresh_read_does(root: Path) -> None:
    if not (root / facts.THP_DIR).is_dir():
        pytest.skip("this kernel has no THP directory")
    reader = MthpReader(root)
    first = reader.read()
    held = len(reader.files)
    again = reader.read()
    assert len(reader.files) == held  # nothing reopened
    fresh = read_mthp(root)
    assert [s.size for s in first.sizes] == [s.size for s in fresh.sizes]
    if root != Path("/"):  # live counters move between reads
        assert first == again == fresh
    assert held == sum(
        len(s.stats) + (s.enabled is not None) + (s.shmem_enabled is not None) for s in fresh.sizes
    )
    reader.close()


def test_a_new_size_directory_is_discovered(tmp_path: Path) -> None:
    root = tree(tmp_path)
    thp = root / facts.THP_DIR
    reader = MthpReader(root)
    assert "4096kB" not in [s.size for s in reader.read().sizes]
    before = signature(thp)
    shutil.copytree(thp / "hugepages-2048kB", thp / "hugepages-4096kB")
    assert signature(thp) != before
    assert "4096kB" in [s.size for s in reader.read().sizes]
    assert reader.read().size("4096kB") == read_mthp(root).size("4096kB")


def test_a_stat_file_turned_bad_is_a_problem_and_the_rest_is_kept(tmp_path: Path) -> None:
    root = tree(tmp_path)
    reader = MthpReader(root)
    reader.read()
    stat = root / facts.THP_DIR / "hugepages-2048kB" / facts.MTHP_STATS_DIR / "split"
    stat.write_text("garbage\n")
    got = reader.read()
    assert got.size("2048kB").stat("split") is None
    assert any(p.startswith(f"{stat}: line 1:") for p in got.problems)
    assert got.size("2048kB").stat("anon_fault_alloc") == read_mthp(root).size("2048kB").stat(
        "anon_fault_alloc"
    )


def test_thp_settings_through_held_files_equal_a_fresh_read() -> None:
    files = HeldFiles()
    assert read_thp_settings(PATCHED, files.text) == read_thp_settings(PATCHED)
    assert len(files) > 5


def test_once_reads_once_and_does_not_remember_errors() -> None:
    from thpwatch.kernel.readings import Once

    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("first read fails")
        return len(calls)

    once = Once(read)
    with pytest.raises(OSError):
        once.get("a")
    assert (once.get("a"), once.get("b"), once.get("a")) == (2, 2, 2)
    assert len(calls) == 2


def test_dropped_held_files_close_their_descriptors(tmp_path: Path) -> None:
    """Callers that rebuild their sources (tests, one-shot commands) must not leak one fd per
    held file each time."""
    value = tmp_path / "value"
    value.write_text("1\n")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        held = HeldFiles()
        assert held.text(value) == "1\n"
        del held
    assert len(os.listdir("/proc/self/fd")) - before < 5


def test_held_files_stay_within_their_share_of_the_descriptor_limit(tmp_path: Path) -> None:
    """Past its limit HeldFiles reads without holding: a low RLIMIT_NOFILE (the e2e test runs
    the daemon under 48) must leave descriptors for the server and the other sources."""
    paths = []
    for n in range(20):
        p = tmp_path / f"v{n}"
        p.write_text(f"{n}\n")
        paths.append(p)
    held = HeldFiles(limit=5)
    for _ in range(2):
        assert [held.text(p) for p in paths] == [f"{n}\n" for n in range(20)]
    assert len(held) == 5


def test_the_default_limit_is_a_quarter_of_the_descriptor_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
        assert HeldFiles().limit == 12
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
