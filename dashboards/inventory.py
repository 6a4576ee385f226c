"""Every PromQL expression the committed dashboards and rules files contain, read from the files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from dashboards.promql import variable_query_selector

HERE = Path(__file__).resolve().parent
DASHBOARD_FILES = (HERE / "host.json", HERE / "fleet.json")
RULES_FILE = HERE / "rules" / "thpwatch.rules.yml"


@dataclass(frozen=True)
class Expression:
    where: str  # "host.json: panel 'Pool utilisation' A" or "rule ThpwatchDown"
    expr: str


def dashboard_expressions(path: Path) -> list[Expression]:
    """Panel targets and template-variable selectors of one dashboard JSON file."""
    model = json.loads(path.read_text())
    found = [
        Expression(f"{path.name}: variable ${v['name']}", variable_query_selector(v["query"]))
        for v in model.get("templating", {}).get("list", [])
        if v.get("type") == "query"
    ]
    for panel in model["panels"]:
        for target in panel.get("targets", []):
            where = f"{path.name}: panel {panel['title']!r} {target['refId']}"
            found.append(Expression(where, target["expr"]))
    return found


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]


def rule_expressions() -> list[Expression]:
    return [Expression(f"rule {r.get('alert') or r['record']}", r["expr"]) for r in rules()]


def recording_rule_names() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def alert_names() -> list[str]:
    return [r["alert"] for r in rules() if "alert" in r]
