"""Grafana provisioning files: a Prometheus datasource and a file provider for the dashboards."""

from __future__ import annotations

import json

import yaml

from dashboards import inventory

PROVISIONING = inventory.HERE / "provisioning"


def test_datasource_is_the_prometheus_the_dashboards_ask_for() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "thpwatch.yml").read_text())
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    for path in inventory.DASHBOARD_FILES:
        variables = json.loads(path.read_text())["templating"]["list"]
        (datasource,) = [v for v in variables if v["type"] == "datasource"]
        assert datasource["query"] == source["type"], path.name


def test_dashboard_provider_reads_json_files_into_a_folder() -> None:
    config = yaml.safe_load((PROVISIONING / "dashboards" / "thpwatch.yml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file" and provider["folder"] == "thpwatch"
    assert provider["options"]["path"].startswith("/")
