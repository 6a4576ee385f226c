"""What the running kernel has of the functions thpwatch probes: BTF prototype and kallsyms names.

A function can be probed by fentry when BTF has it, by kprobe when /proc/kallsyms lists it (or a
compiler clone of it, such as `name.isra.0`). The prototype tells the fexit program where the
return value is (after the parameters) and whether there is one worth reading (an int can carry
an -errno; void cannot).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.btf import Btf, BtfError
from thpwatch.kernel.kallsyms import find_symbols


@dataclass(frozen=True)
class KernelFunction:
    name: str
    in_btf: bool
    symbols: tuple[str, ...]  # kallsyms names: the function itself and/or its clones
    nargs: int  # parameters (from BTF; 0 when unknown)
    returns: str  # C return type from BTF, "" when unknown

    @property
    def present(self) -> bool:
        return self.in_btf or bool(self.symbols)

    @property
    def returns_value(self) -> bool:
        """BTF says it returns something (void functions, and unknown prototypes, do not)."""
        return self.returns not in ("", "void")

    @property
    def kprobe_symbol(self) -> str | None:
        """The exact name when listed, else its first clone. Never a `.cold` part: that is the
        function's unlikely branches split off, not an entry (6.1: split_huge_page_to_list)."""
        if self.name in self.symbols:
            return self.name
        return next((s for s in self.symbols if not s.endswith(".cold")), None)


def kernel_functions(names: Iterable[str], root: Path = Path("/")) -> dict[str, KernelFunction]:
    """Look every name up in BTF and kallsyms; unreadable files count as "not listed there"."""
    names = tuple(dict.fromkeys(names))
    try:
        btf: Btf | None = Btf.load(root / facts.SYS_BTF_VMLINUX)
    except (OSError, BtfError):
        btf = None
    try:
        syms = find_symbols(root / facts.PROC_KALLSYMS, names)
    except OSError:
        syms = {n: [] for n in names}
    out = {}
    for name in names:
        protos = btf.functions(name) if btf else []
        proto = protos[0] if protos else None
        out[name] = KernelFunction(
            name,
            proto is not None,
            tuple(syms.get(name, [])),
            len(proto.params) if proto else 0,
            proto.returns if proto else "",
        )
    return out
