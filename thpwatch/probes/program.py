"""The BPF program text and the compiler flags it is built with.

The text is the group files (bpf/<group>.bpf.c) concatenated, `#include "x.inc"` snippets
inlined. The flags carry everything the C must not hard-code: which tracepoints and functions
exist (-DTHPW_HAVE_<name>), every kernel constant and every index the decoder shares (each
group's CEnums and constants), the histogram size, the process filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from thpwatch.probes.group import ProbeSpec
from thpwatch.probes.groups import GROUPS as _GROUPS
from thpwatch.probes.histogram import HIST_SLOTS
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.probes.specs import GROUP_FILES, GROUPS

BPF_DIR = Path(__file__).resolve().parent.parent / "bpf"  # thpwatch/bpf -> ../bpf in a checkout


def c_defines() -> dict[str, int | str]:
    """The constants every program text is compiled with (those of every group: a group's C
    may use another's, e.g. swap-in the fault kinds)."""
    out: dict[str, int | str] = {"THPW_HIST_SLOTS": HIST_SLOTS}
    for group in _GROUPS:
        out.update(group.c_defines())
    return out


def tracepoint_define(tp: str) -> str:
    return "-DTHPW_HAVE_" + tp.replace(":", "__")


def common_cflags(groups: Iterable[str], pid: int | None, bpf_dir: Path) -> list[str]:
    flags = [f"-I{bpf_dir}", *(f"-D{name}={value}" for name, value in c_defines().items())]
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
    ordered = sorted(probes, key=lambda p: GROUPS.index(p.group))
    files = dict.fromkeys(GROUP_FILES[p.group] for p in ordered)
    text = "".join(f"/* {f} */\n" + (bpf_dir / f).read_text() for f in files)
    return _SNIPPET.sub(lambda m: (bpf_dir / m["name"]).read_text().rstrip("\n"), text)
