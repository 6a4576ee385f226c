"""The bounded HTTP server in-process, over real sockets: limits, timeouts, hostile clients."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from thpwatch.exporter import httpmsg, server
from thpwatch.exporter.httpserver import HttpServer, Limits

from .certs import make_pki

SMALL = Limits(
    workers=2,
    max_connections=40,
    handshake_timeout=1.0,
    header_timeout=1.0,
    idle_timeout=1.5,
    write_timeout=2.0,
)


@contextlib.contextmanager
def serving(handler, limits: Limits = SMALL, tls=None) -> Iterator[HttpServer]:
    srv = HttpServer("127.0.0.1", 0, handler, limits, tls)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    assert srv.ready.wait(5)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
        assert not thread.is_alive()


def hello(request: httpmsg.Request) -> httpmsg.Response:
    return httpmsg.text_response(200, f"hello {request.path}\n")


def exchange(port: int, data: bytes, timeout: float = 5, context=None) -> bytes:
    """Send data on a new connection, read until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        sock.sendall(data)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                out += chunk
        return out


def get(port: int, path: str = "/", headers: str = "", method: str = "GET", **kw) -> bytes:
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    return exchange(port, request.encode(), **kw)


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def idle_connections(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        if first_bytes:
            s.sendall(first_bytes)
        socks.append(s)
    return socks


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# -- bounded concurrency ----------------------------------------------------------------------
def test_idle_connections_beyond_the_cap_cost_no_thread_and_do_not_block_a_request():
    with serving(hello) as srv:
        threads = threading.active_count()
        socks = idle_connections(srv.server_address[1], 200)  # 5x the cap of 40
        try:
            assert status(get(srv.server_address[1], "/x", timeout=2)) == 200
            assert threading.active_count() == threads
            assert len(srv.conns) <= SMALL.max_connections
            assert srv.stats["evicted"] >= 200 - SMALL.max_connections
        finally:
            for s in socks:
                s.close()


def test_when_every_connection_has_a_request_in_progress_new_ones_are_closed():
    release = threading.Event()

    def stuck(request):
        release.wait(10)
        return hello(request)

    limits = Limits(workers=1, max_connections=3, header_timeout=5)
    with serving(stuck, limits) as srv:
        port = srv.server_address[1]
        busy = idle_connections(port, 3, b"GET / HTTP/1.1\r\n\r\n")
        try:
            time.sleep(0.3)
            refused = socket.create_connection(("127.0.0.1", port))
            assert closed_by_server(refused, 3)
            assert srv.stats["refused"] == 1
            release.set()
            for s in busy:
                s.settimeout(5)
                assert s.recv(100).startswith(b"HTTP/1.1 200")
        finally:
            release.set()
            for s in busy:
                s.close()


# -- timeouts ---------------------------------------------------------------------------------
def test_a_request_head_sent_too_slowly_is_cut_off():
    with serving(hello) as srv:
        (s,) = idle_connections(srv.server_address[1], 1, b"GET / HTTP/1.1\r\nX-Slow: ")
        started = time.monotonic()
        assert closed_by_server(s, 5)
        assert time.monotonic() - started < SMALL.header_timeout + 1
        assert srv.stats["timed_out"] == 1
        s.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout():
    with serving(hello) as srv, socket.create_connection(srv.server_address) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive is served
        assert b"hello /again" in s.recv(4096)
        assert not closed_by_server(s, SMALL.idle_timeout - 0.5)
        assert closed_by_server(s, 2)


def test_half_client_hellos_do_not_stop_tls_service(tmp_path):
    pki = make_pki(tmp_path)
    cert, key = pki.issue("server", server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(pki.ca_cert))
    with serving(hello, tls=lambda: context) as srv:
        port = srv.server_address[1]
        half_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20
        socks = idle_connections(port, 20) + idle_connections(port, 20, half_hello)
        try:
            started = time.monotonic()
            response = get(port, "/tls", context=client, timeout=3)
            assert b"hello /tls" in response
            assert time.monotonic() - started < 1
            # and the stalled handshakes are cut off by the handshake timeout
            assert all(closed_by_server(s, SMALL.handshake_timeout + 1) for s in socks[-3:])
        finally:
            for s in socks:
                s.close()


# -- size limits and hygiene ------------------------------------------------------------------
def test_a_huge_request_head_gets_431_after_reading_at_most_the_limit(caplog):
    caplog.set_level(logging.INFO, "thpwatch.exporter.httpserver")
    with serving(hello) as srv, socket.create_connection(srv.server_address) as s:
        s.settimeout(5)
        s.sendall(b"GET / HTTP/1.1\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(100):  # up to 6 MB, the server stops reading well before
                s.sendall(b"X-Big: " + b"a" * 60000 + b"\r\n")
            response = s.recv(100)
            assert response.startswith(b"HTTP/1.1 431")
        wait_for = time.monotonic() + 5
        while srv.conns and time.monotonic() < wait_for:
            time.sleep(0.05)
        assert srv.conns == {}
    assert any("431 request head too large" in r.getMessage() for r in caplog.records)


@pytest.fixture
def app_server():
    registry = CollectorRegistry()
    Counter("thpwatch_test_things", "Things.", registry=registry).inc(3)
    with serving(server.make_handler(registry)) as srv:
        yield srv.server_address[1]


def test_head_metrics_is_200_with_the_length_of_get_and_no_body(app_server):
    response = get(app_server, "/metrics", method="HEAD")
    head, _, body = response.partition(b"\r\n\r\n")
    assert status(response) == 200
    assert body == b""
    full_body = get(app_server, "/metrics").partition(b"\r\n\r\n")[2]
    assert b"thpwatch_test_things_total 3.0" in full_body
    assert f"Content-Length: {len(full_body)}".encode() in head


@pytest.mark.parametrize("method", ["TRACE", "POST", "DELETE", "OPTIONS", "PUT"])
def test_other_methods_are_405_with_allow(app_server, method):
    response = get(app_server, "/metrics", method=method)
    assert status(response) == 405
    assert b"\r\nAllow: GET, HEAD\r\n" in response


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text; version=abc",
        "text/plain; version=x.y",
        ";;;,,=",
        "\x7f\x01",
    ],
)
def test_a_malformed_accept_header_gets_the_default_format(app_server, accept, caplog):
    with caplog.at_level(logging.DEBUG):
        response = get(app_server, "/metrics", headers=f"Accept: {accept}\r\n")
    assert status(response) == 200
    assert b"thpwatch_test_things_total 3.0" in response
    assert not [r for r in caplog.records if r.exc_info]


def test_openmetrics_and_gzip_are_negotiated(app_server):
    import gzip

    response = get(
        app_server,
        "/metrics",
        headers="Accept: application/openmetrics-text; version=1.0.0\r\nAccept-Encoding: gzip\r\n",
    )
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"Content-Type: application/openmetrics-text" in head
    assert gzip.decompress(body).endswith(b"# EOF\n")


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET http://x/ HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"GET /nothing-here HTTP/1.1\r\n\r\n", 404),
    ],
)
def test_bad_requests_get_a_clean_status(app_server, request_bytes, code):
    assert status(exchange(app_server, request_bytes)) == code


def test_refusals_are_logged_rate_limited_without_tracebacks(caplog):
    with serving(hello) as srv, caplog.at_level(logging.DEBUG, "thpwatch.exporter.httpserver"):
        for _ in range(50):
            assert status(exchange(srv.server_address[1], b"TRACE / HTTP/1.1\r\n\r\n")) == 405
    refusals = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(refusals) == 1
    assert not [r for r in caplog.records if r.exc_info]


# -- the self-check the watchdog uses ---------------------------------------------------------
def test_self_check_answers_only_while_a_worker_is_free():
    release = threading.Event()

    def stuck(request):
        release.wait(10)
        return hello(request)

    with serving(stuck, Limits(workers=2)) as srv:
        assert srv.self_check(2)
        held = idle_connections(srv.server_address[1], 2, b"GET / HTTP/1.1\r\n\r\n")
        try:
            time.sleep(0.2)
            assert not srv.self_check(1)
            release.set()
            time.sleep(0.2)
            assert srv.self_check(2)
        finally:
            release.set()
            for s in held:
                s.close()


def test_self_check_needs_the_token():
    with serving(hello) as srv:
        forged = b"THPWATCH-SELFCHECK " + b"0" * 64 + b"\n"
        assert exchange(srv.server_address[1], forged, timeout=2) == b""


@pytest.mark.parametrize("tls", [False, True])
def test_clients_that_leave_before_their_response_do_not_stop_the_server(tmp_path, tls):
    def slow(request):
        time.sleep(0.2)
        return httpmsg.text_response(200, "x" * 100000)

    context = client = None
    if tls:
        pki = make_pki(tmp_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*pki.issue("server", server=True))
        client = ssl.create_default_context(cafile=str(pki.ca_cert))
    with serving(slow, tls=(lambda: context) if tls else None) as srv:
        port = srv.server_address[1]
        for _ in range(5):
            raw = socket.create_connection(("127.0.0.1", port))
            sock = client.wrap_socket(raw, server_hostname="127.0.0.1") if client else raw
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            sock.close()  # with an RST: the response write fails
        time.sleep(0.5)
        assert status(get(port, "/", context=client)) == 200
