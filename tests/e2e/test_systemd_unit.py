"""The systemd unit: verifies, keeps its recorded exposure score, and its capabilities suffice."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, require
from prometheus_client.parser import text_string_to_metric_families

from bench.daemons import Exporter
from e2e.harness import probes_in_this_checkout

UNIT = REPO / "systemd" / "thpwatch.service"
DEFAULTS = REPO / "systemd" / "thpwatch.default"
DOC = REPO / "docs" / "exporter.md"
SANDBOX = Path(__file__).with_name("sandbox.py")
SHIPPED_BINARY = "/usr/bin/thpwatch"


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


def man_pages_as_packaged(tmp_path: Path) -> Path:
    """A MANPATH holding the man pages the Debian package ships, generated as its build does."""
    out = tmp_path / "generated"
    subprocess.run(
        [sys.executable, "-P", str(REPO / "debian" / "generate-docs.py"), "0", str(out)],
        check=True,
        capture_output=True,
    )
    (out / "man1").symlink_to(out / "man")
    return out


def test_unit_verifies(tmp_path):
    """verify also runs `man` on each man: page of Documentation=: the package's pages."""
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit_for_this_checkout(tmp_path))],
        capture_output=True,
        text=True,
        env=dict(os.environ, MANPATH=str(man_pages_as_packaged(tmp_path))),
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
    assert "ARGS=" in DEFAULTS.read_text()


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


def effective_capabilities(pid: int) -> set[str]:
    capsh = shutil.which("capsh")
    require(capsh, "needs capsh (libcap2-bin) to decode capability masks")
    assert capsh
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    (mask,) = [ln.split()[1] for ln in status if ln.startswith("CapEff:")]
    decoded = subprocess.run(
        [capsh, f"--decode={mask}"], capture_output=True, text=True, check=True
    ).stdout
    return set(decoded.strip().split("=", 1)[1].split(","))


def states(exporter: Exporter) -> dict[str, str]:
    """{"source foo": "ok", "probe bar": "blocked", ...} from the exporter's /metrics."""
    out = {}
    for family in text_string_to_metric_families(exporter.metrics()):
        if family.name in ("thpwatch_source_state", "thpwatch_probe_state"):
            kind = family.name.split("_")[1]
            for sample in family.samples:
                if sample.value == 1:
                    out[f"{kind} {sample.labels[kind]}"] = sample.labels["state"]
    return out


def test_the_units_sandbox_is_enough(thpwatch_exporter):
    """As root with only the unit's capabilities, its system call filter and W^X memory (the
    parts of the sandbox that can be had without systemd as PID 1), the daemon ends up in
    the states full root reaches: every source and probe."""
    require(os.geteuid() == 0, "needs root")
    setpriv = shutil.which("setpriv")
    require(setpriv, "needs setpriv (util-linux)")
    require(importlib.util.find_spec("seccomp"), "needs python3-seccomp (Debian package)")
    require(probes_in_this_checkout(), "needs thpwatch.probes.source (the BPF probes)")
    assert setpriv
    caps = ",".join("+" + c.removeprefix("CAP_").lower() for c in unit_capabilities())
    wrapper = [
        setpriv,
        "--inh-caps=-all",
        "--ambient-caps=-all",
        f"--bounding-set=-all,{caps}",
        "--no-new-privs",
        sys.executable,
        str(SANDBOX),
        str(UNIT),
        "--",
    ]
    everything = ("--processes", "--cgroups")
    full = states(thpwatch_exporter(*everything))
    sandboxed = thpwatch_exporter(*everything, wrapper=wrapper)
    status = Path(f"/proc/{sandboxed.process.pid}/status").read_text()
    assert "\nSeccomp:\t2\n" in status  # a filter is loaded
    assert effective_capabilities(sandboxed.process.pid) == {c.lower() for c in unit_capabilities()}
    assert any(key.startswith("probe ") for key in full), full
    assert states(sandboxed) == full


def unit_settings(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", UNIT.read_text(), re.MULTILINE)


def test_the_units_descriptor_limit_leaves_room_beyond_the_connection_cap():
    """The server closes idle connections at its cap; under the unit the process must reach
    that cap with descriptors to spare for BPF, held sysfs files and the sources (the default
    soft limit of 1024 was the old exporter's ceiling under held-open connections)."""
    from thpwatch.exporter.httpserver import Limits

    (limit,) = unit_settings("LimitNOFILE")
    assert int(limit) >= 4 * Limits.max_connections


def test_the_unit_lets_the_bpf_helper_keep_its_capabilities():
    """The daemon execs its BPF loading helper (python -m thpwatch.probes.helper); under
    SecureBits=noroot-locked that exec would drop the capabilities it needs, while the unit's
    capability bounding set already decides what either process may do."""
    assert unit_settings("SecureBits") == []
