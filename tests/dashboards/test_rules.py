"""The rules file passes promtool, and its unit tests cover every alert firing and not firing."""

from __future__ import annotations

import shutil
import subprocess

import yaml
from conftest import require

from dashboards import inventory

RULE_TESTS = sorted((inventory.HERE / "rules" / "tests").glob("*.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    require(path, "needs promtool (Debian package prometheus; scripts/setup installs it)")
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(inventory.RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(inventory.rules())} rules found" in result.stdout


def test_promtool_test_rules() -> None:
    assert RULE_TESTS, "dashboards/rules/tests/*.yml holds the rules' unit tests"
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_firing_and_quiet_cases() -> None:
    """A firing case expects alerts; a quiet case expects none, or feeds series for an instance
    that the expected alerts leave out."""
    firing, quiet = set(), set()
    for path in RULE_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            fed = {yaml_labels(s["series"]).get("instance") for s in group.get("input_series", [])}
            for case in group.get("alert_rule_test", []):
                alerted = {a["exp_labels"].get("instance") for a in case["exp_alerts"]}
                if case["exp_alerts"]:
                    firing.add(case["alertname"])
                if not case["exp_alerts"] or fed - alerted:
                    quiet.add(case["alertname"])
    alerts = set(inventory.alert_names())
    assert alerts - firing == set(), "alerts without a firing case"
    assert alerts - quiet == set(), "alerts without a not-firing case"


def yaml_labels(series: str) -> dict[str, str]:
    """Labels of a promtool series string: name{a="x", b="y"}."""
    inner = series[series.index("{") + 1 : series.rindex("}")] if "{" in series else ""
    pairs = (p.split("=", 1) for p in inner.split(",") if p.strip())
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


RUNBOOKS = inventory.HERE.parent / "docs" / "alerts"
RUNBOOK_SECTIONS = ("## What it means", "## Confirm with thpwatch", "## What to do")


def test_every_alert_links_its_runbook_page() -> None:
    for rule in inventory.rules():
        if "alert" not in rule:
            continue
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"/{rule['alert']}.md"), url
        page = RUNBOOKS / f"{rule['alert']}.md"
        assert page.is_file(), f"{rule['alert']}: no runbook {page}"
        text = page.read_text()
        assert text.startswith(f"# {rule['alert']}\n")
        for section in RUNBOOK_SECTIONS:
            assert section in text, f"{page.name}: no '{section}'"
        assert "thpwatch" in text.split("## Confirm with thpwatch")[1].split("## What to do")[0]
    pages = {p.stem for p in RUNBOOKS.glob("Thpwatch*.md")}
    assert pages == set(inventory.alert_names()), "a runbook without its alert, or the reverse"


def test_no_job_name_is_hard_coded(tmp_path) -> None:
    """The scrape job is the user's: a rules file generated for another selector names only it,
    passes promtool, and the dashboards take the job from their $job variable."""
    from dashboards import generate

    assert generate.main(["--out", str(tmp_path), "--targets", 'job="node-thp"',
                          "--runbook-base", "https://wiki.example/thp/"]) == 0  # fmt: skip
    rules_file = tmp_path / generate.RULES
    text = rules_file.read_text()
    assert 'job="thpwatch"' not in text and 'up{job="node-thp"}' in text
    assert "runbook_url: https://wiki.example/thp/ThpwatchDown.md" in text
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load(text)["groups"]
    assert all('"thpwatch"' not in r["expr"] for g in rules for r in g["rules"])
    for name in generate.DASHBOARDS:
        dashboard = (tmp_path / name).read_text()
        assert 'job=\\"thpwatch\\"' not in dashboard and 'job="thpwatch"' not in dashboard
        assert "$job" in dashboard
