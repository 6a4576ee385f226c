"""The BPF program text and the compiler flags it is built with.

The text is the group files (bpf/<group>.bpf.c) concatenated, `#include "x.inc"` snippets
inlined. The flags carry everything the C must not hard-code: which tracepoints and functions
exist (-DTHPW_HAVE_<name>), every kernel constant, the process filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.probes.specs import GROUPS, ProbeSpec

BPF_DIR = Path(__file__).resolve().parent.parent / "bpf"  # thpwatch/bpf -> ../bpf in a checkout
MIN_ORDER = 2  # mm_page_alloc: orders below the smallest mTHP (16 KiB) are dropped at once
THP_ADVICE = tuple(facts.MADV_NAMES)


def tracepoint_define(tp: str) -> str:
    return "-DTHPW_HAVE_" + tp.replace(":", "__")


def common_cflags(groups: Iterable[str], pid: int | None, bpf_dir: Path) -> list[str]:
    madv = "||".join(f"((b)=={n})" for n in THP_ADVICE)
    flags = [
        f"-I{bpf_dir}",
        f"-DTHPW_MIN_ORDER={MIN_ORDER}",
        f"-DTHPW_GFP_RESERVED_THP={facts.GFP_RESERVED_THP:#x}",
        f"-DTHPW_VM_FAULT_RETRY={facts.VM_FAULT_RETRY:#x}",
        f"-DTHPW_VM_FAULT_MAJOR={facts.VM_FAULT_MAJOR:#x}",
        f"-DTHPW_VM_FAULT_NOT_MAPPED={facts.VM_FAULT_NOT_MAPPED:#x}",
        f"-DTHPW_MADV_WANTED(b)=({madv})",
    ]
    flags += [f"-DTHPW_GROUP_{g}" for g in groups]
    if pid is not None:
        flags.append(f"-DTHPW_TGID={int(pid)}")
    return flags


def function_cflags(functions: Iterable[KernelFunction], method: str) -> list[str]:
    flags = ["-DTHPW_FUNCTION_PROBES"]
    if method == "fentry":
        flags.append("-DTHPW_FENTRY")
    for fn in functions:
        flags += [
            f"-DTHPW_HAVE_{fn.name}",
            f"-DTHPW_NARGS_{fn.name}={fn.nargs}",
            f"-DTHPW_RET_INT_{fn.name}={int(fn.returns_value)}",
        ]
    return flags


_SNIPPET = re.compile(r'^#include "(?P<name>\w+\.inc)"$', re.M)


def program_text(probes: Iterable[ProbeSpec], bpf_dir: Path = BPF_DIR) -> str:
    """The group files, concatenated in GROUPS order, with `#include "x.inc"` snippets inlined:
    bcc generates tracepoint argument structs and rewrites map calls only in its main text."""
    files = dict.fromkeys(p.file for p in sorted(probes, key=lambda p: GROUPS.index(p.group)))
    text = "".join(f"/* {f} */\n" + (bpf_dir / f).read_text() for f in files)
    return _SNIPPET.sub(lambda m: (bpf_dir / m["name"]).read_text().rstrip("\n"), text)
