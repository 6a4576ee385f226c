"""PromQL as the dashboards and rules use it: Grafana variables expanded, metric names extracted.

Names come from a real PromQL parser (promql-parser, the Rust parser's Python binding), not from
a regex: function names, label names, by/without/on/ignoring lists, durations and string
literals are never mistaken for metric names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import promql_parser

# What each Grafana built-in or template variable becomes when a panel's query is run outside
# Grafana (tests, the doc renderer): match-everything for the selectors, a window that holds at
# least a few scrapes for the rate functions.
DEFAULT_VARIABLES: Mapping[str, str] = {
    "job": ".+",
    "instance": ".+",
    "size": ".+",
    "fault": ".+",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}

_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?::\w+)?\}|(?P<plain>[A-Za-z_]\w*))")
# Grafana's label_values(metric_selector, label) variable query: not PromQL, its first argument is.
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$")


class PromQLError(ValueError):
    """A query that does not parse; the message names the query."""


def expand_variables(expr: str, values: Mapping[str, str] = DEFAULT_VARIABLES) -> str:
    """Replace $var / ${var} / ${var:format} with values[var]; an unknown variable is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        if name not in values:
            raise PromQLError(f"unknown Grafana variable ${name} in query: {expr}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def variable_query_selector(query: str) -> str:
    """The PromQL selector inside a Grafana label_values(...) variable query."""
    match = _LABEL_VALUES.match(query)
    if not match:
        raise PromQLError(f"not a label_values(selector, label) variable query: {query}")
    return match.group("selector")


def parse(expr: str) -> promql_parser.Expr:
    """Parse expr (Grafana variables expanded first); PromQLError names the query on failure."""
    expanded = expand_variables(expr)
    try:
        return promql_parser.parse(expanded)
    except ValueError as e:
        raise PromQLError(f"{e} in query: {expr}") from None


def metric_names(expr: str) -> set[str]:
    """Every metric name the query selects, by name or by an exact __name__ matcher."""
    return {name for name, _ in selectors(expr)}


def selectors(expr: str) -> list[tuple[str, frozenset[str]]]:
    """(metric name, label names matched on) of each series selector in the query."""
    return list(_selectors(parse(expr)))


def _selectors(node: object) -> Iterator[tuple[str, frozenset[str]]]:
    if isinstance(node, promql_parser.VectorSelector):
        matchers = node.matchers.matchers
        labels = frozenset(m.name for m in matchers if m.name != "__name__")
        if node.name:
            yield node.name, labels
        for m in matchers:
            if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal:
                yield m.value, labels
        return
    for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None:
            yield from _selectors(child)
    for arg in getattr(node, "args", None) or ():
        yield from _selectors(arg)
