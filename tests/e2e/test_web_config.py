"""--web.config.file on the real `thpwatch run`, scraped by a real Prometheus: basic auth,
client certificates, certificate rotation without restart, and clear start-up errors."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import urllib.error
import urllib.request

import bcrypt
import pytest
from conftest import FIXTURES, require
from exporter.certs import make_pki

from bench.daemons import run_to_exit, wait_until
from e2e.harness import Prometheus, scrape_config

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"


@pytest.fixture
def pki(tmp_path):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    pki = make_pki(tmp_path / "pki")
    pki.server = pki.issue("server", server=True)
    return pki


def fetch(url: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def health(prom: Prometheus, job: str) -> str | None:
    """The job's single target's health; None until Prometheus has the target."""
    targets = [t for t in prom.targets() if t["labels"]["job"] == job]
    return targets[0]["health"] if targets else None


def test_basic_auth_over_tls_from_the_environment(tmp_path, pki, thpwatch_exporter, prometheus):
    cert, key = pki.server
    password_hash = bcrypt.hashpw(b"scrape-secret", bcrypt.gensalt(10)).decode()
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  prometheus: '{password_hash}'\n"
    )
    exporter = thpwatch_exporter(
        "--root", str(PATCHED), "--no-bpf", env={"THPWATCH_WEB_CONFIG_FILE": str(config)}
    )
    url = f"https://{exporter.target}/metrics"
    client = ssl.create_default_context(cafile=str(pki.ca_cert))
    assert fetch(url, client) == 401
    assert fetch(url, client, ("prometheus", "wrong")) == 401
    assert fetch(url, client, ("prometheus", "scrape-secret")) == 200
    https = {"scheme": "https", "tls_config": {"ca_file": str(pki.ca_cert)}}
    prom = prometheus(
        [
            scrape_config(
                "authorized",
                exporter.target,
                basic_auth={"username": "prometheus", "password": "scrape-secret"},
                **https,
            ),
            scrape_config("anonymous", exporter.target, **https),
        ]
    )
    prom.wait_for_scrapes("authorized", count=2)
    assert prom.value('up{job="authorized"}') == 1
    assert prom.value('up{job="anonymous"}') == 0
    (anonymous,) = [t for t in prom.targets() if t["labels"]["job"] == "anonymous"]
    assert "401" in anonymous["lastError"]


def test_client_certificates_required(tmp_path, pki, thpwatch_exporter, prometheus):
    cert, key = pki.server
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca_cert}\n"
    )
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf", "--web.config.file", config)
    url = f"https://{exporter.target}/metrics"
    without = ssl.create_default_context(cafile=str(pki.ca_cert))
    with pytest.raises((ssl.SSLError, ConnectionResetError, urllib.error.URLError)):
        fetch(url, without)
    client_cert, client_key = pki.issue("prometheus")
    tls = {"ca_file": str(pki.ca_cert), "cert_file": str(client_cert), "key_file": str(client_key)}
    prom = prometheus(
        [
            scrape_config("with-cert", exporter.target, scheme="https", tls_config=tls),
            scrape_config(
                "without-cert",
                exporter.target,
                scheme="https",
                tls_config={"ca_file": str(pki.ca_cert)},
            ),
        ]
    )
    prom.wait_for_scrapes("with-cert", count=2)
    assert prom.value('up{job="with-cert"}') == 1
    assert prom.value('up{job="without-cert"}') == 0


def test_certificate_rotation_needs_no_restart(tmp_path, pki, thpwatch_exporter, prometheus):
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(pki.server[0], cert)
    shutil.copy(pki.server[1], key)
    config = tmp_path / "web.yml"
    config.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf", "--web.config.file", config)
    new_pki = make_pki(tmp_path / "new-pki", "new-ca")
    new_cert, new_key = new_pki.issue("server", server=True)
    prom = prometheus(
        [
            scrape_config(
                "new-ca",
                exporter.target,
                scheme="https",
                tls_config={"ca_file": str(new_pki.ca_cert)},
            )
        ]
    )
    # the old certificate is not trusted by new-ca
    wait_until(lambda: health(prom, "new-ca") == "down", 30, "a failed scrape of job new-ca")
    assert prom.value('up{job="new-ca"}') == 0
    shutil.copy(new_key, tmp_path / "next.key")
    shutil.copy(new_cert, tmp_path / "next.crt")
    os.replace(tmp_path / "next.key", key)
    os.replace(tmp_path / "next.crt", cert)
    prom.wait_for_scrapes("new-ca", count=2)
    assert prom.value('up{job="new-ca"}') == 1
    assert exporter.process.poll() is None
    assert "reloaded" in exporter.stderr()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config: {cert_file: nope.crt, key_file: nope.key}", "cannot load TLS"),
        ("basic_auth_users: {alice: plaintext}", "basic_auth_users.alice: expected a bcrypt"),
        ("tls_server_config: {cert_file: a, key_file: b, foo: 1}", "unknown key"),
    ],
)
def test_a_bad_web_config_is_one_clear_error(tmp_path, text, message):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    config = tmp_path / "web.yml"
    config.write_text(text)
    result = run_to_exit(
        "--listen", "127.0.0.1:0", "--no-bpf", "--root", str(PATCHED), "--web.config.file", config
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"thpwatch run: web config {config}: ")
    assert message in line
