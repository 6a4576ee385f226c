"""Host side of the patched-kernel lane: boot configurations of lane.BOOTS and require their
in-guest tests (thpwatch against the real kernel) to have passed with their numbers.

Every run boots `patched` and `unfixed`, the two boots that carry most of the checks (~6-8 min
under TCG, plus the kernel build when not cached, ~11 min). THPWATCH_KERNEL_BOOTS=all (or a
comma-separated list of names) selects more.
The full lane is one command, `sudo .venv/bin/python -m tests.kernel.lane` (README.md here), and
a recorded run is in RESULTS.md."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import require

from tests.kernel import lane

pytestmark = pytest.mark.vm
CI_BOOTS = ("patched", "unfixed")


def selected_boots() -> list:  # type: ignore[type-arg]
    wanted = os.environ.get("THPWATCH_KERNEL_BOOTS", ",".join(CI_BOOTS))
    names = [b.name for b in lane.BOOTS] if wanted == "all" else wanted.split(",")
    unknown = set(names) - {b.name for b in lane.BOOTS}
    if unknown:
        raise ValueError(f"THPWATCH_KERNEL_BOOTS: unknown boot(s) {sorted(unknown)}")
    return [b for b in lane.BOOTS if b.name in names]


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    require(os.geteuid() == 0, "the kernel lane needs root (apt-get, QEMU, bcc in the guest)")
    require(shutil.which("apt-get"), "the kernel lane builds from Debian's linux-source-6.12")
    try:
        return lane.kernel_images()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.mark.parametrize("boot", selected_boots(), ids=lambda b: b.name)
def test_guest_tests_pass(boot, images: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    result = lane.run_boot(boot, images[boot.kernel])
    report = lane.render(boot, result)
    print(report)
    assert result.passed, report
    assert len(result.tests) >= len(boot.tests), report
