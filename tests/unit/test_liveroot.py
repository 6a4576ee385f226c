"""Which roots show the running kernel (BPF belongs with them) and which are copies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, require

from thpwatch.kernel import facts
from thpwatch.kernel.liveroot import PROC_SUPER_MAGIC, filesystem_magic, is_live


def test_slash_is_live():
    assert is_live(Path("/"))


def test_fixture_trees_are_not_live():
    for tree in ("patched", "stock"):
        assert not is_live(FIXTURES / tree)


def test_plain_directories_with_this_kernels_release_are_not_live(tmp_path: Path):
    release = tmp_path / facts.PROC_OSRELEASE
    release.parent.mkdir(parents=True)
    release.write_text(os.uname().release + "\n")
    (tmp_path / "sys").mkdir()
    assert not is_live(tmp_path)


def test_a_missing_or_unreadable_root_is_not_live(tmp_path: Path):
    assert not is_live(tmp_path / "nowhere")
    assert filesystem_magic(tmp_path / "nowhere") is None
    assert filesystem_magic(Path("/proc")) == PROC_SUPER_MAGIC


def test_procfs_and_sysfs_mounted_under_a_prefix_are_live(root_user, tmp_path: Path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys").mkdir()
    script = (
        f"mount -t proc proc {tmp_path}/proc && mount -t sysfs sysfs {tmp_path}/sys && "
        f"{sys.executable} -c 'import sys; from pathlib import Path; "
        "from thpwatch.kernel.liveroot import is_live; "
        f'sys.exit(0 if is_live(Path("{tmp_path}")) else 1)\''
    )
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    require(done.returncode != 32, "mount refused")
    assert done.returncode == 0
