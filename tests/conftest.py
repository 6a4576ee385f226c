"""Shared test helpers.

Tests that need root, BPF, a Prometheus server, tmux or a VM call `require(...)`: outside CI a
missing prerequisite skips the test with the reason; with THPWATCH_STRICT=1 (set by .ci/run) it
fails it, so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
STRICT = os.environ.get("THPWATCH_STRICT") == "1"


def require(condition: object, reason: str) -> None:
    """Skip (or, under THPWATCH_STRICT=1, fail) the calling test unless condition holds."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"prerequisite missing under THPWATCH_STRICT=1: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.metrics.txt from what is served now (review the diff)",
    )


@pytest.fixture
def root_user() -> None:
    require(os.geteuid() == 0, "needs root")


@pytest.fixture
def tmux_bin() -> str:
    path = shutil.which("tmux")
    require(path, "needs tmux")
    assert path is not None
    return path


# -- BPF tests ------------------------------------------------------------------------------
# Tests marked `funcprobes` attach fentry/kprobe function probes and cross-check them; they need
# a kernel that allows function probes (the VM lane boots one). On a host that refuses both
# fentry AND kprobe they are deselected, with the refusal printed in the summary; that refusal
# is itself asserted by tests/bpf/test_capabilities.py, so this cannot hide a host where function
# probes should have worked. THPWATCH_FUNCPROBES=1 keeps them selected whatever the host says
# (the VM lane sets it, so a guest that refuses them fails under STRICT).

FORCE_FUNCPROBES = os.environ.get("THPWATCH_FUNCPROBES") == "1"


def host_refuses_function_probes() -> str:
    """Why neither fentry nor kprobe attaches here, or "" when one of them does (or when
    that cannot be found out, e.g. not root: then the tests run and require() speaks)."""
    if os.geteuid() != 0:
        return ""
    from thpwatch.probes.capabilities import detect_capabilities

    caps = detect_capabilities()
    if caps.function_method is not None or not caps.get("tracepoint").works:
        return ""
    return caps.function_refusal()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselect_funcprobes_if_refused(config, items)
    # Tests marked `vm` boot QEMU guests for minutes each: they run last, so every quick test has
    # reported first. (Nothing runs beside the others: with a kernel build started at collection
    # to overlap them, the system-wide order-9 BPF cross-check failed; it passes on a quiet host.)
    items.sort(key=lambda item: item.get_closest_marker("vm") is not None)


def deselect_funcprobes_if_refused(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [i for i in items if i.get_closest_marker("funcprobes")]
    if not marked or FORCE_FUNCPROBES:
        return
    why = host_refuses_function_probes()
    if not why:
        return
    config.hook.pytest_deselected(items=marked)
    items[:] = [i for i in items if not i.get_closest_marker("funcprobes")]
    config._thpwatch_funcprobes_deselected = (len(marked), why)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    info = getattr(config, "_thpwatch_funcprobes_deselected", None)
    if info:
        n, why = info
        terminalreporter.write_line(
            f"deselected {n} funcprobes tests: this host refuses function probes ({why}); "
            "THPWATCH_FUNCPROBES=1 forces them"
        )


@pytest.fixture(scope="session")
def bpf_ready() -> None:
    """Root, tracefs, kernel headers and bcc: everything a ProbeSet needs."""
    require(os.geteuid() == 0, "BPF tests need root")
    from thpwatch.probes.bcc import BpfUnavailable, bcc_env

    try:
        bcc_env()
    except BpfUnavailable as e:
        require(False, f"bcc unusable: {e}")
