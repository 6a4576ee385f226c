"""The node_exporter textfile: atomic replacement, stale temp files removed, clear errors."""

from __future__ import annotations

import os

import pytest

from thpwatch.exporter import textfile


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
