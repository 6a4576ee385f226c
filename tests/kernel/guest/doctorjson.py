"""`thpwatch doctor --json` as the in-guest tests read it."""

from __future__ import annotations

import json
from typing import Any

from thpcli import thpwatch


def doctor() -> dict[str, Any]:
    """doctor's report without its BPF attach trials: those are the VM lane's subject, and each
    bcc compile costs about a minute under TCG."""
    done = thpwatch("doctor", "--json", "--no-bpf")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip(), f"doctor --json printed nothing (exit {done.returncode})"
    return json.loads(done.stdout)


def series(report: dict[str, Any], key: str) -> dict[str, Any]:
    """One patch series' verdict and evidence ("reserved_thp", "pud_thp", "lazy_pte", ...)."""
    for feature in report["kernel"]["series"]:
        if feature["key"] == key:
            return feature
    raise AssertionError(f"doctor reports no series {key}: {report['kernel']['series']}")


def evidence_saying(feature: dict[str, Any], says: str, *words: str) -> list[dict[str, str]]:
    """The evidence entries that conclude `says` and mention every one of `words`."""
    return [
        e
        for e in feature["evidence"]
        if e["says"] == says and all(w in e["check"] + " " + e["found"] for w in words)
    ]


def findings_mentioning(report: dict[str, Any], text: str) -> list[dict[str, str]]:
    return [f for f in report["findings"] if text in f["problem"] + " " + f["fix"]]


def where_mentioned(report: dict[str, Any], text: str) -> list[str]:
    """Every place in doctor's JSON whose text contains `text` (for failure messages)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif text in str(node):
            found.append(f"{path}: {node}")

    walk(report, "doctor")
    return found
