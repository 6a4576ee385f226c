"""Turns a spec.Dashboard into Grafana dashboard JSON with grafana-foundation-sdk's builders."""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import bargauge, heatmap, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards import spec

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
REFRESH = "30s"
GRID_COLUMNS = 24

_PANEL_BUILDERS = {
    "timeseries": timeseries.Panel,
    "stat": stat.Panel,
    "heatmap": heatmap.Panel,
    "table": table.Panel,
    "bargauge": bargauge.Panel,
}


def dashboard_json(d: spec.Dashboard) -> str:
    """The dashboard as the committed, stable JSON text (sorted keys, trailing newline).

    The built model is decoded once through the SDK's typed models (plugins registered) so the
    committed JSON is their canonical form, defaults included: what a Grafana 11.6 schema reads.
    """
    register_default_plugins()
    built = json.loads(json.dumps(build(d), cls=JSONEncoder))
    canonical = models.Dashboard.from_json(built)
    return json.dumps(canonical, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def build(d: spec.Dashboard) -> models.Dashboard:
    builder = (
        dash.Dashboard(d.title)
        .uid(d.uid)
        .description(d.description)
        .tags(list(d.tags))
        .editable()
        .refresh(REFRESH)
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dash.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus")
        )
    )
    for v in d.variables:
        builder.with_variable(_variable(v))
    builder.link(  # a drop-down of every dashboard tagged like this one, variables kept
        dash.DashboardLink("thpwatch dashboards")
        .type(models.DashboardLinkType.DASHBOARDS)
        .tags(list(d.tags))
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    )
    panel_id = 1
    y = 0
    for row in d.rows:
        builder.with_row(
            dash.Row(row.title).id(panel_id).grid_pos(models.GridPos(h=1, w=GRID_COLUMNS, x=0, y=y))
        )
        panel_id += 1
        y += 1
        x, row_height = 0, 0
        for p in row.panels:
            if x + p.width > GRID_COLUMNS:  # wrap: the panel does not fit beside the last one
                x, y, row_height = 0, y + row_height, 0
            builder.with_panel(_panel(p, panel_id, models.GridPos(h=p.height, w=p.width, x=x, y=y)))
            panel_id += 1
            x += p.width
            row_height = max(row_height, p.height)
        y += row_height
    return builder.build()


def _variable(v: spec.Variable) -> dash.QueryVariable:
    return (
        dash.QueryVariable(v.name)
        .label(v.label)
        .datasource(DATASOURCE)
        .query(v.query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(v.multi)
        .include_all(True)
        .all_value(".+")
    )


def _panel(p: spec.Panel, panel_id: int, position: models.GridPos) -> Any:
    builder = (
        _PANEL_BUILDERS[p.kind]()
        .id(panel_id)
        .title(p.title)
        .description(p.description)
        .datasource(DATASOURCE)
        .grid_pos(position)
    )
    for i, q in enumerate(p.queries):
        builder.with_target(_target(q, chr(ord("A") + i)))
    if p.kind == "heatmap":
        # Buckets are already counts per le from the query: no client-side bucketing.
        builder.calculate(False).y_axis(heatmap.YAxisConfig().unit(p.unit)).color(
            heatmap.HeatmapColorOptions()
            .mode(HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .steps(64)
            .exponent(0.5)
            .fill("dark-orange")
        )
        return builder
    builder.unit(p.unit)
    if p.max is not None:
        builder.max(p.max)
    if p.kind == "timeseries":
        builder.legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        ).fill_opacity(10).line_width(1)
    if p.kind == "table":
        builder.show_header(True).with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {column: True for column in p.hidden_columns}},
            )
        )
    if p.kind in ("stat", "bargauge"):
        builder.reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
    if p.kind == "stat":
        builder.graph_mode(common.BigValueGraphMode.AREA).color_mode(common.BigValueColorMode.VALUE)
    if p.kind == "bargauge":
        builder.orientation(common.VizOrientation.HORIZONTAL).display_mode(
            common.BarGaugeDisplayMode.GRADIENT
        )
    if p.thresholds:
        steps = [models.Threshold(value=None, color="green")]
        steps += [models.Threshold(value=value, color=colour) for value, colour in p.thresholds]
        builder.thresholds(
            dash.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(steps)
        )
    return builder


def _target(q: spec.Query, ref_id: str) -> prom.Dataquery:
    target = prom.Dataquery().expr(q.expr).ref_id(ref_id)
    if q.legend:
        target.legend_format(q.legend)
    if q.heatmap:
        target.format(PromQueryFormat.HEATMAP).legend_format("{{le}}")
    elif q.instant:
        target.instant().format(PromQueryFormat.TABLE)
    else:
        target.range()
    return target
