"""Which of the four patch series the running kernel carries, and how that was concluded.

Each series is looked for in every place it leaves a mark (a sysfs directory, a kernel symbol
in /proc/kallsyms, a function or a parameter in the BTF of vmlinux). Every look is kept as
Evidence, so `doctor` can show what was checked and what was found; the verdict is "yes" if any
look found the series, "no" if looks worked and none found it, "unknown" if no look worked.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from thpwatch.kernel import facts
from thpwatch.kernel.btf import Btf, BtfError, FuncProto
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.kallsyms import find_symbols
from thpwatch.kernel.liveroot import is_live
from thpwatch.kernel.text import MAX_VALUE_BYTES, label_text, read_file
from thpwatch.kernel.vmstat import read_vmstat
from thpwatch.vmpte_selftest import VmpteGrowth, measure_vmpte_growth

# Every name looked up in /proc/kallsyms (one pass over the file).
_SYMBOLS = (
    facts.FN_RESERVED_THP_CHARGE,
    facts.FN_DO_HUGE_PUD_ANON,
    facts.FN_DO_HUGE_PMD_SWAP,
    facts.FN_SMAPS_PUD_WALKER,
)


class Presence(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"  # nothing that could tell was readable


@dataclass(frozen=True)
class Evidence:
    check: str  # what was looked at, e.g. "sysfs dir /sys/kernel/mm/reserved_thp"
    found: str  # what was there
    says: Presence  # what this look alone concludes

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "found": self.found, "says": self.says.value}


@dataclass(frozen=True)
class Feature:
    key: str  # label name in thpwatch_kernel_info
    title: str
    present: Presence
    evidence: tuple[Evidence, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "present": self.present.value,
            "evidence": [e.to_json() for e in self.evidence],
        }


def conclude(evidence: Iterable[Evidence]) -> Presence:
    says = {e.says for e in evidence}
    if Presence.YES in says:
        return Presence.YES
    if Presence.NO in says:
        return Presence.NO
    return Presence.UNKNOWN


@dataclass(frozen=True)
class KernelReport:
    release: str
    series: tuple[Feature, ...]  # the four series, in facts.SERIES order
    smaps_pud_safe: Feature  # smaps walks PUD THPs without splitting them
    problems: tuple[str, ...] = ()  # kernel files that exist but are broken (corrupt BTF, ...)

    def feature(self, key: str) -> Feature:
        for f in (*self.series, self.smaps_pud_safe):
            if f.key == key:
                return f
        raise KeyError(key)

    def page_walks_split_pud_thps(self) -> str:
        """Why reading smaps could split this kernel's 1 GiB THPs, or "" when it cannot."""
        pud = self.feature("pud_thp").present
        if pud is Presence.NO or self.smaps_pud_safe.present is Presence.YES:
            return ""
        how = "has PUD THP" if pud is Presence.YES else "may have PUD THP (could not tell)"
        return (
            f"kernel {how} and no smaps PUD walker ({facts.FN_SMAPS_PUD_WALKER} not found): "
            "reading smaps would split every 1 GiB THP of each process scanned"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "series": [f.to_json() for f in self.series],
            "smaps_pud_safe": self.smaps_pud_safe.to_json(),
        }


class _Looker:
    """Looks things up under one root directory; reads kallsyms and BTF once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []  # files that exist and are broken: the source's error

    def path(self, relative: str) -> Path:
        return self.root / relative

    def directory(self, relative: str) -> Evidence:
        p = self.path(relative)
        check = f"sysfs dir {p}"
        thp = self.path(facts.THP_DIR)
        if p.is_dir():
            return Evidence(check, "exists", Presence.YES)
        if thp.is_dir():
            return Evidence(check, "missing", Presence.NO)
        return Evidence(check, f"missing, and so is {thp} (sysfs not mounted?)", Presence.UNKNOWN)

    @cached_property
    def _kallsyms(self) -> dict[str, list[str]] | str:
        try:
            return find_symbols(self.path(facts.PROC_KALLSYMS), _SYMBOLS)
        except KernelFileError as e:
            self.problems.append(str(e))
            return e.reason
        except OSError as e:
            return e.strerror or str(e)

    @cached_property
    def _btf(self) -> Btf | str:
        try:
            return Btf.load(self.path(facts.SYS_BTF_VMLINUX))
        except OSError as e:
            return e.strerror or str(e)  # no BTF (not built in) or not ours to read
        except (BtfError, KernelFileError) as e:
            self.problems.append(str(e))
            return str(e)

    def _protos(self, btf: Btf, name: str) -> list[FuncProto] | str:
        """A function's prototypes, or why they cannot be read (a corrupt blob: a problem)."""
        try:
            return btf.functions(name)
        except BtfError as e:
            self.problems.append(str(e))
            return str(e)

    def symbol(self, name: str) -> Evidence:
        check = f"symbol {name} in {self.path(facts.PROC_KALLSYMS)}"
        syms = self._kallsyms
        if isinstance(syms, str):
            return Evidence(check, f"not readable: {syms}", Presence.UNKNOWN)
        if syms[name]:
            return Evidence(check, "listed as " + ", ".join(syms[name]), Presence.YES)
        return Evidence(check, "not listed", Presence.NO)

    def btf_function(self, name: str) -> Evidence:
        check = f"BTF function {name} in {self.path(facts.SYS_BTF_VMLINUX)}"
        btf = self._btf
        if isinstance(btf, str):
            return Evidence(check, f"not readable: {btf}", Presence.UNKNOWN)
        protos = self._protos(btf, name)
        if isinstance(protos, str):
            return Evidence(check, f"not readable: {protos}", Presence.UNKNOWN)
        if protos:
            return Evidence(check, str(protos[0]), Presence.YES)
        return Evidence(check, "no such function", Presence.NO)

    def vmstat_counter(self, name: str) -> Evidence:
        """A counter the series adds to /proc/vmstat (listed = yes, even while it is 0)."""
        path = self.path(facts.PROC_VMSTAT)
        check = f"counter {name} in {path}"
        try:
            listed = read_vmstat(self.root).get(name) is not None
        except (OSError, KernelFileError) as e:
            return Evidence(check, f"not readable: {e}", Presence.UNKNOWN)
        return Evidence(
            check, "listed" if listed else "not listed", Presence.YES if listed else Presence.NO
        )

    def btf_parameter(self, function: str, param: str, ctype: str) -> Evidence:
        """Does `function`'s prototype have a parameter named `param` or typed `ctype`?"""
        check = f"BTF prototype of {function}: parameter {ctype} {param}"
        btf = self._btf
        if isinstance(btf, str):
            return Evidence(check, f"BTF not readable: {btf}", Presence.UNKNOWN)
        protos = self._protos(btf, function)
        if isinstance(protos, str):
            return Evidence(check, f"BTF not readable: {protos}", Presence.UNKNOWN)
        if not protos:
            return Evidence(check, "function not in BTF (inlined, or THP off)", Presence.UNKNOWN)
        for proto in protos:
            if any(p.name == param or p.type == ctype for p in proto.params):
                return Evidence(check, str(proto), Presence.YES)
        return Evidence(check, f"not a parameter: {protos[0]}", Presence.NO)

    def release(self) -> str:
        p = self.path(facts.PROC_OSRELEASE)
        try:
            raw = read_file(p, MAX_VALUE_BYTES)
        except KernelFileError as e:
            self.problems.append(str(e))
            return "unknown"
        except OSError:
            return os.uname().release if is_live(self.root) else "unknown"
        return label_text(raw.strip()) or "unknown"


def vmpte_evidence(measure: Callable[[], VmpteGrowth] = measure_vmpte_growth) -> Evidence:
    """Lazy PTE told by behaviour: does a PMD THP fault still deposit a 4 KiB PTE table?"""
    check = "VmPTE growth of this process while it faults PMD THPs (MADV_HUGEPAGE)"
    try:
        growth = measure()
    except (OSError, ValueError) as e:
        return Evidence(check, f"could not measure: {e}", Presence.UNKNOWN)
    found = f"{growth.thps} THPs, VmPTE +{growth.vmpte_bytes // 1024} KiB"
    if growth.thps < 8:
        return Evidence(check, f"{found}: too few THPs to tell", Presence.UNKNOWN)
    per_thp = growth.vmpte_bytes / growth.thps
    if per_thp >= 0.75 * facts.PTE_TABLE_BYTES:
        return Evidence(check, f"{found}: a PTE table deposited per THP", Presence.NO)
    if growth.vmpte_bytes <= 2 * facts.PTE_TABLE_BYTES:
        return Evidence(check, f"{found}: no table deposited", Presence.YES)
    return Evidence(check, f"{found}: neither pattern", Presence.UNKNOWN)


def lazy_pte_evidence(
    btf: list[Evidence],
    *,
    live: bool,
    asked: bool,
    measure: Callable[[], VmpteGrowth] = measure_vmpte_growth,
) -> list[Evidence]:
    """BTF's word on lazy PTE, plus the VmPTE self-test on the running kernel (live) when asked
    for or when BTF cannot tell (6.1: split_huge_pmd_locked is not in its BTF)."""
    if live and (asked or conclude(btf) is Presence.UNKNOWN):
        return [*btf, vmpte_evidence(measure)]
    return btf


def _feature(key: str, title: str, evidence: list[Evidence]) -> Feature:
    return Feature(key, title, conclude(evidence), tuple(evidence))


def detect(root: Path = Path("/"), *, selftest: bool = False) -> KernelReport:
    """Look for every series under `root` (`/`, or a fixture tree). selftest: also fault a few
    THPs in this process to see whether the running kernel deposits PTE tables (root `/` only;
    done anyway there when BTF cannot tell).
    """
    look = _Looker(root)
    lazy_evidence = lazy_pte_evidence(
        [
            look.btf_parameter(fn, facts.LAZY_PTE_PARAM_NAME, facts.LAZY_PTE_PARAM_TYPE)
            for fn in facts.LAZY_PTE_FUNCTIONS
        ],
        live=is_live(root),
        asked=selftest,
    )
    series = (
        _feature(
            "reserved_thp",
            "Reserved THP pool",
            [
                look.directory(facts.RESERVED_THP_DIR),
                look.symbol(facts.FN_RESERVED_THP_CHARGE),
                look.btf_function(facts.FN_RESERVED_THP_CHARGE),
            ],
        ),
        _feature(
            "pud_thp",
            "PUD (1 GiB) anonymous THP",
            [
                look.directory(f"{facts.THP_DIR}/{facts.PUD_THP_SIZE_DIR}"),
                look.symbol(facts.FN_DO_HUGE_PUD_ANON),
                look.btf_function(facts.FN_DO_HUGE_PUD_ANON),
            ],
        ),
        _feature(
            "lazy_pte",
            "PTE table allocated lazily at PMD split",
            lazy_evidence,
        ),
        _feature(
            "pmd_swap",
            "PMD swap entries, whole-THP swap-in",
            [
                look.symbol(facts.FN_DO_HUGE_PMD_SWAP),
                look.btf_function(facts.FN_DO_HUGE_PMD_SWAP),
                look.vmstat_counter(facts.VMSTAT_THP_SWPOUT_PMD),
            ],
        ),
    )
    smaps = _feature(
        "smaps_pud_safe",
        "smaps walks PUD THPs without splitting them",
        [look.symbol(facts.FN_SMAPS_PUD_WALKER), look.btf_function(facts.FN_SMAPS_PUD_WALKER)],
    )
    return KernelReport(look.release(), series, smaps, tuple(dict.fromkeys(look.problems)))


@cache
def detected(root: Path = Path("/")) -> KernelReport:
    """detect(root), once per process: the kernel cannot change under a running thpwatch."""
    return detect(root)


def has_lazy_pte(root: Path = Path("/")) -> bool | None:
    """Whether PMD THPs skip the deposited PTE table here; None when that cannot be told."""
    present = detected(root).feature("lazy_pte").present
    return None if present is Presence.UNKNOWN else present is Presence.YES
