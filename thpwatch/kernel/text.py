"""Reading kernel files (sysfs, procfs) defensively, and the shapes they print, with errors
naming the file and line.

Every read is bounded: at most `limit` bytes, only regular files and character devices (a FIFO
or socket where a kernel file should be is an error, never a read that blocks forever), opened
non-blocking, with a deadline checked between chunks. FileNotFoundError and PermissionError pass
through untouched when the path does not exist at all or may not be read: whether that means
"the kernel lacks it" is the caller's call. A path that exists but cannot be used (a dangling
symlink, a symlink loop, a directory, content that cannot be parsed) raises
KernelFileError(path, reason). Reasons show values cut to SHOWN_CHARS, never whole files.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel.errors import KernelFileError

MAX_FILE_BYTES = 16 << 20  # /proc/kallsyms of a big kernel is ~10 MiB; sysfs files are a page
MAX_VALUE_BYTES = 4096  # a sysfs attribute is at most one page (sysfs_emit)
READ_TIMEOUT = 2.0  # seconds for one file
_CHUNK = 1 << 16
U64_MAX = (1 << 64) - 1  # the widest counter the kernel prints (%lu, %llu)
S64_MIN = -(1 << 63)
_MAX_DIGITS = 20  # len(str(U64_MAX)): anything longer is refused before int() sees it
SHOWN_CHARS = 120
MAX_LABEL_CHARS = 128  # comm is 15 bytes, a cgroup path rarely 100: room, but bounded


def shown(value: str | bytes) -> str:
    """A value quoted for an error reason, cut to SHOWN_CHARS (a reason never embeds a file)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "backslashreplace")
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} chars)"


def open_checked(path: Path) -> int:
    """A non-blocking read descriptor of a regular file or character device under `path`;
    see the module docstring for what raises. The caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        if os.path.islink(path):
            raise KernelFileError(path, "dangling symlink") from None
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise KernelFileError(path, "symlink loop") from None
        raise
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise KernelFileError(path, "a directory, not a file")
    raise KernelFileError(path, "not a regular file (a FIFO or socket?): not read")


def read_file(path: Path, limit: int = MAX_FILE_BYTES, timeout: float = READ_TIMEOUT) -> bytes:
    """The whole file, bounded in size and time; see the module docstring for what raises."""
    fd = open_checked(path)
    try:
        deadline = time.monotonic() + timeout
        chunks, size = [], 0
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            except BlockingIOError:
                raise KernelFileError(path, "read would block: not read") from None
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise KernelFileError(path, f"larger than {limit} bytes: not read")
            if time.monotonic() > deadline:
                raise KernelFileError(path, f"reading took over {timeout:g} s: not read")
    finally:
        os.close(fd)


def label_text(raw: str | bytes) -> str:
    """A name from the kernel or a user (comm, cgroup, kernel release) as a label value: bytes
    that are not UTF-8 are shown escaped (\\xff), never an error; long names are cut to
    MAX_LABEL_CHARS with a hash of the whole, so two long names stay two series."""
    if isinstance(raw, str):
        # str from os.fsdecode carries undecodable bytes as surrogates: back to bytes first.
        try:
            raw = raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate not from fsdecode
            raw = raw.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    if len(text) <= MAX_LABEL_CHARS:
        return text
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return f"{text[: MAX_LABEL_CHARS - 16]}...#{digest}"


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The whole file as text (kernel files are ASCII; stray bytes are kept visible, escaped)."""
    return read_file(path, limit).decode("ascii", errors="backslashreplace")


def read_required(path: Path) -> str:
    """read_text of a one-value sysfs file that must exist because its directory does."""
    try:
        return read_text(path, MAX_VALUE_BYTES)
    except FileNotFoundError:
        raise KernelFileError(path, "missing (its directory exists)") from None


def parse_int(where: Path | str, word: str, *, signed: bool = False) -> int:
    """One decimal integer as the kernel prints it: digits only (a '-' if signed), bounded to
    64 bits. Anything else (floats, 10^400, 2^70, a negative counter) is a KernelFileError."""
    digits = word[1:] if signed and word.startswith("-") else word
    if not digits or not digits.isascii() or not digits.isdigit():
        got = shown(word) if word else "nothing"
        raise KernelFileError(where, f"expected a decimal number, got {got}")
    if len(digits) > _MAX_DIGITS:
        raise KernelFileError(where, f"a {len(digits)}-digit number: beyond 64 bits")
    value = int(word)
    if not (S64_MIN if signed else 0) <= value <= U64_MAX:
        raise KernelFileError(where, f"{shown(word)} does not fit in 64 bits")
    return value


def parse_decimal(path: Path | str, text: str) -> int:
    """A sysfs number: one line holding one non-negative decimal integer."""
    value = text.strip()
    if not text.endswith("\n") and text:
        # sysfs_emit always ends with a newline: without it the read was cut short.
        raise KernelFileError(path, f"truncated (no newline after {shown(value)})")
    if not value:
        raise KernelFileError(path, "line 1: expected a decimal number, got an empty file")
    if "\n" in value:
        raise KernelFileError(path, "line 2: more than one line in a one-value file")
    try:
        return parse_int(path, value)
    except KernelFileError as e:
        raise KernelFileError(path, f"line 1: {e.reason}") from None


def read_decimal(path: Path) -> int:
    return parse_decimal(path, read_required(path))


@dataclass(frozen=True)
class Mode:
    """A sysfs mode file such as `always [madvise] never`: every choice, and the current one."""

    current: str
    choices: tuple[str, ...]


_MODE_WORD = re.compile(r"\[?[a-z][a-z0-9_+]*\]?")  # always, defer+madvise, within_size


def parse_mode(path: Path | str, text: str) -> Mode:
    words = text.split()
    current = [w[1:-1] for w in words if w.startswith("[") and w.endswith("]")]
    good = all(_MODE_WORD.fullmatch(w) for w in words) and text.count("\n") == 1
    if len(current) != 1 or not text.endswith("\n") or not good:
        got = shown(text.strip()) if text.strip() else "an empty file"
        raise KernelFileError(path, f"line 1: expected choices with one [current], got {got}")
    return Mode(current[0], tuple(w.strip("[]") for w in words))


def read_mode(path: Path) -> Mode:
    return parse_mode(path, read_required(path))


def is_metric_word(name: str) -> bool:
    """A file or field name usable inside a metric name as-is (lowercase, digits, underscore)."""
    return (
        bool(name) and name.isascii() and all(c.islower() or c.isdigit() or c == "_" for c in name)
    )


@dataclass(frozen=True)
class KeyValues:
    """A `name value` proc file: the values in file order, and the lines that could not be read."""

    values: tuple[tuple[str, int], ...]
    problems: tuple[str, ...]

    def get(self, name: str) -> int | None:
        return dict(self.values).get(name)


def parse_lines(
    path: Path | str,
    text: str,
    line: re.Pattern[str],
    value: Callable[[str, re.Match[str]], int],
) -> KeyValues:
    """Every line matching `line` becomes (name, value(where, match)); any other line, a value
    that is not a 64-bit number, or a name seen before is a problem naming its line, and the
    rest are kept. A last line without newline was cut short."""
    if not text.strip():
        raise KernelFileError(path, "empty file")
    lines = text.split("\n")
    values: list[tuple[str, int]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    if lines.pop() != "":
        problems.append(f"{path}: line {len(lines) + 1}: truncated (no newline), ignored")
    for number, text_line in enumerate(lines, 1):
        where = f"{path}: line {number}"
        m = line.fullmatch(text_line.strip())
        if m is None:
            problems.append(f"{where}: cannot parse {shown(text_line)}")
            continue
        if m["name"] in seen:
            problems.append(f"{where}: {m['name']} again (first on line {seen[m['name']]})")
            continue
        seen[m["name"]] = number
        try:
            values.append((m["name"], value(where, m)))
        except KernelFileError as e:
            problems.append(str(e))
    return KeyValues(tuple(values), tuple(problems))
