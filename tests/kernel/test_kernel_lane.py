"""Host side of the patched-kernel lane: boot each configuration of lane.BOOTS and require its
in-guest tests (thpwatch against the real kernel) to have passed with their numbers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import require

_spec = importlib.util.spec_from_file_location("kernel_lane", Path(__file__).with_name("lane.py"))
assert _spec and _spec.loader
lane = importlib.util.module_from_spec(_spec)
sys.modules["kernel_lane"] = lane  # dataclasses resolve their annotations through sys.modules
_spec.loader.exec_module(lane)

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    require(os.geteuid() == 0, "the kernel lane needs root (apt-get, QEMU, bcc in the guest)")
    require(shutil.which("apt-get"), "the kernel lane builds from Debian's linux-source-6.12")
    try:
        return lane.kernel_images()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.mark.parametrize("boot", lane.BOOTS, ids=[b.name for b in lane.BOOTS])
def test_guest_tests_pass(boot, images: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    result = lane.run_boot(boot, images[boot.kernel])
    report = lane.render(boot, result)
    print(report)
    assert result.passed, report
    assert len(result.tests) >= len(boot.tests), report
