"""The libc memory calls Python's mmap module does not offer, through ctypes: a private
anonymous mapping (mmap.mmap(-1, n) is MAP_SHARED, i.e. shmem, not anonymous memory) whose
address the caller can align, munmap of any part of it, and madvise with its errno."""

from __future__ import annotations

import ctypes
import mmap
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_MAP_FAILED = ctypes.c_void_p(-1).value


def mmap_anonymous(length: int) -> int:
    """The address of a new private anonymous read-write mapping of `length` bytes."""
    base = _libc.mmap(
        None,
        length,
        mmap.PROT_READ | mmap.PROT_WRITE,
        mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
        -1,
        0,
    )
    if base in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"mmap of {length} bytes failed: {os.strerror(err)}")
    return base


def munmap(addr: int, length: int) -> None:
    _libc.munmap(addr, length)


def madvise(addr: int, length: int, advice: int) -> int:
    """0, or the errno the call failed with."""
    return 0 if _libc.madvise(addr, length, advice) == 0 else ctypes.get_errno()
