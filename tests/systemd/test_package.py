"""The Debian package built by scripts/build-deb: what it installs, what it depends on, that
lintian finds nothing, and that the installed thpwatch runs on Debian's python3 modules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, require

from systemd import lane
from thpwatch.cli import SUBCOMMANDS


def field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    subprocess.run(["dpkg-deb", "-e", str(deb), str(root / "DEBIAN")], check=True)
    return root


def test_the_package_is_named_and_versioned_from_the_checkout(deb):
    version = field(deb, "Version")
    assert deb.name == f"thpwatch_{version}_all.deb"
    assert field(deb, "Architecture") == "all"


def test_it_depends_on_debians_own_modules_and_recommends_headers(deb):
    depends = field(deb, "Depends")
    for package in (
        "python3-bpfcc",
        "python3-prometheus-client (>= 0.16)",
        "python3-click (>= 8.1)",
        "python3-rich (>= 13)",
    ):
        assert package in depends, depends
    assert field(deb, "Recommends").startswith("linux-headers-amd64 |")


def test_it_installs_the_command_unit_conffile_man_pages_and_completion(unpacked):
    assert os.access(unpacked / "usr/bin/thpwatch", os.X_OK)
    unit = (unpacked / "lib/systemd/system/thpwatch.service").read_text()
    assert "\nExecStart=/usr/bin/thpwatch run $ARGS\n" in unit
    assert "\nEnvironmentFile=-/etc/default/thpwatch\n" in unit
    assert (unpacked / "DEBIAN/conffiles").read_text().split() == ["/etc/default/thpwatch"]
    assert 'ARGS="' in (unpacked / "etc/default/thpwatch").read_text()
    man = unpacked / "usr/share/man/man1"
    assert sorted(p.name for p in man.iterdir()) == sorted(
        ["thpwatch.1.gz"] + [f"thpwatch-{name}.1.gz" for name in SUBCOMMANDS]
    )
    completion = (unpacked / "usr/share/bash-completion/completions/thpwatch").read_text()
    assert "_THPWATCH_COMPLETE=bash_complete" in completion
    # Documentation= of the unit points at what the package ships.
    assert "man:thpwatch-run(1)" in unit and (man / "thpwatch-run.1.gz").exists()
    assert (unpacked / "usr/share/doc/thpwatch/exporter.md").is_file()
    assert "file:///usr/share/doc/thpwatch/exporter.md" in unit


def test_the_man_page_of_each_subcommand_documents_its_options(unpacked):
    text = subprocess.run(
        ["zcat", str(unpacked / "usr/share/man/man1/thpwatch-run.1.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert text.startswith('.TH "THPWATCH RUN" "1"')
    assert r"\fB\-\-listen\fP" in text


def test_the_bpf_sources_ship_in_the_package(unpacked):
    (site,) = (unpacked / "usr/lib/python3/dist-packages").glob("thpwatch")
    for src in (REPO / "bpf").iterdir():
        assert (site / "bpf" / src.name).read_bytes() == src.read_bytes(), src.name


def test_the_installed_command_runs_on_debians_python_modules(unpacked):
    """/usr/bin/python3 with only the package's files and Debian's dist-packages (no venv, no
    checkout): the versions bookworm ships (prometheus-client 0.16, rich 13.3, click 8.1)."""
    site = unpacked / "usr/lib/python3/dist-packages"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "COLUMNS": "200"}
    script = unpacked / "usr/bin/thpwatch"
    snap = subprocess.run(
        [
            "/usr/bin/python3",
            str(script),
            "snapshot",
            "--no-bpf",
            "--json",
            "--root",
            str(FIXTURES / "patched"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    assert snap.returncode in (0, 1, 3), snap.stderr
    assert snap.stdout.lstrip().startswith("{"), snap.stdout[:500] + snap.stderr
    where = subprocess.run(
        [
            "/usr/bin/python3",
            "-c",
            "import thpwatch, prometheus_client as p; print(thpwatch.__file__); print(p.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(site)), where
    assert where[1].startswith("/usr/lib/python3/dist-packages/"), where


def test_lintian_is_clean(deb):
    lintian = shutil.which("lintian")
    require(lintian, "needs lintian (Debian package lintian; scripts/setup installs it)")
    assert lintian
    done = subprocess.run(
        [lintian, "--fail-on", "error,warning", str(deb)], capture_output=True, text=True
    )
    tags = [ln for ln in done.stdout.splitlines() if ln[:2] in ("E:", "W:")]
    assert (done.returncode, tags) == (0, []), done.stdout + done.stderr


def test_the_lanes_root_filesystem_gets_every_dependency_by_name(deb):
    """tests/systemd/lane.py builds the guest with the .deb's Depends (dpkg -i needs them there)."""
    names = lane.depends(deb)
    field = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert {"python3-bpfcc", "python3-prometheus-client", "python3-yaml"} <= set(names)
    assert len(names) == len(field.split(","))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", n) for n in names), names
