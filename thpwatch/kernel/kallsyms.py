"""/proc/kallsyms: which kernel symbols exist, compiler clones included.

Names are visible to any user (only the addresses are zeroed without root). The compiler may
emit a function only as a clone (`name.constprop.0`, `name.isra.0`, `name.cold`), so a symbol
counts as present when its name or any `name.<suffix>` is listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from thpwatch.kernel.text import open_checked


def base_name(symbol: str) -> str:
    """`do_huge_pmd_swap_page.isra.0` -> `do_huge_pmd_swap_page`."""
    return symbol.split(".", 1)[0]


def find_symbols(path: Path, wanted: Iterable[str]) -> dict[str, list[str]]:
    """For each wanted name, the kallsyms names that are it or one of its clones ([] if none).

    Raises OSError when the file cannot be read, KernelFileError when it is not a file. Lines
    that are not `addr type name [module]` are ignored (a truncated last line included).
    """
    found: dict[str, list[str]] = {name: [] for name in wanted}
    with open(open_checked(path), encoding="ascii", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:
                continue
            symbol = fields[2]
            hits = found.get(base_name(symbol))
            if hits is not None and symbol not in hits:
                hits.append(symbol)
    return found
