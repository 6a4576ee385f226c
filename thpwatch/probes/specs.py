"""The BPF probes as data: what each watches, which group (BPF file) it belongs to, what it needs.

A group is one concern and one file in bpf/ (`<group>.bpf.c`; faults_any shares faults.bpf.c).
Groups are attached together or alone (ProbeSet(groups=...)), so the cost of each can be
measured by itself. Names of tracepoints and functions come from the kernel facts module.
"""

from __future__ import annotations

from dataclasses import dataclass

from thpwatch.kernel import facts


def tracepoint(tp: tuple[str, str]) -> str:
    """("kmem", "mm_page_alloc") -> "kmem:mm_page_alloc"."""
    return f"{tp[0]}:{tp[1]}"


@dataclass(frozen=True)
class ProbeSpec:
    name: str  # the probe's state is reported under this name
    group: str
    kind: str  # "tracepoint" | "function"
    targets: tuple[str, ...]  # tracepoints ("sys:event") or functions; all must exist
    returns: bool = False  # function probes: also an exit probe (latency, return value)
    helpers: tuple[str, ...] = ()  # functions whose entry it also watches, when they exist
    # function probes: the same function under its names on other kernels, tried in order when
    # the (single) target is missing
    alternatives: tuple[str, ...] = ()

    @property
    def functions(self) -> tuple[str, ...]:
        """Every function name this probe may need looked up."""
        return (*self.targets, *self.alternatives, *self.helpers)

    @property
    def file(self) -> str:
        return GROUP_FILES.get(self.group, self.group) + ".bpf.c"


TRACEPOINT_PROBES = (
    ProbeSpec("mm_page_alloc", "alloc", "tracepoint", (tracepoint(facts.TP_MM_PAGE_ALLOC),)),
    ProbeSpec(
        "madvise",
        "madvise",
        "tracepoint",
        (tracepoint(facts.TP_SYS_ENTER_MADVISE), tracepoint(facts.TP_SYS_EXIT_MADVISE)),
    ),
    ProbeSpec(
        "direct_reclaim",
        "stalls",
        "tracepoint",
        (tracepoint(facts.TP_DIRECT_RECLAIM_BEGIN), tracepoint(facts.TP_DIRECT_RECLAIM_END)),
    ),
    ProbeSpec(
        "compaction",
        "stalls",
        "tracepoint",
        (tracepoint(facts.TP_COMPACTION_BEGIN), tracepoint(facts.TP_COMPACTION_END)),
    ),
    ProbeSpec(
        "collapse_huge_page",
        "khugepaged",
        "tracepoint",
        (tracepoint(facts.TP_COLLAPSE_HUGE_PAGE),),
    ),
    ProbeSpec("migrate_pages", "khugepaged", "tracepoint", (tracepoint(facts.TP_MIGRATE_PAGES),)),
)


def _function(
    name: str, group: str, helpers: tuple[str, ...] = (), alternatives: tuple[str, ...] = ()
) -> ProbeSpec:
    return ProbeSpec(name, group, "function", (name,), True, helpers, alternatives)


FUNCTION_PROBES = (
    _function(facts.FN_DO_HUGE_PMD_ANON, "faults"),
    _function(facts.FN_DO_HUGE_PUD_ANON, "faults"),
    _function(facts.FN_HANDLE_MM_FAULT, "faults_any"),
    _function(facts.FN_DO_HUGE_PMD_SWAP, "swapin", helpers=(facts.FN_SPLIT_HUGE_PMD,)),
    _function(facts.FN_DO_SWAP_PAGE, "swapin"),
    # split_huge_pmd_locked: PMD splits by reclaim/migration that bypass __split_huge_pmd
    _function(facts.FN_SPLIT_HUGE_PMD, "splits", helpers=(facts.FN_SPLIT_HUGE_PMD_LOCKED,)),
    _function(facts.FN_SPLIT_HUGE_PUD, "splits"),
    _function(facts.FN_SPLIT_HUGE_PAGE, "splits", alternatives=(facts.FN_SPLIT_HUGE_PAGE_OLD,)),
    _function(facts.FN_RESERVED_THP_CHARGE, "reserved"),
    ProbeSpec(
        facts.FN_RESERVED_THP_UNCHARGE, "reserved", "function", (facts.FN_RESERVED_THP_UNCHARGE,)
    ),
)

PROBES = TRACEPOINT_PROBES + FUNCTION_PROBES

# Every group, in the order their files are concatenated (swapin before splits: splits'
# __split_huge_pmd entry also feeds swap-in's split-fallback detection).
GROUPS = (
    "alloc",
    "madvise",
    "stalls",
    "khugepaged",
    "faults",
    "faults_any",
    "swapin",
    "splits",
    "reserved",
)
GROUP_FILES = {"faults_any": "faults"}
# Only on request (`--enable-probe GROUP`), for their measured cost (bench/README.md):
# handle_mm_fault fires on every page fault; kmem:mm_page_alloc on every page allocation and
# added +6 % to a 4 KiB fault storm although its program exits at once for order < 2 (the
# tracepoint builds its record before the program runs).
OPT_IN_GROUPS = frozenset({"faults_any", "alloc"})
DEFAULT_GROUPS = tuple(g for g in GROUPS if g not in OPT_IN_GROUPS)


def probes_of(groups: tuple[str, ...]) -> tuple[ProbeSpec, ...]:
    return tuple(p for p in PROBES if p.group in groups)


def check_groups(groups: tuple[str, ...]) -> None:
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown probe group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
