"""The cached exposition writes, byte for byte, what prometheus_client's encoders write, for
every format a scraper can ask for, cold and warm, after values, series and families change,
and for hostile label values; promtool accepts it."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, require
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import CollectorRegistry

from thpwatch.assembly import build_sources
from thpwatch.catalog import catalog
from thpwatch.exporter.exposition import Exposition
from thpwatch.exporter.families import snapshot_families
from thpwatch.exporter.httpmsg import Request
from thpwatch.exporter.server import make_handler
from thpwatch.sampler import Sampler

ACCEPT = (
    None,
    "text/plain",
    "text/plain;version=0.0.4",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=underscores",
    "application/openmetrics-text",
    "application/openmetrics-text;version=1.0.0",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=dots",
    # what Prometheus 2.x sends
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
)


class Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def patched_families(root: Path = FIXTURES / "patched") -> list[Metric]:
    snap = Sampler(build_sources(root, lazy_pte=lambda: True)).snapshot()
    families = snapshot_families(snap, catalog())
    assert sum(len(f.samples) for f in families) > 300
    return families


def encoders() -> list[Any]:
    return [choose_encoder(a)[0] for a in ACCEPT]


@pytest.mark.parametrize("accept", ACCEPT)
def test_cold_and_warm_bodies_equal_the_encoders(accept: str | None) -> None:
    encoder, _ = choose_encoder(accept)
    families = patched_families()
    exposition = Exposition()
    for _ in range(2):
        assert exposition.encode(encoder, Fixed(families)) == encoder(Fixed(families))


def test_changed_values_series_and_families_stay_identical() -> None:
    exposition = Exposition()
    first = patched_families()
    for encoder in encoders():
        exposition.encode(encoder, Fixed(first))
    changed = []
    for f in first[:-3]:  # some families gone
        g = Metric(f.name, f.documentation, f.type, f.unit)
        for i, s in enumerate(f.samples):
            if i % 7 == 3:
                continue  # some series gone
            g.add_sample(s.name, dict(s.labels), s.value * 3 + 0.5 if i % 2 else float("nan"))
        changed.append(g)
    new = GaugeMetricFamily("thpwatch_new_gauge", "Came later.", labels=["x"])
    new.add_metric(["1"], 1e21)
    new.add_metric(["2"], float("inf"))
    changed.append(new)
    for encoder in encoders():
        assert exposition.encode(encoder, Fixed(changed)) == encoder(Fixed(changed))


def test_hostile_label_values_are_escaped_as_the_encoder_does() -> None:
    g = GaugeMetricFamily("thpwatch_test_names", "Odd \\ help\nwith a newline.", labels=["comm"])
    for comm in ('say "hi"', "back\\slash", "new\nline", "\\xff\\xfe", "ünï", "", "a,b=c}"):
        g.add_metric([comm], 1.0)
    for encoder in encoders():
        exposition = Exposition()
        assert exposition.encode(encoder, Fixed([g])) == encoder(Fixed([g]))
        assert exposition.encode(encoder, Fixed([g])) == encoder(Fixed([g]))


def test_what_the_cache_does_not_model_is_left_to_the_encoder() -> None:
    g = Metric("thpwatch_test_stamped", "With a timestamp.", "gauge")
    g.add_sample("thpwatch_test_stamped", {}, 2.0, timestamp=1234.5)
    c = Metric("thpwatch_test_events", "Counted.", "counter")
    c.add_sample("thpwatch_test_events_total", {}, 3.0)
    c.add_sample("thpwatch_test_events_created", {}, 1.0)  # moved to a family of its own
    for encoder in encoders():
        for families in ([g], [c]):
            assert Exposition().encode(encoder, Fixed(families)) == encoder(Fixed(families))
    custom = partial(lambda registry: b"custom")
    assert Exposition().encode(custom, Fixed([g])) == b"custom"


def test_the_cache_holds_only_the_last_scrapes_lines() -> None:
    exposition = Exposition()
    encoder = generate_latest
    for n in range(50):
        g = GaugeMetricFamily("thpwatch_test_churn", "Series that come and go.", labels=["pid"])
        for pid in range(n * 10, n * 10 + 10):
            g.add_metric([str(pid)], 1.0)
        exposition.encode(encoder, Fixed([g]))
    (lines,) = exposition._prefixes.values()
    assert len(lines) == 10


def test_promtool_accepts_the_body() -> None:
    promtool = shutil.which("promtool")
    require(promtool, "needs promtool (Debian package prometheus)")
    assert promtool
    exposition = Exposition()
    families = patched_families()
    body = exposition.encode(generate_latest, Fixed(families))
    body = exposition.encode(generate_latest, Fixed(families))
    check = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()


def wsgi_call(app: Any, accept: str | None, gzip_ok: bool, query: str) -> tuple:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": query}
    if accept:
        environ["HTTP_ACCEPT"] = accept
    if gzip_ok:
        environ["HTTP_ACCEPT_ENCODING"] = "gzip"
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = status, dict(headers)

    (body,) = app(environ, start_response)
    return int(got["status"].split()[0]), got["headers"]["Content-Type"], body


def handler_call(handle: Any, accept: str | None, gzip_ok: bool, query: str) -> tuple:
    headers = {"accept": accept} if accept else {}
    if gzip_ok:
        headers["accept-encoding"] = "gzip"
    response = handle(Request("GET", "/metrics", query, "HTTP/1.1", headers))
    return response.status, dict(response.headers)["Content-Type"], response.body


def test_the_served_metrics_negotiate_like_prometheus_client() -> None:
    from prometheus_client import make_wsgi_app

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed(patched_families()))
    ours, theirs = make_handler(registry), make_wsgi_app(registry)
    for accept in ACCEPT:
        for gz in (False, True):
            a = handler_call(ours, accept, gz, "")
            b = wsgi_call(theirs, accept, gz, "")
            assert a[:2] == b[:2]
            if gz:
                assert gzip.decompress(a[2]) == gzip.decompress(b[2])
            else:
                assert a[2] == b[2]
    query = "name[]=thpwatch_reserved_thp_pool_hpages"
    assert handler_call(ours, None, False, query) == wsgi_call(theirs, None, False, query)


def test_a_warm_scrape_formats_only_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first scrape of a format, no line goes through the encoder again (the bench
    measures what that saves; this checks it is what happens)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed(patched_families()))
    exposition = Exposition()
    for encoder in (generate_latest, partial(openmetrics.generate_latest)):
        first = exposition.encode(encoder, registry)

        def no_encoder(*args: Any) -> None:
            raise AssertionError("a warm scrape asked the encoder for a line")

        with monkeypatch.context() as m:
            m.setattr(exposition, "_prefix", no_encoder)
            assert exposition.encode(encoder, registry) == first
