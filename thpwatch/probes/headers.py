"""Kernel headers for bcc: find a tree bcc can compile against, and say which one was used.

Order: a tree the user chose with BCC_KERNEL_SOURCE; the running kernel's
/lib/modules/<release>/build or source (bcc finds those itself); /sys/kernel/kheaders.tar.xz
(CONFIG_IKHEADERS; extracted once into a cache dir); installed distro headers (Debian splits
them into linux-headers-<ver>-common and -<flavour>; merged into one symlink tree under a cache
dir). A mismatched tree is fine because thpwatch's BPF reads no struct fields. /lib/modules is
never written to.
"""

from __future__ import annotations

import os
import platform
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

CACHE_DIRS = (Path("/var/cache/thpwatch"), Path("/run/thpwatch"))
KHEADERS = Path("/sys/kernel/kheaders.tar.xz")
DISTRO_HEADERS = Path("/usr/src")
_DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Headers:
    """A header tree: path is what BCC_KERNEL_SOURCE gets (None: bcc finds them itself)."""

    path: Path | None
    origin: str  # "environment" | "modules" | "kheaders" | "distro"
    detail: str  # human-readable: which tree, for doctor

    def apply(self) -> None:
        """Point bcc at this tree (process environment, read by bcc at each compile).
        A /lib/modules tree is left to bcc: it combines .../build and .../source by itself
        (Debian splits them: build = -amd64 with the generated headers, source = -common with
        the rest), and BCC_KERNEL_SOURCE would restrict it to build alone."""
        if self.path is not None and self.origin != "modules":
            os.environ["BCC_KERNEL_SOURCE"] = str(self.path)


class HeadersMissing(Exception):
    """No usable kernel header tree; the message lists every place looked at."""


def find_headers(
    release: str | None = None,
    modules: Path = Path("/lib/modules"),
    kheaders: Path = KHEADERS,
    distro: Path = DISTRO_HEADERS,
    cache_dirs: tuple[Path, ...] = CACHE_DIRS,
    environ_wins: bool = True,
) -> Headers:
    release = release or platform.release()
    looked: list[str] = []
    chosen = os.environ.get("BCC_KERNEL_SOURCE")
    if chosen and environ_wins:
        if (Path(chosen) / "include").is_dir():
            return Headers(Path(chosen), "environment", f"BCC_KERNEL_SOURCE={chosen}")
        looked.append(f"BCC_KERNEL_SOURCE={chosen}: no include/ directory there, ignored")
    for sub in ("build", "source"):
        tree = modules / release / sub
        if (tree / "include").is_dir():
            return Headers(tree, "modules", f"{tree} (matches the running kernel)")
        looked.append(f"{tree}: missing")
    if kheaders.is_file():
        cache = _writable_cache(cache_dirs)
        tree = _extract_kheaders(kheaders, cache / f"kheaders-{release}")
        return Headers(tree, "kheaders", f"{kheaders} extracted to {tree}")
    looked.append(f"{kheaders}: missing (CONFIG_IKHEADERS off, or the kheaders module not loaded)")
    found = newest_distro_headers(distro)
    if found is not None:
        common, flavour = found
        cache = _writable_cache(cache_dirs)
        tree = merge_trees(common, flavour, cache / f"headers-{flavour.name}")
        return Headers(
            tree, "distro", f"{common.name} + {flavour.name} merged in {tree} (release {release})"
        )
    looked.append(f"{distro}/linux-headers-*-common + -{_flavour_suffix()}: none installed")
    raise HeadersMissing("no kernel headers for bcc: " + "; ".join(looked))


def _flavour_suffix() -> str:
    return _DEBIAN_ARCH.get(platform.machine(), platform.machine())


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def newest_distro_headers(distro: Path) -> tuple[Path, Path] | None:
    """(common, flavour) dirs of the newest installed Debian-style header package pair."""
    pairs = []
    for common in distro.glob("linux-headers-*-common"):
        base = common.name.removesuffix("-common")
        flavour = distro / f"{base}-{_flavour_suffix()}"
        if flavour.is_dir():
            pairs.append((common, flavour))
    return max(pairs, key=lambda p: _version_key(p[0].name), default=None)


def _writable_cache(cache_dirs: tuple[Path, ...]) -> Path:
    for d in cache_dirs:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(d, os.W_OK):
            return d
    raise HeadersMissing(
        "no writable cache dir for the kernel header tree: tried "
        + ", ".join(str(d) for d in cache_dirs)
    )


def merge_trees(common: Path, flavour: Path, dest: Path) -> Path:
    """Symlink tree of common overlaid with flavour (flavour wins); built once, then reused."""
    stamp = dest / ".thpwatch-merged"
    if stamp.exists():
        return dest
    for src in (common, flavour):
        for dirpath, dirnames, filenames in os.walk(src):
            rel = Path(dirpath).relative_to(src)
            (dest / rel).mkdir(parents=True, exist_ok=True)
            for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                link = dest / rel / name
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(Path(dirpath) / name)
    stamp.write_text(f"{common}\n{flavour}\n")
    return dest


def _extract_kheaders(archive: Path, dest: Path) -> Path:
    stamp = dest / ".thpwatch-extracted"
    if stamp.exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(dest, filter="data")
        else:  # the kernel's own archive: trusted
            tar.extractall(dest)
    stamp.write_text(f"{archive}\n")
    return dest
