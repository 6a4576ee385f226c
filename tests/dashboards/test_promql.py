"""Metric names are extracted by parsing PromQL, never by guessing at words."""

from __future__ import annotations

import pytest

from dashboards.promql import PromQLError, expand_variables, metric_names, variable_query_selector


def test_names_skip_functions_labels_keywords_durations_and_strings() -> None:
    expr = (
        'sum by (size, instance) (rate(thpwatch_a_total{size=~"$size", job="rate"}'
        "[$__rate_interval] offset 5m)) / on (instance) group_left (size) "
        "max without (le) (histogram_quantile(0.99, thpwatch_b_seconds_bucket)) > bool 0.5"
        ' or absent(up{job="thpwatch"}) unless label_replace(c, "d", "$1", "e", "(.*)")'
        ' and {__name__="thpwatch_d", x="y"} and max_over_time(thpwatch_e[1h:1m])'
    )
    assert metric_names(expr) == {
        "thpwatch_a_total",
        "thpwatch_b_seconds_bucket",
        "up",
        "c",
        "thpwatch_d",
        "thpwatch_e",
    }


def test_unparsable_query_is_an_error_naming_it() -> None:
    with pytest.raises(PromQLError, match=r"rate\(x\[5m\]"):
        metric_names("rate(x[5m]")


def test_unknown_grafana_variable_is_an_error() -> None:
    with pytest.raises(PromQLError, match=r"\$nope"):
        expand_variables('x{a=~"$nope"}')
    assert expand_variables('x{a=~"${size:regex}"}[$__rate_interval]') == 'x{a=~".+"}[1m]'


def test_label_values_variable_query() -> None:
    assert variable_query_selector('label_values(m{job=~"$job"}, instance)') == 'm{job=~"$job"}'
    with pytest.raises(PromQLError, match="label_values"):
        variable_query_selector("query_result(up)")
