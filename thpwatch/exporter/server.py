"""The HTTP(S) endpoint: /metrics from a registry, a landing page on /, 404 elsewhere."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.registry import CollectorRegistry

import thpwatch
from thpwatch.exporter.exposition import wsgi_app

log = logging.getLogger(__name__)

LANDING_PAGE = f"""<!DOCTYPE html>
<html><head><title>thpwatch exporter</title></head>
<body>
<h1>thpwatch exporter</h1>
<p>Transparent huge page metrics (Reserved THP, PUD THP, lazy PTE split, PMD swap-in).</p>
<p><a href="/metrics">Metrics</a></p>
<p>thpwatch {thpwatch.__version__}</p>
</body></html>
""".encode()


class ServeError(Exception):
    """The endpoint cannot be opened: the message says which address or file and why."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # many scrapers at once must queue, not be refused
    allow_reuse_address = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_app(registry: CollectorRegistry) -> WsgiApp:
    metrics = wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [LANDING_PAGE]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics\n"]

    return app


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as e:
        raise ServeError(f"cannot load TLS certificate {cert} / key {key}: {e}") from None
    return context


def bind(
    registry: CollectorRegistry,
    host: str,
    port: int,
    tls: ssl.SSLContext | None = None,
) -> WSGIServer:
    """Open the listening socket (not serving yet); raise ServeError when it cannot bind."""
    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    try:
        server = make_server(
            host or "0.0.0.0", port, make_app(registry), server_class, handler_class=_QuietHandler
        )
    except OSError as e:
        raise ServeError(f"cannot listen on {display(host, port)}: {e.strerror or e}") from None
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    return server


def start(server: WSGIServer) -> threading.Thread:
    """Serve in a background thread; connections made since bind() waited in the backlog."""
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread


def display(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
