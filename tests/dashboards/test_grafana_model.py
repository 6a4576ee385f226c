"""The dashboards are valid Grafana 11.6 dashboards by grafana-foundation-sdk's typed models.

No Grafana server can be installed from the package registries reachable here (Debian has no
grafana package; PyPI's and npm's "grafana" packages are client libraries, not the server), so
the JSON is validated against the SDK's models, which are generated from Grafana's own schema:
decoding must type every panel's options and every target, and re-encoding must give back the
committed JSON byte for byte (no unknown, misspelt or dropped field).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard, prometheus

from dashboards import inventory
from dashboards.build import DATASOURCE_VARIABLE
from dashboards.promql import parse

register_default_plugins()
FILES = inventory.DASHBOARD_FILES
GRID_COLUMNS = 24


def load(path: Path) -> tuple[dict, dashboard.Dashboard]:
    raw = json.loads(path.read_text())
    return raw, dashboard.Dashboard.from_json(raw)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_round_trips_through_the_typed_model(path: Path) -> None:
    raw, model = load(path)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == raw


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_panels_have_typed_options_and_prometheus_targets(path: Path) -> None:
    _, model = load(path)
    panels = [p for p in model.panels if isinstance(p, dashboard.Panel)]
    assert panels
    for p in panels:
        assert p.options is not None and not isinstance(p.options, dict), p.title
        assert type(p.options).__module__.endswith(f".{p.type_val}"), (p.title, p.type_val)
        assert p.datasource.uid == f"${{{DATASOURCE_VARIABLE}}}", p.title
        assert p.description, f"panel {p.title!r} explains itself"
        assert p.targets, p.title
        ref_ids = [t.ref_id for t in p.targets]
        assert len(set(ref_ids)) == len(ref_ids), p.title
        for t in p.targets:
            assert isinstance(t, prometheus.Dataquery), p.title
            parse(t.expr)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_layout_ids_unique_and_panels_do_not_overlap(path: Path) -> None:
    _, model = load(path)
    ids = [p.id_val for p in model.panels]
    assert len(set(ids)) == len(ids)
    taken: set[tuple[int, int]] = set()
    for p in model.panels:
        g = p.grid_pos
        assert g.x >= 0 and g.x + g.w <= GRID_COLUMNS, p.title
        cells = {(x, y) for x in range(g.x, g.x + g.w) for y in range(g.y, g.y + g.h)}
        assert not cells & taken, f"panel {p.title!r} overlaps another"
        taken |= cells


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_template_variables(path: Path) -> None:
    _, model = load(path)
    names = [v.name for v in model.templating.list_val]
    assert names == [DATASOURCE_VARIABLE, "job", "instance", "size"]
