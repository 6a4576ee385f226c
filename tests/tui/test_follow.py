"""-p/-c without a terminal: which rows are kept, how paths are read, what reaches the probes;
the scroll and reverse keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thpwatch.tui.controls import PAGE_DOWN, PAGE_UP, handle_key
from thpwatch.tui.follow import Follow, normalise_cgroup, process_cgroups, within
from thpwatch.tui.keys import ESC
from thpwatch.tui.screen import ViewState


def proc_tree(tmp_path: Path, pid: int, cgroup_file: str) -> Path:
    d = tmp_path / "proc" / str(pid)
    d.mkdir(parents=True)
    (d / "cgroup").write_text(cgroup_file)
    return tmp_path


HYBRID = "4:memory:/db/primary\n1:cpu:/\n0::/\n"
V2 = "0::/system.slice/db.service\n"


def test_cgroup_paths_of_a_process(tmp_path):
    root = proc_tree(tmp_path, 10, HYBRID)
    proc_tree(tmp_path, 11, V2)
    assert process_cgroups(root, 10) == ("/db/primary", "/")
    assert process_cgroups(root, 11) == ("/system.slice/db.service",)
    assert process_cgroups(root, 12) == ()  # gone


@pytest.mark.parametrize(
    ("given", "path"),
    [("/sys/fs/cgroup/a/b", "/a/b"), ("a/b/", "/a/b"), ("/sys/fs/cgroup/memory/x", "/x"),
     ("/", "/")],
)  # fmt: skip
def test_normalise_cgroup(given, path):
    assert normalise_cgroup(given) == path


def test_within_is_by_path_component():
    assert within("/db/primary", "/db") and within("/db", "/db") and within("/x", "/")
    assert not within("/dbx", "/db")


def test_follow_keeps_the_process_and_the_cgroups_that_hold_it(tmp_path):
    root = proc_tree(tmp_path, 10, HYBRID)
    proc_tree(tmp_path, 11, V2)
    by_pid = Follow(pid=10, root=root)
    assert by_pid.keeps_process((("comm", "db"), ("pid", "10")))
    assert not by_pid.keeps_process((("comm", "db"), ("pid", "11")))
    assert not by_pid.keeps_process((("comm", "db"),))  # grouped by comm: no pid to follow
    assert by_pid.keeps_cgroup((("cgroup", "/db"),))  # an ancestor of its cgroup
    assert not by_pid.keeps_cgroup((("cgroup", "/web"),))
    by_cgroup = Follow(cgroup="/db", root=root)
    assert by_cgroup.keeps_process((("comm", "db"), ("pid", "10")))
    assert not by_cgroup.keeps_process((("comm", "x"), ("pid", "11")))
    assert by_cgroup.keeps_cgroup((("cgroup", "/db/primary"),))
    assert not by_cgroup.keeps_cgroup((("cgroup", "/"),))
    assert not Follow() and Follow().keeps_process((("comm", "a"),))


def test_following_a_pid_compiles_the_probes_for_it():
    from thpwatch.assembly import SourceOptions, all_sources

    sources = all_sources(Path("/"), SourceOptions(pid=os.getpid(), processes=False))
    (bpf,) = [s for s in sources if s.name == "bpf"]
    assert bpf.probes.pid == os.getpid()  # THPW_TGID when they compile


def test_scroll_keys_and_reverse():
    state = ViewState(page=5)
    for key, want in [(ESC + "[B", 1), ("j", 2), (PAGE_DOWN, 7), ("k", 6), (PAGE_UP, 1),
                      (ESC + "[A", 0), (ESC + "[A", 0), (PAGE_DOWN, 5), ("g", 0)]:  # fmt: skip
        handle_key(state, key)
        assert state.scroll == want, key
    handle_key(state, PAGE_DOWN)
    handle_key(state, "r")
    assert state.reverse and state.scroll == 0  # a new order starts at its top
    handle_key(state, "s")
    assert state.scroll == 0 and state.reverse
    handle_key(state, "r")
    assert not state.reverse
