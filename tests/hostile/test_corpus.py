"""The mutation corpus over every kernel file thpwatch reads (see corpus.py): 0 tracebacks, 0
hangs, the broken file's source in the state the rules give (error; blocked when unreadable to
an unprivileged user), the sources that do not read it exactly as on the intact tree, reasons
bounded; and a few whole `thpwatch snapshot` runs for the exit codes of the README's table.

The cases run in two worker processes (one as root, one as `nobody` for the unreadable files),
many cases each, under a timeout: a blocked read would show as the case that started last.
"""

from __future__ import annotations

import inspect
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import require

from hostile import corpus
from thpwatch.kernel import facts

TESTS = Path(__file__).resolve().parent.parent
THPWATCH = str(Path(sys.executable).with_name("thpwatch"))
MAX_REASON = 8000  # 20 problems of a bounded length each
MAX_SECONDS = 2.5  # per source: the scan's 2 s budget holds on a FIFO too


def run_worker(*args: str, user: str | None = None) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "hostile.corpus", *args],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=600,
        user=user,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    started = [line["starting"] for line in lines if "starting" in line]
    assert done.returncode == 0, f"worker died in case {started[-1:]}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return lines


def judge(lines: list[dict]) -> list[str]:
    """Every way the cases break the rules, as sentences (empty: all held)."""
    base = lines[0]["report"]
    assert {s["state"] for s in base.values()} <= {"ok", "absent"}, base
    failures, seen = [], 0
    for line in lines[1:]:
        if "case" not in line:
            continue
        seen += 1
        path, mutation = line["case"]
        f, report = corpus.BY_PATH[path], line["report"]
        want = corpus.expected(path, mutation)
        got = report[f.owner]
        where = f"{path} {mutation}"
        if got["state"] != want:
            failures.append(f"{where}: {f.owner} is {got['state']}, want {want}: {got['reason']}")
        for name, st in report.items():
            if "internal error" in st["reason"]:
                failures.append(f"{where}: {name} crashed: {st['reason'][:300]}")
            if len(st["reason"]) > MAX_REASON:
                failures.append(f"{where}: {name} reason is {len(st['reason'])} characters")
            if st["seconds"] > MAX_SECONDS:
                failures.append(f"{where}: {name} took {st['seconds']:.1f} s")
            if (
                name != f.owner
                and name not in f.also
                and (st["state"] != base[name]["state"] or st["samples"] != base[name]["samples"])
            ):
                failures.append(f"{where}: unrelated source {name} changed: {st['state']}")
    assert seen > 0
    return failures


def test_every_path_in_facts_is_in_the_corpus():
    """The corpus follows the code: every kernel path facts.py names is mutated (directories
    through a file in them)."""
    paths = {
        value
        for name, value in inspect.getmembers(facts)
        if isinstance(value, str) and value.startswith(("proc/", "sys/", "dev/"))
    }
    covered = {f.path for f in corpus.FILES}
    paths -= {facts.TRACEFS, facts.DEBUGFS_TRACING}  # the BPF loader's, on / only: never --root
    missing = {p for p in paths if not any(c == p or c.startswith(p + "/") for c in covered)}
    assert missing == set()


def test_mutated_kernel_files_as_root():
    lines = run_worker("content")
    cases = [line["case"] for line in lines if line.get("case")]
    assert len(cases) == len(corpus.cases()) > 300
    assert judge(lines) == []


def test_unreadable_kernel_files_as_an_unprivileged_user():
    require(os.geteuid() == 0, "switching to an unprivileged user needs root")
    user = pwd.getpwnam("nobody").pw_name
    parent = Path(tempfile.mkdtemp(prefix="thpwatch-corpus-"))
    try:
        parent.chmod(0o755)
        corpus.prepare(parent)
        lines = run_worker(corpus.UNREADABLE, str(parent), user=user)
    finally:
        shutil.rmtree(parent)
    assert len([line for line in lines if line.get("case")]) == len(corpus.FILES)
    assert judge(lines) == []


def snapshot(root: Path, user: str | None = None) -> tuple[int, dict, str]:
    done = subprocess.run(
        [THPWATCH, "snapshot", "--json", "--root", str(root), "--process-smaps", "on"],
        capture_output=True,
        text=True,
        timeout=60,
        user=user,
    )
    states = {s["name"]: s["state"] for s in json.loads(done.stdout)["statuses"]}
    return done.returncode, states, done.stderr


@pytest.mark.parametrize(
    ("path", "mutation", "source", "code"),
    [
        (facts.PROC_VMSTAT, "10^400", "vmstat", 1),
        (facts.PROC_PAGETYPEINFO, "2^70", "pagetypeinfo", 1),
        (facts.PROC_CMDLINE, "fifo", "cmdline", 1),
        (facts.DEV_KMSG, "dangling_symlink", "kmsg", 1),
        (facts.SYS_BTF_VMLINUX, "type_ref_out_of_range", "features", 1),
        (facts.PROC_OSRELEASE, "non_utf8", "features", 0),
        (facts.PROC_PAGETYPEINFO, corpus.UNREADABLE, "pagetypeinfo", 3),
    ],
)
def test_exit_codes_follow_the_readme(tmp_path, path, mutation, source, code):
    """README: 0 read or absent, 1 a source failed, 3 a source blocked (checked before 1)."""
    user = None
    if mutation == corpus.UNREADABLE:
        require(os.geteuid() == 0, "switching to an unprivileged user needs root")
        user = "nobody"
        tmp_path = Path(tempfile.mkdtemp(prefix="thpwatch-corpus-"))
        tmp_path.chmod(0o755)
    try:
        root = corpus.tree(tmp_path, "t")
        corpus.mutate(root, path, mutation)
        returncode, states, stderr = snapshot(root, user)
    finally:
        if user:
            shutil.rmtree(tmp_path)
    assert returncode == code, (states, stderr[-2000:])
    assert states[source] == corpus.expected(path, mutation)
    assert "Traceback" not in stderr
