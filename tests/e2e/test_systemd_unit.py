"""The systemd unit: verifies, keeps its recorded exposure score, and its capabilities suffice."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, require

UNIT = REPO / "systemd" / "thpwatch.service"
DEFAULTS = REPO / "systemd" / "thpwatch.default"
DOC = REPO / "docs" / "exporter.md"
SHIPPED_BINARY = "/opt/thpwatch/.venv/bin/thpwatch"


def unit_for_this_checkout(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart pointed at this checkout's thpwatch (verify checks it)."""
    text = UNIT.read_text()
    assert SHIPPED_BINARY in text
    unit = tmp_path / "thpwatch.service"
    unit.write_text(text.replace(SHIPPED_BINARY, str(Path(sys.executable).with_name("thpwatch"))))
    return unit


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    require(path, "needs systemd-analyze")
    assert path
    return path


def test_unit_verifies(tmp_path):
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit_for_this_checkout(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_unit_has_the_required_settings():
    text = UNIT.read_text()
    for setting in (
        "Type=notify",
        "Restart=on-failure",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "MemoryMax=",
        "EnvironmentFile=-/etc/default/thpwatch",
    ):
        assert setting in text, setting
    assert "THPWATCH_ARGS=" in DEFAULTS.read_text()


def test_exposure_score_is_the_one_recorded_in_the_docs(tmp_path):
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", str(unit_for_this_checkout(tmp_path))],
        capture_output=True,
        text=True,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    recorded = re.search(r"exposure level (\d+\.\d+)", DOC.read_text())
    assert recorded, f"{DOC} does not record the exposure level"
    assert recorded.group(1) == match.group(1)


def unit_capabilities() -> list[str]:
    (line,) = [
        ln for ln in UNIT.read_text().splitlines() if ln.startswith("CapabilityBoundingSet=")
    ]
    return line.split("=", 1)[1].split()
