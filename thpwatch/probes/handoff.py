"""Loaded BPF objects as plain file descriptors, and passing them between processes.

A LoadedObject is what stays of one compiled program text once bcc is gone: the file
descriptors of its maps (to read), of its programs, and of its attachments (perf events of
tracepoints and kprobes, raw-tracepoint links of fentry/fexit). A program stays attached
exactly as long as its attachment's descriptor is open somewhere, so the process holding these
fds owns the probes: when it exits, even by SIGKILL, the kernel closes them and detaches
everything.

Over a Unix socket (SCM_RIGHTS) the fds travel next to a JSON header naming them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from thpwatch.probes.bpfsys import BpfMap
from thpwatch.probes.groups import GROUPS

# The maps the decoders read (probes/groups/); internal maps (start times, in-flight calls)
# are held by their programs and need no fd of their own.
READ_MAPS = tuple(m.name for g in GROUPS for m in g.maps)
MAX_FDS_PER_MESSAGE = 250  # the kernel's SCM_MAX_FD is 253


class HandoffError(Exception):
    """The fds could not be passed: names what was missing or cut short."""


@dataclass
class LoadedObject:
    """Owns its fds: close() detaches the programs (unless another process holds them too)."""

    maps: dict[str, int] = field(default_factory=dict)  # map name -> fd
    links: dict[str, int] = field(default_factory=dict)  # "tracepoint:x:y" / "kprobe:f" -> fd
    progs: dict[str, int] = field(default_factory=dict)  # program name -> fd (shows its id)
    _readers: dict[str, BpfMap] = field(default_factory=dict, repr=False)

    def map(self, name: str) -> BpfMap | None:
        fd = self.maps.get(name)
        if fd is None:
            return None
        if name not in self._readers:
            self._readers[name] = BpfMap(fd)
        return self._readers[name]

    def fds(self) -> list[int]:
        return [*self.maps.values(), *self.links.values(), *self.progs.values()]

    def close_links(self) -> None:
        """Give up this object's hold on the attachments (the programs stay attached for as
        long as another fd holds them)."""
        for fd in self.links.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.links.clear()

    def close(self) -> None:
        for fd in self.fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.maps.clear()
        self.links.clear()
        self.progs.clear()
        self._readers.clear()


def export_bcc(bpf: Any) -> LoadedObject:
    """Duplicates of a bcc.BPF object's map and attachment fds: valid after the object is gone
    (as long as bcc's cleanup, which disables the perf events, never runs on them). Attributes
    an object lacks (bcc stand-ins in tests) export nothing."""
    obj = LoadedObject()
    get_table = getattr(bpf, "get_table", None)
    for name in READ_MAPS if get_table else ():
        try:
            table = get_table(name.encode())
        except KeyError:
            continue
        obj.maps[name] = os.dup(table.map_fd)
    links = {}
    for kind, attr in (
        ("tracepoint", "tracepoint_fds"),
        ("raw_tracepoint", "raw_tracepoint_fds"),
        ("fentry", "kfunc_entry_fds"),
        ("fexit", "kfunc_exit_fds"),
    ):
        for target, fd in getattr(bpf, attr, {}).items():
            links[f"{kind}:{target.decode()}"] = fd
    for event, by_fn in getattr(bpf, "kprobe_fds", {}).items():
        for fn, fd in by_fn.items():
            links[f"kprobe:{event.decode()}:{fn.decode()}"] = fd
    obj.links = {k: os.dup(v) for k, v in links.items()}
    obj.progs = {k.decode(): os.dup(f.fd) for k, f in getattr(bpf, "funcs", {}).items()}
    return obj


def send(sock: socket.socket, header: dict[str, Any], objects: list[LoadedObject]) -> None:
    """The objects' fds in chunks of at most MAX_FDS_PER_MESSAGE, then the JSON header that
    names them in the order sent."""
    fds = [fd for o in objects for fd in o.fds()]
    for i in range(0, len(fds), MAX_FDS_PER_MESSAGE):
        socket.send_fds(sock, [b"fds"], fds[i : i + MAX_FDS_PER_MESSAGE])
    names = [
        {"maps": list(o.maps), "links": list(o.links), "progs": list(o.progs)} for o in objects
    ]
    sock.send(json.dumps({**header, "objects": names, "nfds": len(fds)}).encode())


def receive(
    sock: socket.socket, max_header: int = 1 << 20
) -> tuple[dict[str, Any], list[LoadedObject]]:
    """Read what send() sent: (header, objects owning the received fds). Raises HandoffError
    (closing whatever fds arrived) when the peer hangs up early or fds were cut short, e.g. by
    this process's RLIMIT_NOFILE; socket.timeout when the peer is silent too long."""
    fds: list[int] = []
    try:
        while True:
            msg, got, flags, _ = socket.recv_fds(sock, max_header, MAX_FDS_PER_MESSAGE)
            fds += got
            if flags & socket.MSG_CTRUNC:
                raise HandoffError(
                    f"file descriptors cut short after {len(fds)} (RLIMIT_NOFILE "
                    f"{_nofile()}): raise LimitNOFILE"
                )
            if not msg:
                raise HandoffError(f"the load helper hung up after sending {len(fds)} fds")
            if msg != b"fds":
                break
        header = json.loads(msg)
        if header.get("nfds") != len(fds):
            raise HandoffError(f"expected {header.get('nfds')} file descriptors, got {len(fds)}")
    except BaseException:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise
    objects, it = [], iter(fds)
    for names in header.pop("objects"):
        objects.append(
            LoadedObject(
                maps={n: next(it) for n in names["maps"]},
                links={n: next(it) for n in names["links"]},
                progs={n: next(it) for n in names["progs"]},
            )
        )
    return header, objects


def _nofile() -> str:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return str(soft)
