"""/proc/cmdline: the Reserved THP boot request (thp_reserved_size=, thp_reserved_nr=).

Values are judged exactly as the kernel judges them (seed 001, mm/reserved_thp.c):
thp_reserved_size goes through memparse() and must equal the PMD THP size; thp_reserved_nr goes
through sscanf("%lu%n") and must have nothing after its digits. An invalid value leaves the pool
at 0, so "requested but not reserved" is visible before the kernel log is.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import read_text

_ULONG = 1 << 64  # the kernel's parsers wrap silently on overflow


@dataclass(frozen=True)
class ReservedThpRequest:
    size_text: str | None  # thp_reserved_size value as written, None when not given
    size_valid: bool  # not given (the PMD size is the default) or memparse()s to the PMD size
    nr_text: str | None  # thp_reserved_nr value as written, None when not given
    nr_valid: bool
    requested_hpages: int  # what the kernel parsed from thp_reserved_nr (0 when invalid/absent)

    @property
    def given(self) -> bool:
        return self.size_text is not None or self.nr_text is not None

    @property
    def reserves(self) -> bool:
        """Whether the kernel tries to reserve a pool at boot with these parameters."""
        return self.requested_hpages > 0 and self.size_valid


def boot_params(text: str) -> list[tuple[str, str | None]]:
    """(name, value) of each kernel parameter, split as the kernel's next_arg() does: on
    whitespace outside double quotes, quotes dropped around the value, '-' equal to '_' in names,
    and nothing after a bare `--` (those arguments belong to init)."""
    params: list[tuple[str, str | None]] = []
    token, in_quote = "", False
    for ch in text.strip() + " ":
        if ch.isspace() and not in_quote:
            if token:
                name, eq, value = token.strip('"').partition("=")
                if name == facts.CMDLINE_END_OF_PARAMS and not eq:
                    break
                params.append((name.replace("-", "_"), value.strip('"') if eq else None))
            token = ""
            continue
        if ch == '"':
            in_quote = not in_quote
        token += ch
    return params


def memparse(text: str) -> int:
    """The kernel's memparse(): an integer in C notation (0x.. hex, 0.. octal) with an optional
    K/M/G/T/P/E suffix; anything after the suffix is ignored, no digits at all gives 0."""
    base, digits = 10, text
    if text[:2].lower() == "0x" and text[2:3] in tuple(string.hexdigits):
        base, digits = 16, text[2:]
    elif text.startswith("0"):
        base = 8
    valid = string.hexdigits if base == 16 else string.digits[:base]
    n = 0
    while n < len(digits) and digits[n] in valid:
        n += 1
    value = int(digits[:n], base) if n else 0
    suffix = digits[n : n + 1].lower()
    return (value << facts.MEMPARSE_SHIFTS.get(suffix, 0)) % _ULONG


def parse_nr(text: str) -> int | None:
    """sscanf(text, "%lu%n") requiring the whole string: leading blanks, then decimal digits
    only (no sign, no suffix). None when the kernel rejects it."""
    digits = text.lstrip()
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits) % _ULONG


def parse_cmdline(text: str, hpage_bytes: int) -> ReservedThpRequest:
    """The last occurrence of each parameter wins, as with repeated early parameters."""
    size_text = nr_text = None
    size_valid, nr, nr_valid = True, 0, True
    for name, value in boot_params(text):
        if name == facts.CMDLINE_RESERVED_SIZE:
            size_text = value or ""
            size_valid = value is not None and memparse(value) == hpage_bytes
        elif name == facts.CMDLINE_RESERVED_NR:
            nr_text = value or ""
            parsed = parse_nr(value) if value is not None else None
            nr_valid, nr = parsed is not None, parsed or 0
    return ReservedThpRequest(size_text, size_valid, nr_text, nr_valid, nr)


CMDLINE_MAX_BYTES = 64 << 10  # COMMAND_LINE_SIZE is 2048 on x86, at most a few KiB elsewhere


def read_cmdline(root: Path, hpage_bytes: int) -> ReservedThpRequest:
    path = root / facts.PROC_CMDLINE
    text = read_text(path, CMDLINE_MAX_BYTES)
    if not text.endswith("\n"):  # the kernel prints "%s\n": without it the read was cut
        raise KernelFileError(path, "empty file" if not text else "truncated (no newline)")
    return parse_cmdline(text, hpage_bytes)
