"""Which header tree bcc is pointed at: a /lib/modules tree is left to bcc's own build+source
lookup (pointing BCC_KERNEL_SOURCE at Debian's build dir alone loses include/linux/kconfig.h,
which lives in the -common source dir: seen in the VM lane on Debian 6.12 and 6.1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thpwatch.probes.headers import Headers


@pytest.mark.parametrize(
    ("origin", "expected"),
    [("modules", None), ("kheaders", "/cache/kh"), ("distro", "/cache/kh")],
)
def test_apply_sets_bcc_kernel_source_except_for_modules_trees(
    monkeypatch: pytest.MonkeyPatch, origin: str, expected: str | None
) -> None:
    monkeypatch.delenv("BCC_KERNEL_SOURCE", raising=False)
    Headers(Path("/cache/kh"), origin, "").apply()
    assert os.environ.get("BCC_KERNEL_SOURCE") == expected
