"""--web.config.file: parsing with errors that name file and key, basic auth, client
certificates and rotation, over real TLS connections to the in-process server."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import threading
import time
from pathlib import Path

import bcrypt
import pytest
from prometheus_client import CollectorRegistry, Counter

from thpwatch.exporter import server, webconfig

from .certs import make_pki
from .test_httpserver import exchange, get, serving, status


def hashed(password: str, prefix: str = "$2b$") -> str:
    h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return prefix + h[4:]


@pytest.fixture
def pki(tmp_path):
    pki = make_pki(tmp_path / "pki")
    pki.server = pki.issue("server", server=True)
    return pki


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a mapping at the top level"),
        ("tls_server_config: {cert_file: a.crt, key_file: a.key", "not valid YAML"),
        ("tls_config: {}", "unknown key tls_config"),
        ("tls_server_config: {key_file: a.key}", "tls_server_config.cert_file is required"),
        (
            "tls_server_config: {cert_file: a, key_file: b, cipher_suites: [X]}",
            "tls_server_config.cipher_suites is not supported",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequestClientCert}",
            "client_auth_type RequestClientCert is not supported",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}",
            "client_auth_type Sometimes is not one of",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}",
            "client_ca_file is set but client_auth_type is NoClientCert",
        ),
        (
            "tls_server_config:\n  {cert_file: a, key_file: b, "
            "client_auth_type: RequireAndVerifyClientCert}",
            "needs client_ca_file",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, min_version: SSL3}",
            "tls_server_config.min_version SSL3 is not one of",
        ),
        ("tls_server_config: {cert_file: missing.crt, key_file: b}", "cannot load TLS cert"),
        ("basic_auth_users: {alice: secret}", "basic_auth_users.alice: expected a bcrypt hash"),
        ("basic_auth_users: [alice]", "basic_auth_users: expected a mapping"),
        ("http_server_config: {headers: {X: y}}", "unknown key http_server_config.headers"),
    ],
)
def test_bad_config_is_an_error_naming_file_and_key(tmp_path, text, message):
    path = write_config(tmp_path / "web.yml", text)
    with pytest.raises(webconfig.WebConfigError, match=message) as e:
        webconfig.parse(path)
    assert str(path) in str(e.value)


def test_relative_paths_are_relative_to_the_config_file(pki, tmp_path):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    for p in pki.server:
        shutil.copy(p, conf_dir)
    path = write_config(
        conf_dir / "web.yml", "tls_server_config: {cert_file: server.crt, key_file: server.key}"
    )
    config = webconfig.parse(path)
    assert config.tls.cert_file == conf_dir / "server.crt"
    assert config.tls.min_version == "TLS12"  # exporter-toolkit's default


@pytest.fixture
def registry():
    registry = CollectorRegistry()
    Counter("thpwatch_test_things", "Things.", registry=registry).inc()
    return registry


def basic(user: str, password: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_401_without_or_with_wrong_credentials_200_with(tmp_path, registry):
    path = write_config(
        tmp_path / "web.yml",
        f"basic_auth_users:\n  alice: '{hashed('wonderland', '$2y$')}'\n"
        f"  bob: '{hashed('builder')}'\n",
    )
    access = webconfig.Live.from_file(path)
    with serving(server.make_handler(registry, access)) as srv:
        port = srv.server_address[1]
        response = get(port, "/metrics")
        assert status(response) == 401
        assert b'WWW-Authenticate: Basic realm="thpwatch"' in response
        assert b"thpwatch_test_things" not in response
        for header in (
            basic("alice", "wrong"),
            basic("mallory", "wonderland"),
            "Authorization: Basic !!notbase64",
            "Authorization: Bearer abc",
        ):
            assert status(get(port, "/metrics", headers=header + "\r\n")) == 401
        for user, password in (("alice", "wonderland"), ("bob", "builder")):
            response = get(port, "/metrics", headers=basic(user, password) + "\r\n")
            assert status(response) == 200
            assert b"thpwatch_test_things_total 1.0" in response


def tls_config(tmp_path: Path, pki, extra: str = "") -> Path:
    cert, key = pki.server
    return write_config(
        tmp_path / "web.yml",
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n{extra}",
    )


def refused(port: int, context: ssl.SSLContext) -> bool:
    """No response: the handshake fails (TLS 1.3: its alert comes at the first read)."""
    try:
        return get(port, "/metrics", context=context) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_client_certificate_required_refuses_a_client_without_one(tmp_path, pki, registry):
    path = tls_config(
        tmp_path,
        pki,
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca_cert}\n",
    )
    access = webconfig.Live.from_file(path)
    with serving(server.make_handler(registry, access), tls=access.ssl_context) as srv:
        port = srv.server_address[1]
        anonymous = ssl.create_default_context(cafile=str(pki.ca_cert))
        assert refused(port, anonymous)

        stranger = make_pki(tmp_path / "other", "other-ca")
        foreign = ssl.create_default_context(cafile=str(pki.ca_cert))
        foreign.load_cert_chain(*stranger.issue("mallory"))
        assert refused(port, foreign)

        trusted = ssl.create_default_context(cafile=str(pki.ca_cert))
        trusted.load_cert_chain(*pki.issue("prometheus"))
        response = get(port, "/metrics", context=trusted)
        assert status(response) == 200


def test_min_version_is_enforced(tmp_path, pki, registry):
    access = webconfig.Live.from_file(tls_config(tmp_path, pki, "  min_version: TLS13\n"))
    with serving(server.make_handler(registry, access), tls=access.ssl_context) as srv:
        old = ssl.create_default_context(cafile=str(pki.ca_cert))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            get(srv.server_address[1], "/", context=old)
        new = ssl.create_default_context(cafile=str(pki.ca_cert))
        assert status(get(srv.server_address[1], "/", context=new)) == 200


def served_certificate(port: int) -> bytes:
    import socket

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def wait_for(predicate, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize("how", ["web-config", "tls-flags"])
def test_certificate_rotation_is_picked_up_without_restart(tmp_path, pki, registry, how):
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(pki.server[0], cert)
    shutil.copy(pki.server[1], key)
    if how == "web-config":
        path = write_config(
            tmp_path / "web.yml", f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}"
        )
        access = server.web_access(path, None, None)
    else:
        access = server.web_access(None, cert, key)
    with serving(server.make_handler(registry, access), tls=access.ssl_context) as srv:
        port = srv.server_address[1]
        first = served_certificate(port)
        assert first == der(pki.server[0])
        new_cert, new_key = pki.issue("server-rotated", server=True)
        # as certbot and cert-manager do: new files renamed into place
        shutil.copy(new_key, tmp_path / "next.key")
        shutil.copy(new_cert, tmp_path / "next.crt")
        os.replace(tmp_path / "next.key", key)
        os.replace(tmp_path / "next.crt", cert)
        assert wait_for(lambda: served_certificate(port) == der(new_cert))


def test_a_broken_reload_refuses_service_until_fixed(tmp_path, registry):
    good = f"basic_auth_users: {{alice: '{hashed('pw')}'}}\n"
    path = write_config(tmp_path / "web.yml", good)
    access = webconfig.Live.from_file(path)
    with serving(server.make_handler(registry, access)) as srv:
        port = srv.server_address[1]
        assert status(get(port, "/", headers=basic("alice", "pw") + "\r\n")) == 200
        time.sleep(webconfig.RELOAD_CHECK_SECONDS)
        path.write_text("basic_auth_users: {alice: plaintext}\n")
        assert wait_for(
            lambda: status(get(port, "/", headers=basic("alice", "pw") + "\r\n")) == 500
        )
        assert "basic_auth_users.alice" in access.error
        path.write_text(good + "# fixed\n")
        assert wait_for(
            lambda: status(get(port, "/", headers=basic("alice", "pw") + "\r\n")) == 200
        )


def test_web_config_and_tls_flags_together_are_refused(tmp_path, pki):
    path = tls_config(tmp_path, pki)
    with pytest.raises(server.ServeError, match="either --web.config.file or --tls-cert"):
        server.web_access(path, *pki.server)


def test_plain_text_on_the_tls_port_gets_nothing(tmp_path, pki, registry):
    access = webconfig.Live.from_file(tls_config(tmp_path, pki))
    with serving(server.make_handler(registry, access), tls=access.ssl_context) as srv:
        assert exchange(srv.server_address[1], b"GET /metrics HTTP/1.1\r\n\r\n") == b""
        assert exchange(srv.server_address[1], b"THPWATCH-SELFCHECK nope\n" * 4) == b""


def test_parallel_password_guesses_cannot_hold_the_workers(tmp_path, registry, monkeypatch):
    path = write_config(tmp_path / "web.yml", f"basic_auth_users: {{alice: '{hashed('pw')}'}}\n")
    access = webconfig.Live.from_file(path)
    with serving(server.make_handler(registry, access)) as srv:
        port = srv.server_address[1]
        assert status(get(port, "/", headers=basic("alice", "pw") + "\r\n")) == 200  # cached
        inside, release = threading.Event(), threading.Event()
        real_checkpw = bcrypt.checkpw

        def slow_checkpw(password, hashed_password):
            inside.set()
            release.wait(10)
            return real_checkpw(password, hashed_password)

        monkeypatch.setattr(bcrypt, "checkpw", slow_checkpw)
        first: list[bytes] = []
        guess = threading.Thread(
            target=lambda: first.append(get(port, "/", headers=basic("alice", "guess1") + "\r\n"))
        )
        guess.start()
        try:
            assert inside.wait(5)
            second = get(port, "/", headers=basic("alice", "guess2") + "\r\n")
            assert status(second) == 429
            assert b"Retry-After: 1" in second
            assert status(get(port, "/", headers=basic("alice", "pw") + "\r\n")) == 200
        finally:
            release.set()
            guess.join(10)
        assert status(first[0]) == 401
