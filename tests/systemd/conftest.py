"""The Debian package, built once per test session with scripts/build-deb (debhelper, pybuild)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, require


def build_deb(out: Path, version: str | None = None) -> Path:
    require(shutil.which("dpkg-buildpackage") or shutil.which("apt-get"), "needs Debian's dpkg")
    env = {"THPWATCH_DEB_VERSION": version} if version else {}
    done = subprocess.run(
        [str(REPO / "scripts" / "build-deb"), str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    deb = Path(done.stdout.strip().splitlines()[-1])
    assert deb.is_file(), done.stdout
    return deb


@pytest.fixture(scope="session")
def deb(tmp_path_factory) -> Path:
    """thpwatch_<version>_all.deb of this checkout."""
    return build_deb(tmp_path_factory.mktemp("deb"))
