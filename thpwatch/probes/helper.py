"""The BPF load helper: bcc compiles, loads and attaches in a short-lived child process, which
hands the map and attachment file descriptors to its parent over a Unix socket and exits.

Why: clang/LLVM (bcc's compiler) maps about 90 MiB of libraries and leaves heap behind; in the
daemon that stayed resident for its whole life. The child takes it all with it when it exits.
The daemon never imports bcc: it reads maps with the bpf() system call (probes/bpfsys.py).

Failure modes (docs/bpf-loading.md):
- the child crashes or is killed mid-load: the socket hangs up, every probe becomes `error`
  with the exit status; whatever it attached dies with its fds;
- the child hangs: after `timeout` seconds it is killed, same error state;
- the daemon dies (even SIGKILL) mid-load: the child gets SIGKILL too (PR_SET_PDEATHSIG),
  after the load: the kernel closes the daemon's fds, which detaches every program;
- the daemon's RLIMIT_NOFILE is too low for the fds: the kernel cuts them short (MSG_CTRUNC),
  every probe becomes `error` naming the limit, and what did arrive is closed.

The child leaves with os._exit: bcc's atexit cleanup would PERF_EVENT_IOC_DISABLE the perf
events the daemon now shares (same open file description), silently stopping the probes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from thpwatch.probes.handoff import HandoffError, receive, send
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.snapshot import State

if TYPE_CHECKING:
    from thpwatch.probes.loader import ProbeSet

# seconds: compiling takes tens of seconds on a busy host and minutes under emulation (the
# kernel lane's TCG guests: 2-3 min unloaded); under systemd TimeoutStartSec bounds it first.
TIMEOUT = 600.0
PR_SET_PDEATHSIG = 1


class HelperFailed(Exception):
    """The helper gave no usable answer: says what happened to it."""


def command() -> list[str]:
    return [sys.executable, "-m", "thpwatch.probes.helper"]


def load_in_helper(
    probes: ProbeSet, timeout: float = TIMEOUT, argv: Sequence[str] | None = None
) -> None:
    """Fill `probes` (states, functions, objects) from a helper process; on any failure of the
    helper every probe is `error` with the reason, and nothing stays attached."""
    try:
        header, objects = run_helper(
            {"groups": list(probes.groups), "pid": probes.pid, "bpf_dir": str(probes.bpf_dir)},
            timeout,
            argv,
        )
    except HelperFailed as e:
        for st in probes.states.values():
            st.state, st.reason = State.ERROR, f"BPF load helper: {e}"
        return
    apply_header(probes, header)
    probes.objects = objects


def run_helper(
    request: dict[str, Any], timeout: float, argv: Sequence[str] | None = None
) -> tuple[dict[str, Any], list[Any]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        args = [*(argv or command()), str(theirs.fileno()), str(os.getpid())]
        try:
            child = subprocess.Popen(args, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as e:
            raise HelperFailed(f"cannot start {args[0]}: {e}") from None
        theirs.close()
        try:
            ours.settimeout(timeout)
            ours.send(json.dumps(request).encode())
            header, objects = receive(ours)
        except TimeoutError:
            child.kill()
            raise HelperFailed(f"no answer within {timeout:g} s; killed it") from None
        except HandoffError as e:
            child.kill()
            raise HelperFailed(_exit_text(child, str(e))) from None
        except OSError as e:
            child.kill()
            raise HelperFailed(_exit_text(child, f"socket error: {e}")) from None
        finally:
            _reap(child)
    finally:
        ours.close()
        theirs.close()
    if "error" in header:
        for o in objects:
            o.close()
        raise HelperFailed(str(header["error"]))
    return header, objects


def _exit_text(child: subprocess.Popen[bytes], what: str) -> str:
    try:
        code = child.wait(5)
    except subprocess.TimeoutExpired:
        return what
    if code < 0:
        return f"{what} (it was killed by {signal.Signals(-code).name})"
    return f"{what} (it exited with status {code})"


def _reap(child: subprocess.Popen[bytes]) -> None:
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def header_of(probes: ProbeSet) -> dict[str, Any]:
    return {
        "states": {
            name: {
                "state": st.state.value,
                "reason": st.reason,
                "method": st.method,
                "detail": st.detail,
                "targets": list(st.targets),
            }
            for name, st in probes.states.items()
        },
        "functions": {name: asdict(f) for name, f in probes.functions.items()},
        "headers": probes.headers,
    }


def apply_header(probes: ProbeSet, header: dict[str, Any]) -> None:
    for name, got in header["states"].items():
        st = probes.states[name]
        st.state, st.reason, st.method = State(got["state"]), got["reason"], got["method"]
        st.detail, st.targets = dict(got["detail"]), tuple(got["targets"])
    probes.functions = {
        name: KernelFunction(**{**f, "symbols": tuple(f["symbols"])})
        for name, f in header["functions"].items()
    }
    probes.headers = header["headers"]


# -- the child ------------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _raise_fd_limit() -> None:
    """bcc opens many files while compiling: the helper takes what the hard limit allows."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str]) -> None:
    fd, parent = int(argv[0]), int(argv[1])
    _die_with_parent(parent)
    _raise_fd_limit()
    sock = socket.socket(fileno=fd)
    try:
        from pathlib import Path

        from thpwatch.probes.loader import ProbeSet

        request = json.loads(sock.recv(1 << 16))
        probes = ProbeSet(request["groups"], request["pid"], Path(request["bpf_dir"]))
        probes.open()
        send(sock, header_of(probes), probes.objects)
    except BaseException as e:  # anything: tell the parent, never leave by bcc's exit path
        try:
            error = {"error": f"{type(e).__name__}: {e}", "objects": [], "nfds": 0}
            sock.send(json.dumps(error).encode())
        except OSError:
            pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
