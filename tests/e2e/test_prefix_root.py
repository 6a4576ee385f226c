"""The host's /proc and /sys under a prefix, as deploy/daemonset.yaml mounts them in a container:
`thpwatch run --root <prefix>` with that manifest's arguments reads the same sources and loads
the same BPF probes as `thpwatch run` at /, while a fixture tree keeps BPF off.

The container is emulated in a private mount namespace (unshare): each hostPath volume the
manifest mounts under /host is bind-mounted (recursively, as runtimes do) under a prefix; the
volumes it mounts at their own paths (tracefs, /lib/modules, ...) are the test host's own."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require
from prometheus_client.parser import text_string_to_metric_families

MANIFEST = REPO / "deploy" / "daemonset.yaml"
HOST = Path("/host")


def container() -> dict:
    pod = yaml.safe_load(MANIFEST.read_text())["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return {"pod": pod, **c}


def host_mounts() -> list[tuple[str, Path]]:
    """(node path, path inside the container) of each hostPath volume."""
    c = container()
    volumes = {v["name"]: v for v in c["pod"]["volumes"]}
    return [
        (volumes[m["name"]]["hostPath"]["path"], Path(m["mountPath"]))
        for m in c["volumeMounts"]
        if "hostPath" in volumes[m["name"]]
    ]


def manifest_args(prefix: Path) -> list[str]:
    """The container's `thpwatch run` arguments with /host as prefix; without --listen (the
    harness listens on a free port of its own)."""
    args = list(container()["args"])
    assert args[0] == "run"
    i = args.index("--listen")
    del args[i : i + 2]
    return [str(prefix) if a == str(HOST) else a for a in args[1:]]


def in_container(prefix: Path) -> list[str]:
    """A wrapper that mounts the manifest's /host volumes under prefix in a mount namespace of
    its own, then execs the command."""
    mounts = []
    for node_path, inside in host_mounts():
        if inside.is_relative_to(HOST):
            target = shlex.quote(str(prefix / inside.relative_to(HOST)))
            if Path(node_path).is_dir():
                mounts.append(f"mkdir -p {target}")
            else:  # a file (/dev/kmsg) is bind-mounted onto a file
                mounts.append(f"mkdir -p $(dirname {target}) && touch {target}")
            mounts.append(f"mount --rbind {shlex.quote(node_path)} {target}")
        else:
            assert Path(node_path) == inside, "a volume at another path than the node's"
            assert inside.exists(), f"{inside}: the manifest mounts it from the node"
    script = " && ".join([*mounts, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def states(text: str) -> dict[tuple[str, str], str]:
    """{(metric, source or probe): state} from the one-per-state 0/1 series."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in ("thpwatch_source_state", "thpwatch_probe_state") and s.value == 1:
                key = s.labels.get("source") or s.labels.get("probe")
                out[(s.name, key)] = s.labels["state"]
    return out


@pytest.fixture
def live_states(root_user, thpwatch_exporter) -> dict[tuple[str, str], str]:
    at_root = thpwatch_exporter(*manifest_args(Path("/")), timeout=600)
    return states(at_root.metrics())


def test_the_manifest_mounts_give_the_same_sources_and_probes_as_root(
    live_states, thpwatch_exporter, tmp_path: Path
):
    require(os.path.exists("/usr/bin/unshare"), "needs unshare (util-linux)")
    prefix = tmp_path / "host"
    prefix.mkdir()
    exporter = thpwatch_exporter(*manifest_args(prefix), wrapper=in_container(prefix), timeout=600)
    got = states(exporter.metrics())
    assert got == live_states, exporter.stderr()
    tracepoints = [k for k, v in got.items() if k[0] == "thpwatch_probe_state" and v == "ok"]
    assert tracepoints, f"no probe attached under the prefix: {got}"
    assert got[("thpwatch_source_state", "cgroups")] == "ok"


def test_a_fixture_tree_keeps_bpf_off(thpwatch_exporter):
    exporter = thpwatch_exporter("--root", str(REPO / "tests/fixtures/patched"))
    got = states(exporter.metrics())
    assert not [k for k in got if k[0] == "thpwatch_probe_state"], got
    assert got[("thpwatch_source_state", "vmstat")] == "ok"
