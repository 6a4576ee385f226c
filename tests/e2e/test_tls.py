"""--tls-cert/--tls-key: HTTPS that a real Prometheus scrapes; bad files are one clear error."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.request

import pytest
from conftest import FIXTURES, require

from bench.daemons import run_to_exit
from e2e.harness import scrape_config

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"


@pytest.fixture
def certificate(tmp_path):
    openssl = shutil.which("openssl")
    require(openssl, "needs openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_is_served_and_scraped(certificate, thpwatch_exporter, prometheus):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    cert, key = certificate
    exporter = thpwatch_exporter(
        "--root", str(PATCHED), "--no-bpf", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://{exporter.target}/metrics"
    with urllib.request.urlopen(url, context=context, timeout=10) as r:
        assert r.status == 200
        assert b"thpwatch_source_state{" in r.read()
    prom = prometheus(
        [
            scrape_config(
                "thpwatch", exporter.target, scheme="https", tls_config={"ca_file": str(cert)}
            )
        ]
    )
    prom.wait_for_scrapes("thpwatch")
    assert prom.value('up{job="thpwatch"}') == 1


def test_unreadable_key_is_one_clear_error(certificate, tmp_path):
    cert, _ = certificate
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key\n")
    result = run_to_exit(
        "--listen",
        "127.0.0.1:0",
        "--no-bpf",
        "--root",
        str(PATCHED),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(bad_key),
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"thpwatch run: --tls-cert/--tls-key: cannot load TLS certificate {cert} / key {bad_key}:"
    )
