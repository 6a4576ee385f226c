"""Start-up of the BPF probes, split: bcc set-up (import, headers), clang compile + load
(verifier), the function lookups (BTF, kallsyms), the function-probe capability check, and the
rest of ProbeSet.open() (tracefs checks, attaching)."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from thpwatch.probes import loader
from thpwatch.probes.bcc import BpfUnavailable, bcc_env
from thpwatch.probes.specs import DEFAULT_GROUPS

# (owner, attribute) of each step ProbeSet.open() takes, timed where it is looked up.
STEPS = {
    "compile_and_load": (loader.ProbeSet, "_compile"),
    "function_lookup": (loader, "kernel_functions"),
    "capability_check": (loader, "detect_capabilities"),
}


def _timed(f: Callable[..., Any], spent: dict[str, float], step: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            spent[step] += time.perf_counter() - t0

    return wrapper


@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Seconds spent in each of STEPS while the block runs."""
    spent = dict.fromkeys(STEPS, 0.0)
    originals = {step: getattr(owner, attr) for step, (owner, attr) in STEPS.items()}
    for step, (owner, attr) in STEPS.items():
        setattr(owner, attr, _timed(originals[step], spent, step))
    try:
        yield spent
    finally:
        for step, (owner, attr) in STEPS.items():
            setattr(owner, attr, originals[step])


# A fresh process loading the default probes through the helper, as the daemon does: how long,
# its own peak RSS (never sees clang), and the helper's peak (RUSAGE_CHILDREN, KiB).
HELPER_LOAD = """
import json, resource, time
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.specs import DEFAULT_GROUPS
t0 = time.perf_counter()
ps = ProbeSet(DEFAULT_GROUPS, helper=True)
ps.open()
took = time.perf_counter() - t0
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print(json.dumps({
    "seconds": took,
    "attached": sum(s.state.value == "ok" for s in ps.states.values()),
    "parent_peak_rss_bytes": int(status["VmHWM"].split()[0]) * 1024,
    "parent_rss_bytes": int(status["VmRSS"].split()[0]) * 1024,
    "helper_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
}))
"""


def helper_loads(reps: int) -> list[dict[str, Any]]:
    runs = []
    for _ in range(reps):
        out = subprocess.run(
            [sys.executable, "-c", HELPER_LOAD], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    return runs


def run(reps: int = 3) -> dict[str, Any]:
    helper = helper_loads(reps)  # first: nothing of bcc cached in this process matters to it
    t0 = time.perf_counter()
    try:
        bcc_env()  # cached per process: cold only when this part runs first
    except BpfUnavailable as e:
        raise SystemExit(f"bench: BPF unavailable: {e.reason}") from None
    setup = time.perf_counter() - t0
    per_rep: list[dict[str, float]] = []
    for _ in range(reps):
        probes = loader.ProbeSet(DEFAULT_GROUPS)
        with stopwatch() as spent:
            t0 = time.perf_counter()
            probes.open()
            total = time.perf_counter() - t0
        probes.close()
        per_rep.append({**spent, "rest": total - sum(spent.values()), "open": total})
    return {
        "reps": reps,
        "helper_loads": helper,
        "bcc_setup_seconds": setup,
        "first_open": per_rep[0],  # capability check and caches cold, as in a fresh daemon
        "median": {k: statistics.median(r[k] for r in per_rep) for k in per_rep[0]},
    }
