"""The Prometheus client of `top --prometheus` (thpwatch.promapi) against servers that are not
a healthy Prometheus: every failure is one clear PrometheusError, never a hang or a traceback."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from thpwatch import promapi
from thpwatch.history import CACHED_SNAPSHOTS, History, Target
from thpwatch.promapi import PrometheusAPI, PrometheusError

Reply = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def serving(reply: Reply) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            reply(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes) -> Reply:
    def reply(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


BAD_DATA = json.dumps(
    {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
).encode()


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (answer(400, BAD_DATA), "refused the query: bad_data: parse error at char 3"),
        (answer(503, b"upstream down"), "refused the query: HTTP 503"),
        (answer(200, b"<html>a login page</html>"), "did not answer like a Prometheus server"),
        (answer(200, b'{"status": "success"}'), "did not answer like a Prometheus server"),
        (answer(200, b'{"status": "success", "data": {"resultType": "scalar"}}'), "a vector"),
        (answer(200, b"[1, 2]"), "did not answer like a Prometheus server"),
    ],
)
def test_broken_answers(reply, says):
    with serving(reply) as url, pytest.raises(PrometheusError, match=says):
        PrometheusAPI(url).query("up", 0.0)


def test_an_answer_over_the_size_bound_is_refused(monkeypatch):
    monkeypatch.setattr(promapi, "MAX_RESPONSE", 1000)
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    at_bound = body.encode().ljust(1000)  # JSON allows trailing blanks
    over = at_bound + b" "
    with serving(answer(200, over)) as url, pytest.raises(PrometheusError, match="than 1000"):
        PrometheusAPI(url).query("up", 0.0)
    with serving(answer(200, at_bound)) as url:
        assert PrometheusAPI(url).query("up", 0.0) == []


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection, never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(PrometheusError, match=f"cannot reach Prometheus at {url}"):
            PrometheusAPI(url, timeout=0.5).query("up", 0.0)


def test_nothing_listening():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(PrometheusError, match="Connection refused"):
        PrometheusAPI(f"http://127.0.0.1:{port}").query("up", 0.0)


@pytest.mark.parametrize("url", ["localhost:9090", "ftp://h/", "http://", "/api/v1", ""])
def test_urls_that_are_not_http(url):
    with pytest.raises(ValueError, match="is not an http"):
        promapi.validate_url(url)


class CountingAPI:
    """Answers every instant query with one series; counts the queries."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []

    def query(self, expr: str, at: float) -> list[dict]:
        self.queries.append((expr, at))
        metric = {"__name__": "thpwatch_scrape_duration_seconds", "instance": "h:1", "job": "j"}
        return [{"metric": metric, "value": [at, "0.01"]}]


def test_snapshot_cache_is_bounded_and_reused():
    api = CountingAPI()
    history = History(api, Target("h:1"))  # type: ignore[arg-type]
    for scrape in range(CACHED_SNAPSHOTS + 5):
        history.snapshot(float(scrape))
    assert len(history._snapshots) == CACHED_SNAPSHOTS
    asked = len(api.queries)
    history.snapshot(float(CACHED_SNAPSHOTS + 4))  # cached: not asked again
    assert len(api.queries) == asked
    history.snapshot(0.0)  # the oldest was dropped: asked again
    assert len(api.queries) == asked + 1


def test_label_values_are_quoted_for_promql():
    target = Target('a"b\\c:1', 'job"x')
    assert target.selector("up") == 'up{instance="a\\"b\\\\c:1",job="job\\"x"}'
