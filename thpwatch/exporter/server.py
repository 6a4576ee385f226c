"""The endpoint: /metrics from a registry, a landing page on /, 404 elsewhere; GET and HEAD.

Serving itself (connections, limits, TLS) is httpserver's; access control is webconfig's.
"""

from __future__ import annotations

import gzip
import logging
import threading
from pathlib import Path
from urllib.parse import parse_qs

from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.registry import CollectorRegistry

import thpwatch
from thpwatch.exporter import httpmsg, webconfig
from thpwatch.exporter.exposition import Exposition
from thpwatch.exporter.httpserver import HttpServer, Limits

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


def make_handler(registry: CollectorRegistry, access: webconfig.Live | None = None):
    exposition = Exposition()  # this registry's lines, kept between scrapes

    def handle(request: httpmsg.Request) -> httpmsg.Response:
        if access is not None:
            try:
                allowed = access.authorized(request.header("authorization"))
            except webconfig.AuthBusy:
                response = httpmsg.text_response(429, "busy checking credentials, retry\n")
                response.headers.append(("Retry-After", "1"))
                return response
            if access.error:
                return httpmsg.text_response(500, "server configuration error\n")
            if allowed is False:
                response = httpmsg.text_response(401, "Unauthorized\n")
                response.headers.append(("WWW-Authenticate", 'Basic realm="thpwatch"'))
                return response
        if request.path == "/metrics":
            return metrics(registry, request, exposition)
        if request.path == "/":
            return httpmsg.Response(
                200, LANDING_PAGE, [("Content-Type", "text/html; charset=utf-8")]
            )
        return httpmsg.text_response(404, "not found: try /metrics\n")

    return handle


def metrics(
    registry: CollectorRegistry, request: httpmsg.Request, exposition: Exposition
) -> httpmsg.Response:
    try:
        encoder, content_type = choose_encoder(request.header("accept"))
    except Exception:  # prometheus_client fails on e.g. "version=abc": serve the default
        encoder, content_type = generate_latest, "text/plain; version=0.0.4; charset=utf-8"
    names = parse_qs(request.query).get("name[]")
    body = exposition.encode(encoder, registry.restricted_registry(names) if names else registry)
    headers = [("Content-Type", content_type)]
    if "gzip" in request.header("accept-encoding").lower():
        body = gzip.compress(body, compresslevel=6)
        headers.append(("Content-Encoding", "gzip"))
    return httpmsg.Response(200, body, headers)


def web_access(
    config_file: Path | None, cert: Path | None, key: Path | None
) -> webconfig.Live | None:
    """The access settings from --web.config.file or --tls-cert/--tls-key (not both)."""
    if config_file is not None and (cert is not None or key is not None):
        raise ServeError("use either --web.config.file or --tls-cert/--tls-key, not both")
    try:
        if config_file is not None:
            return webconfig.Live.from_file(config_file)
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ServeError("TLS needs both --tls-cert and --tls-key")
        return webconfig.Live.from_files(cert, key)
    except webconfig.WebConfigError as e:
        raise ServeError(str(e)) from None


def bind(
    registry: CollectorRegistry,
    host: str,
    port: int,
    access: webconfig.Live | None = None,
    limits: Limits | None = None,
) -> HttpServer:
    """Open the listening socket (not serving yet); raise ServeError when it cannot bind."""
    tls = access.ssl_context if access is not None and access.tls else None
    try:
        return HttpServer(host, port, make_handler(registry, access), limits, tls)
    except OSError as e:
        raise ServeError(f"cannot listen on {display(host, port)}: {e.strerror or e}") from None


def start(server: HttpServer) -> threading.Thread:
    """Serve in a background thread; connections made since bind() waited in the backlog."""
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread


def display(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
