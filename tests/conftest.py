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


@pytest.fixture
def root_user() -> None:
    require(os.geteuid() == 0, "needs root")


@pytest.fixture
def tmux_bin() -> str:
    path = shutil.which("tmux")
    require(path, "needs tmux")
    assert path is not None
    return path
