"""The node_exporter textfile: atomic replacement, stale temp files removed, clear errors."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess

import pytest
from conftest import require
from prometheus_client import CollectorRegistry, generate_latest

from thpwatch.exporter import textfile
from thpwatch.exporter.collector import SnapshotCollector
from thpwatch.sampler import Sampler


def test_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    textfile.write_atomically(tmp_path, b"thpwatch_a 1\n")
    old_inode = (tmp_path / "thpwatch.prom").stat().st_ino
    textfile.write_atomically(tmp_path, b"thpwatch_a 2\n")
    assert (tmp_path / "thpwatch.prom").read_bytes() == b"thpwatch_a 2\n"
    assert (tmp_path / "thpwatch.prom").stat().st_ino != old_inode  # renamed over, not rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thpwatch.prom"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    textfile.write_atomically(tmp_path, b"thpwatch_a 1\n")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        textfile.write_atomically(tmp_path, b"thpwatch_a 2\n")
    assert (tmp_path / "thpwatch.prom").read_bytes() == b"thpwatch_a 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thpwatch.prom"]


def test_stale_temp_files_of_a_killed_daemon_are_removed(tmp_path):
    (tmp_path / ".thpwatch.prom.4242.tmp").write_text("half")
    (tmp_path / "node.prom").write_text("other collector")
    removed = textfile.remove_stale_temp_files(tmp_path)
    assert [p.name for p in removed] == [".thpwatch.prom.4242.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.prom"]


def test_directory_problems_name_the_directory(tmp_path):
    with pytest.raises(textfile.TextfileError, match=f"{tmp_path / 'nope'}: not a directory"):
        textfile.check_directory(tmp_path / "nope")


def test_a_symlink_at_the_old_predictable_temp_name_is_not_followed(tmp_path):
    """#17: a user who can write the directory planted DIR/.thpwatch.prom.<pid>.tmp -> a file
    root owns; the write must neither overwrite nor chmod that file."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's file\n")
    victim.chmod(0o600)
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    (textdir / f".thpwatch.prom.{os.getpid()}.tmp").symlink_to(victim)
    textfile.write_atomically(textdir, b"thpwatch_a 1\n")
    assert victim.read_bytes() == b"root's file\n"
    assert victim.stat().st_mode & 0o777 == 0o600
    assert (textdir / "thpwatch.prom").read_bytes() == b"thpwatch_a 1\n"


def test_a_symlink_at_the_exact_temp_name_fails_the_write_not_the_victim(tmp_path, monkeypatch):
    """Even if the random part were guessed, O_EXCL|O_NOFOLLOW refuse the planted symlink."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's file\n")
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    monkeypatch.setattr(textfile.secrets, "token_hex", lambda n: "guessed")
    (textdir / f".thpwatch.prom.{os.getpid()}.guessed.tmp").symlink_to(victim)
    writer = textfile.TextfileWriter(textdir)
    assert writer.write(b"thpwatch_a 1\n") is False
    assert writer.errors == {"EEXIST": 1}
    assert victim.read_bytes() == b"root's file\n"
    assert (textdir / f".thpwatch.prom.{os.getpid()}.guessed.tmp").is_symlink()  # left alone


def test_the_written_file_is_world_readable_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        textfile.write_atomically(tmp_path, b"thpwatch_a 1\n")
    finally:
        os.umask(old)
    assert (tmp_path / "thpwatch.prom").stat().st_mode & 0o777 == 0o644


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs, filled up: every write there fails with ENOSPC. Unmounted after."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        with open(mnt / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"x" * 4096)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_enospc_shows_in_the_metrics_and_the_source_state(full_tmpfs, caplog):
    writer = textfile.TextfileWriter(full_tmpfs)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(Sampler([writer])))
    content = b"thpwatch_a 1\n" * 1500  # 19.5 KB: fits only once emptied
    with caplog.at_level(logging.ERROR):
        assert writer.write(content) is False
        assert writer.write(content) is False
    exposition = generate_latest(registry).decode()
    assert 'thpwatch_textfile_write_errors_total{reason="ENOSPC"} 2.0' in exposition
    assert 'thpwatch_source_state{source="textfile",state="error"} 1.0' in exposition
    assert "thpwatch_textfile_last_success_timestamp_seconds" not in exposition
    assert [p.name for p in full_tmpfs.iterdir()] == ["filler"]  # no temp file left
    logged = [r for r in caplog.records if "No space left" in r.getMessage()]
    assert len(logged) == 1  # once per change of reason, not once per interval
    (full_tmpfs / "filler").unlink()
    assert writer.write(content) is True
    exposition = generate_latest(registry).decode()
    assert 'thpwatch_source_state{source="textfile",state="ok"} 1.0' in exposition
    assert "thpwatch_textfile_writes_total 1.0" in exposition
    assert "thpwatch_textfile_last_success_timestamp_seconds " in exposition
