"""Start-up of the BPF probes, split: bcc set-up (import, headers), clang compile + load
(verifier), the function lookups (BTF, kallsyms), the function-probe capability check, and the
rest of ProbeSet.open() (tracefs checks, attaching)."""

from __future__ import annotations

import contextlib
import statistics
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


def run(reps: int = 3) -> dict[str, Any]:
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
        "bcc_setup_seconds": setup,
        "first_open": per_rep[0],  # capability check and caches cold, as in a fresh daemon
        "median": {k: statistics.median(r[k] for r in per_rep) for k in per_rep[0]},
    }
