"""The BPF sources ship inside the wheel (thpwatch/bpf -> ../bpf, package data), and an installed
thpwatch finds them where the loader looks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def test_wheel_carries_the_bpf_sources_and_the_installed_loader_finds_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("thpwatch-*.whl")
    sources = sorted(p for p in (REPO / "bpf").iterdir() if p.suffix in (".c", ".h", ".inc"))
    assert len(sources) >= 13
    with zipfile.ZipFile(wheel) as z:
        for src in sources:
            assert z.read(f"thpwatch/bpf/{src.name}") == src.read_bytes(), src.name
        z.extractall(tmp_path / "site")
    found = subprocess.run(
        [
            sys.executable,
            "-I",  # ignore the editable checkout: import only from the unpacked wheel
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from thpwatch.probes.program import BPF_DIR; "
            "print(BPF_DIR); print(*sorted(p.name for p in BPF_DIR.iterdir()))",
            str(tmp_path / "site"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert found[0].startswith(str(tmp_path / "site"))
    assert found[1].split() == [s.name for s in sources]
