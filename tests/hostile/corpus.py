"""The mutation corpus (#17): every kernel file thpwatch reads, each broken in every way a file
can be, read as a whole Snapshot of a copy of tests/fixtures/patched.

FILES lists the files (their paths come from thpwatch.kernel.facts, and test_corpus checks that
every path constant there is covered), the source that owns each, the sources that read it too,
where in it the value to mutate sits, and what state each mutation must leave the owner in
(ERROR unless the file's kind says otherwise). `python -m hostile.corpus CASE...` (cwd tests/)
runs cases in one process and prints one JSON line per case: what each source reported.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from thpwatch.kernel import facts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BASE = FIXTURES / "patched"

OK, ERROR, BLOCKED = "ok", "error", "blocked"
THP = facts.THP_DIR
MTHP = f"{THP}/hugepages-2048kB"

# Content mutations: bytes of the file -> new bytes. `m` is the match of the file's target
# (group v: the value; the whole match: its line).
Content = Callable[[bytes, re.Match[bytes]], bytes]


def _in_value(insert: bytes) -> Content:
    def mutate(data: bytes, m: re.Match[bytes]) -> bytes:
        middle = m.start("v") + max(1, len(m["v"]) // 2)
        return data[:middle] + insert + data[middle:]

    return mutate


def _value(new: Callable[[bytes], bytes]) -> Content:
    return lambda data, m: data[: m.start("v")] + new(m["v"]) + data[m.end("v") :]


def _line(new: Callable[[bytes], bytes]) -> Content:
    return lambda data, m: data[: m.start()] + new(m[0]) + data[m.end() :]


CONTENT: dict[str, Content] = {
    "empty": lambda data, m: b"",
    "truncated": lambda data, m: data[: m.start("v") + max(1, len(m["v"]) // 2)],
    "random": lambda data, m: random.Random(17).randbytes(4096).rstrip(b"\n"),
    "nul": _in_value(b"\0"),
    "non_utf8": _in_value(b"\xff\xfe"),
    "2^70": _value(lambda v: str(2**70).encode()),
    "10^400": _value(lambda v: b"1" + b"0" * 400),
    "negative": _value(lambda v: b"-" + v),
    "float": _value(lambda v: v + b".5"),
    "duplicated": _line(lambda line: line + b"\n" + line),
    "extra_column": _line(lambda line: line + b" 7"),
    "missing_column": _line(lambda line: line.rsplit(None, 1)[0] if b" " in line else b""),
    "1MB_line": _line(lambda line: line + b"\n" + b"x" * (1 << 20)),
}
NUMERIC = {"2^70", "10^400", "negative", "float"}
STRUCTURE = ("directory", "dangling_symlink", "symlink_loop", "fifo")
UNREADABLE = "unreadable"  # run as an unprivileged user: chmod 000 does not stop root


@dataclass(frozen=True)
class KernelFile:
    path: str  # under the root
    owner: str  # the source that reads it
    target: bytes  # regex: group v is the value the content mutations change
    also: frozenset[str] = frozenset()  # other sources that read it (may change with it)
    not_error: dict[str, str] = field(default_factory=dict)  # mutation -> state instead
    skip: frozenset[str] = frozenset()  # mutations that make no sense for this file
    unreadable: str = BLOCKED


def _ok(*mutations: str) -> dict[str, str]:
    return dict.fromkeys(mutations, OK)


ONE_VALUE = rb"^(?P<v>\d+)$"
MODE = rb"\[(?P<v>[a-z+_]+)\]"
SETTINGS_READERS = frozenset({"reserved_thp", "pagetypeinfo", "cmdline", "checks"})
FEATURE_READERS = frozenset({"procscan", "checks"})
EVERY_CONTENT_OK = _ok(*CONTENT)

FILES = (
    *(
        KernelFile(
            f"{facts.RESERVED_THP_DIR}/{name}", "reserved_thp", ONE_VALUE, {"cmdline", "checks"}
        )
        for name in (facts.RESERVED_THP_TOTAL, facts.RESERVED_THP_FREE, facts.RESERVED_THP_USED)
    ),
    KernelFile(f"{THP}/{facts.THP_HPAGE_PMD_SIZE}", "thp_settings", ONE_VALUE, SETTINGS_READERS),
    KernelFile(f"{THP}/{facts.THP_USE_ZERO_PAGE}", "thp_settings", ONE_VALUE),
    KernelFile(f"{THP}/{facts.KHUGEPAGED_DIR}/pages_collapsed", "thp_settings", ONE_VALUE),
    *(
        KernelFile(f"{THP}/{name}", "thp_settings", MODE, skip=frozenset(NUMERIC))
        for name in (facts.THP_ENABLED, facts.THP_DEFRAG, facts.THP_SHMEM_ENABLED)
    ),
    *(
        KernelFile(f"{MTHP}/{name}", "mthp", MODE, {"checks"}, skip=frozenset(NUMERIC))
        for name in (facts.MTHP_ENABLED, facts.MTHP_SHMEM_ENABLED)
    ),
    KernelFile(f"{MTHP}/{facts.MTHP_STATS_DIR}/anon_fault_alloc", "mthp", ONE_VALUE, {"checks"}),
    KernelFile(f"{MTHP}/{facts.MTHP_STATS_DIR}/nr_anon", "mthp", ONE_VALUE, {"checks"}),
    KernelFile(facts.PROC_VMSTAT, "vmstat", rb"(?m)^thp_fault_alloc (?P<v>\d+)$", {"checks"}),
    KernelFile(facts.PROC_MEMINFO, "meminfo", rb"(?m)^AnonHugePages: +(?P<v>\d+) kB$"),
    KernelFile(
        facts.PROC_PAGETYPEINFO,
        "pagetypeinfo",
        rb"(?m)^Node +0, zone +Normal, type +ReserveTHP.* (?P<v>\d+) *$",
        {"checks"},
    ),
    # Any text is a kernel command line: the kernel's own parsers judge the values (and the
    # source says valid=0); only a file that is not one whole line is an error.
    KernelFile(
        facts.PROC_CMDLINE,
        "cmdline",
        rb"thp_reserved_nr=(?P<v>\d+)",
        not_error=_ok(*(set(CONTENT) - {"empty", "truncated", "random", "1MB_line"})),
    ),
    # Names: any bytes are a release, escaped and capped; only an oversized file is an error.
    KernelFile(
        facts.PROC_OSRELEASE,
        "features",
        rb"^(?P<v>[^\n]+)$",
        FEATURE_READERS,
        _ok(*(set(CONTENT) - {"1MB_line"})),
        unreadable=OK,  # the release then reads "unknown": a limit, not a failure
    ),
    # Lines that are not symbols are not looked at; nothing in its text is an error.
    KernelFile(
        facts.PROC_KALLSYMS,
        "features",
        rb"(?m)^(?P<v>0+) T do_huge_pmd_anonymous_page$",
        FEATURE_READERS,
        EVERY_CONTENT_OK,
        unreadable=OK,  # the series then read "unknown" (features.* absent), said, not failed
    ),
    KernelFile(
        facts.SYS_BTF_VMLINUX,
        "features",
        b"",  # binary: its own mutations (tests/hostile/test_corpus.py)
        FEATURE_READERS,
        skip=frozenset(set(CONTENT) - {"empty", "random"}),
        unreadable=OK,
    ),
    # A log: records it cannot use are errors, messages it does not know are not.
    KernelFile(
        facts.DEV_KMSG,
        "kmsg",
        rb"(?m)^6,412,183211,-;reserved (?P<v>\d+)/64 PMD THP pageblocks \(2097152 bytes each\)$",
        not_error=_ok("empty", "truncated", "nul", "non_utf8", "negative", "float", "duplicated",
                      "extra_column", "missing_column"),
    ),
    KernelFile("proc/1200/" + facts.PROC_PID_STATUS, "procscan",
               rb"(?m)^VmPTE:\t +(?P<v>\d+) kB$", unreadable=OK),  # one process of four
    # An empty smaps is a process that exited between its status and its smaps: not an error.
    KernelFile("proc/1200/" + facts.PROC_PID_SMAPS, "procscan",
               rb"(?m)^AnonHugePages: +(?P<v>\d+) kB$", not_error=_ok("empty"), unreadable=OK),
    KernelFile(f"{facts.CGROUP1_MEMORY}/vmhost/{facts.CGROUP_MEMSTAT}", "cgroups",
               rb"(?m)^rss_huge (?P<v>\d+)$"),
    # The fixture's v2 mount has no memory controller: any text there just says so.
    KernelFile(f"{facts.CGROUP_ROOT}/{facts.CGROUP2_UNIFIED}/{facts.CGROUP2_CONTROLLERS}",
               "cgroups", rb"^(?P<v>\w+)$", not_error=_ok(*(set(CONTENT) - {"1MB_line"}))),
)  # fmt: skip
BY_PATH = {f.path: f for f in FILES}
BTF_MUTATIONS = ("zeroed_magic", "type_ref_out_of_range", "trailing_bytes", "half")


def cases(unreadable: bool = False) -> list[tuple[str, str]]:
    """(path, mutation) pairs: every mutation that makes sense for every file."""
    out = []
    for f in FILES:
        if unreadable:
            out.append((f.path, UNREADABLE))
            continue
        content = BTF_MUTATIONS if f.path == facts.SYS_BTF_VMLINUX else ()
        for m in (*CONTENT, *content, *STRUCTURE):
            if m not in f.skip:
                out.append((f.path, m))
    return out


def expected(path: str, mutation: str) -> str:
    f = BY_PATH[path]
    if mutation == UNREADABLE:
        return f.unreadable
    return f.not_error.get(mutation, ERROR)


def _btf(data: bytes, mutation: str) -> bytes:
    from thpwatch.kernel.btf import HEADER, TYPE, Btf

    if mutation == "zeroed_magic":
        return b"\0\0\0\0" + data[4:]
    if mutation == "half":
        return data[: len(data) // 2]
    if mutation == "trailing_bytes":
        return data + b"\0" * (1 << 20)
    btf = Btf(data)  # type_ref_out_of_range: the first FUNC points at a type that is not there
    fid = next(iter(btf._funcs.values()))[0]
    hdr_len, type_off = HEADER.unpack_from(data)[3:5]
    at = hdr_len + type_off + btf._types[fid].offset + 8
    return data[:at] + (0xFFFFFF).to_bytes(4, "little") + data[at + TYPE.size - 8 :]


def mutate(root: Path, path: str, mutation: str) -> None:
    """Apply one mutation to root/path (a fresh file: the tree may share inodes with BASE)."""
    target = root / path
    data = target.read_bytes()
    target.unlink()
    if mutation == "directory":
        target.mkdir()
    elif mutation == "dangling_symlink":
        target.symlink_to(root / "no-such-file")
    elif mutation == "symlink_loop":
        target.symlink_to(target.name)
    elif mutation == "fifo":
        os.mkfifo(target)
    elif mutation == UNREADABLE:
        target.write_bytes(data)
        target.chmod(0)
    elif mutation in BTF_MUTATIONS:
        target.write_bytes(_btf(data, mutation))
    else:
        m = re.search(BY_PATH[path].target, data)
        assert m is not None, f"{path}: target {BY_PATH[path].target!r} not in the fixture"
        target.write_bytes(CONTENT[mutation](data, m))


def tree(parent: Path, name: str) -> Path:
    """A copy of BASE that mutations may change (hard links: mutate() replaces, never edits)."""
    root = parent / name
    shutil.copytree(BASE, root, copy_function=os.link)
    for d, _, _ in os.walk(root):
        os.chmod(d, 0o755)
    return root


def read(root: Path) -> dict[str, dict]:
    """Every source of a Snapshot of root, one by one: state, reason, digest of its samples."""
    from thpwatch.assembly import SourceOptions, all_sources
    from thpwatch.sampler import run_source

    report = {}
    for source in all_sources(root, SourceOptions(bpf=False, process_smaps="on")):
        start = time.monotonic()
        samples, statuses = run_source(source)
        kept = sorted(
            (s.name, s.labels, repr(s.value))
            for s in samples
            if s.name != "thpwatch_source_age_seconds"
        )
        report[source.name] = {
            "state": statuses[0].state.value,
            "reason": statuses[0].reason,
            "samples": sha256(repr(kept).encode()).hexdigest(),
            "seconds": time.monotonic() - start,
        }
    return report


def restore(root: Path, path: str) -> None:
    """Undo mutate(): the intact file is back (one tree serves every case, which keeps the
    corpus fast; the cached feature detection is dropped before each reading)."""
    target = root / path
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    else:
        target.unlink()
    os.link(BASE / path, target)


def main(argv: list[str]) -> None:
    """`content`: mutate, read and restore one tree per case here. `unreadable DIR`: read the
    trees prepare() made in DIR (this process runs unprivileged and could not make them).
    Prints the baseline's report, then for each case a line when it starts and its report."""
    from thpwatch.features import detected

    unreadable = argv[0] == UNREADABLE
    parent = Path(argv[1]) if unreadable else Path(tempfile.mkdtemp(prefix="thpwatch-corpus-"))
    try:
        base = parent / "base" if unreadable else tree(parent, "base")
        print(json.dumps({"case": None, "report": read(base)}), flush=True)
        for n, (path, mutation) in enumerate(cases(unreadable)):
            print(json.dumps({"starting": [path, mutation]}), flush=True)
            root = parent / f"case{n}" if unreadable else base
            if not unreadable:
                mutate(root, path, mutation)
            detected.cache_clear()
            report = read(root)
            print(json.dumps({"case": [path, mutation], "report": report}), flush=True)
            if not unreadable:
                restore(root, path)
    finally:
        if not unreadable:
            shutil.rmtree(parent, ignore_errors=True)


def prepare(parent: Path) -> None:
    """The trees of the unreadable cases, made by root for an unprivileged reader."""
    tree(parent, "base")
    for n, (path, mutation) in enumerate(cases(unreadable=True)):
        mutate(tree(parent, f"case{n}"), path, mutation)


if __name__ == "__main__":
    main(sys.argv[1:])
