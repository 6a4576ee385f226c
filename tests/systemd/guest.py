"""Runs inside the systemd VM lane's guest (as thpwatch-lane.service, root, after boot) and
records what it sees, one JSON object per line on the second serial port (/dev/ttyS1), for the
host test (tests/systemd/test_systemd_lane.py) to assert. It judges nothing itself.

Steps: the service after boot (state, journal), open file descriptors, a barrier while the host
scrapes /metrics through hostfwd, probe states under the unit vs `thpwatch doctor --json` by
hand, kill -9, a probe blocked by a drop-in (journal priorities), kill -STOP (watchdog) of
that daemon, the unit as a dedicated user, `systemd-analyze security` of thpwatch and
node_exporter, upgrade to a newer build with an edited /etc/default/thpwatch, purge. Then it
powers the guest off.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

LANE = Path("/root/lane")
OUT = open("/dev/ttyS1", "w", buffering=1)  # noqa: SIM115 (the whole run writes to it)
DROPIN = Path("/run/systemd/system/thpwatch.service.d/lane.conf")
START_TIMEOUT_S = 1200  # bcc compiles every program under TCG: minutes


def emit(check: str, **data: object) -> None:
    OUT.write(json.dumps({"check": check, "uptime": uptime(), **data}) + "\n")


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def sh(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command in its own process group. One that outlives `timeout` is reported, not
    raised: returncode None, what it printed, and what the guest was doing then (processes,
    systemd's jobs); then its whole group is killed (a grandchild holding the output pipes
    would otherwise keep the step waiting for ever)."""
    with subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            return subprocess.CompletedProcess(args, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            seen = {
                name: subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
                for name, cmd in (
                    ("processes", ["ps", "-eo", "pid,ppid,pgid,stat,wchan:24,args"]),
                    ("jobs", ["systemctl", "list-jobs", "--no-pager"]),
                )
            }
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            emit("timeout", command=list(args), seconds=timeout, **seen)
            return subprocess.CompletedProcess(
                args, None, out, f"{err}\n[killed after {timeout} s]"
            )


def show(prop: str) -> str:
    return sh("systemctl", "show", "-p", prop, "--value", "thpwatch").stdout.strip()


def wait_active(not_pid: int = 0, timeout: float = START_TIMEOUT_S) -> dict[str, object]:
    """Wait until thpwatch is active with a main pid other than not_pid (or gives up)."""
    start = time.monotonic()
    while True:
        state = sh("systemctl", "is-active", "thpwatch").stdout.strip()
        pid = int(show("MainPID") or 0)
        if state == "active" and pid not in (0, not_pid):
            break
        if time.monotonic() - start > timeout:
            break
        time.sleep(1)
    return {"state": state, "pid": pid, "seconds": round(time.monotonic() - start, 1)}


def cursor() -> str:
    out = sh("journalctl", "-n", "0", "--show-cursor", "--no-pager").stdout
    return out.strip().rsplit("cursor: ", 1)[-1]


def journal(*args: str) -> list[dict[str, str]]:
    out = sh("journalctl", "--no-pager", "-o", "json", "-u", "thpwatch", *args).stdout
    keep = ("MESSAGE", "PRIORITY", "_PID", "__MONOTONIC_TIMESTAMP", "_COMM", "MESSAGE_ID")
    lines = []
    for line in out.splitlines():
        entry = json.loads(line)
        if isinstance(entry.get("MESSAGE"), list):  # journald stores non-UTF-8 as bytes
            entry["MESSAGE"] = bytes(entry["MESSAGE"]).decode(errors="replace")
        lines.append({k: str(entry.get(k, "")) for k in keep})
    return lines


def metric_states(text: str) -> dict[str, str]:
    """{"probe madvise": "ok", "source bpf": "ok", ...} from a /metrics page."""
    states = {}
    for m in re.finditer(r"^thpwatch_(probe|source)_state\{([^}]*)\} 1(?:\.0)?$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        states[f"{m.group(1)} {labels[m.group(1)]}"] = labels["state"]
    return states


def scrape() -> str:
    with urllib.request.urlopen("http://127.0.0.1:10386/metrics", timeout=60) as r:
        return r.read().decode()


def bpf_prog_ids() -> set[int]:
    """Ids of every BPF program loaded in the kernel (bpftool)."""
    out = sh("bpftool", "prog", "show", "--json").stdout
    return {p["id"] for p in json.loads(out or "[]")}


def progs_of(pid: int) -> list[int]:
    """Ids of the BPF programs a process holds open (its fdinfo: "prog_id:" lines; bookworm's
    bpftool is built without the skeletons that list owning pids)."""
    ids = set()
    for info in Path(f"/proc/{pid}/fdinfo").glob("*"):
        try:
            text = info.read_text()
        except OSError:
            continue
        ids.update(int(m) for m in re.findall(r"^prog_id:\s+(\d+)$", text, re.M))
    return sorted(ids)


def step_boot() -> None:
    active = wait_active()
    emit("boot", kernel=os.uname().release, **active, journal=journal("-b"))
    pid = int(active["pid"])
    if pid:
        limits = Path(f"/proc/{pid}/limits").read_text()
        (nofile,) = [ln for ln in limits.splitlines() if ln.startswith("Max open files")]
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        caps = {ln.split(":")[0]: ln.split()[1] for ln in status if ln.startswith("Cap")}
        emit("fds", open=len(os.listdir(f"/proc/{pid}/fd")), limit=nofile.split()[3], caps=caps)


def step_host_barrier() -> None:
    """The host scrapes /metrics through hostfwd, then connects to 10387 to let us go on."""
    with socket.create_server(("0.0.0.0", 10387)) as server:
        server.settimeout(900)
        emit("wait_host")
        try:
            conn, peer = server.accept()
            conn.close()
            emit("host_done", peer=peer[0])
        except TimeoutError:
            emit("host_done", peer=None)


def step_states() -> None:
    unit = metric_states(scrape())
    done = sh("thpwatch", "doctor", "--json", timeout=1800)
    doctor = {}
    try:
        for s in json.loads(done.stdout)["sources"]:
            doctor[f"{s['kind']} {s['name']}"] = s["state"]
    except (ValueError, KeyError):
        pass
    emit("states", unit=unit, doctor=doctor, doctor_rc=done.returncode, stderr=done.stderr[-2000:])


def step_kill9() -> None:
    pid = int(show("MainPID"))
    before = progs_of(pid)
    os.kill(pid, signal.SIGKILL)
    after = wait_active(not_pid=pid)
    left = before
    for _ in range(20):  # programs are freed after their last fd closes (RCU): give it time
        left = sorted(bpf_prog_ids() & set(before))
        if not left:
            break
        time.sleep(1)
    emit(
        "kill9",
        old_pid=pid,
        progs_before=before,
        progs_left=left,
        restarted=after,
        progs_new=progs_of(int(after["pid"])),
        n_restarts=show("NRestarts"),
    )


def step_watchdog() -> None:
    pid = int(show("MainPID"))
    mark = cursor()
    os.kill(pid, signal.SIGSTOP)
    after = wait_active(not_pid=pid)
    messages = [e["MESSAGE"] for e in journal("--after-cursor", mark)]
    states = metric_states(scrape()) if after["state"] == "active" else {}
    emit("watchdog", old_pid=pid, restarted=after, messages=messages, states=states)


def step_blocked_probe() -> None:
    """Without CAP_PERFMON the tracepoint probes cannot attach: blocked, at warning priority.
    The drop-in is gone when this returns; the watchdog step's restart brings the unit back."""
    seen = restart_with_dropin(
        "[Service]\nCapabilityBoundingSet=\nCapabilityBoundingSet=CAP_BPF CAP_SYSLOG\n"
    )
    seen.pop("status")
    emit("blocked", **seen)


def restart_with_dropin(text: str) -> dict[str, object]:
    """Restart thpwatch with a runtime drop-in; record its states and warnings; remove the
    drop-in (the running daemon keeps it until its next start: every start compiles the probes,
    minutes under TCG, so the lane's next step restarts it rather than a restart of its own)."""
    DROPIN.parent.mkdir(parents=True, exist_ok=True)
    DROPIN.write_text(text)
    sh("systemctl", "daemon-reload")
    pid = int(show("MainPID"))
    mark = cursor()
    sh("systemctl", "restart", "--no-block", "thpwatch")
    after = wait_active(not_pid=pid)
    warnings = sh(
        "journalctl", "--no-pager", "-p", "warning", "-u", "thpwatch", "--after-cursor", mark
    ).stdout.splitlines()
    states = metric_states(scrape()) if after["state"] == "active" else {}
    status = Path(f"/proc/{after['pid']}/status").read_text() if after["pid"] else ""
    DROPIN.unlink()
    sh("systemctl", "daemon-reload")
    return {"restarted": after, "warnings": warnings, "states": states, "status": status}


def step_dedicated_user() -> None:
    """Would a dedicated user with the same three capabilities do? (DynamicUser: a transient
    system user, nothing to clean up.) The upgrade step's restart brings the unit back."""
    seen = restart_with_dropin(
        "[Service]\nDynamicUser=yes\nAmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYSLOG\n"
    )
    uid = [ln.split()[1] for ln in seen.pop("status").splitlines() if ln.startswith("Uid:")]
    emit("dedicated_user", uid=uid, **seen)


def step_security() -> None:
    scores = {}
    for unit in ("thpwatch", "prometheus-node-exporter"):
        out = sh("systemd-analyze", "security", "--no-pager", unit).stdout
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\S+)", out)
        scores[unit] = [m.group(1), m.group(2)] if m else out[-500:]
    emit("security", scores=scores, systemd=sh("systemctl", "--version").stdout.split()[1])


def step_upgrade() -> None:
    default = Path("/etc/default/thpwatch")
    edited = default.read_text().replace('ARGS="', 'ARGS="--log-level info ') + "# lane edit\n"
    default.write_text(edited)
    (newer,) = sorted(LANE.glob("newer/thpwatch_*_all.deb"))
    pid = int(show("MainPID"))
    # Not --no-download: bookworm's apt then refuses a local .deb ("Pathname to install is not
    # absolute"); every dependency is installed, so nothing is fetched.
    done = sh("apt-get", "install", "-y", str(newer), timeout=300)
    after = wait_active(not_pid=pid)
    emit(
        "upgrade",
        rc=done.returncode,
        output=(done.stdout + done.stderr)[-3000:],
        version=sh("dpkg-query", "-W", "-f=${Version}", "thpwatch").stdout,
        wanted=newer.name.split("_")[1],
        default_kept=default.read_text() == edited,
        old_pid=pid,
        restarted=after,
        cmdline=Path(f"/proc/{after['pid']}/cmdline").read_bytes().decode().split("\0")
        if after["pid"]
        else [],
    )


def step_purge() -> None:
    files = sh("dpkg", "-L", "thpwatch").stdout.split()
    progs = progs_of(int(show("MainPID") or 0))
    shared = {str(p) for p in Path("/").iterdir()} | {"/usr/share", "/usr/lib", "/usr/bin"}
    done = sh("apt-get", "purge", "-y", "thpwatch", timeout=300)
    owned = [f for f in files if f not in shared and (not Path(f).is_dir() or "thpwatch" in f)]
    leftovers = [
        f
        for f in owned
        + [
            "/etc/default/thpwatch",
            "/var/cache/thpwatch",
            "/etc/systemd/system/multi-user.target.wants/thpwatch.service",
            "/var/lib/systemd/deb-systemd-helper-enabled/thpwatch.service.dsh-also",
            "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/thpwatch.service",
        ]
        if os.path.lexists(f)
    ]
    emit(
        "purge",
        rc=done.returncode,
        files=len(owned),
        leftovers=leftovers,
        unit_known=sh("systemctl", "cat", "thpwatch").returncode == 0,
        load_state=show("LoadState"),
        user=sh("getent", "passwd", "thpwatch").stdout,
        progs_before=progs,
        progs_left=sorted(bpf_prog_ids() & set(progs)),
        processes=sh("pgrep", "-f", "/usr/bin/thpwatch").stdout.split(),
    )


def main() -> None:
    for step in (
        step_boot,
        step_host_barrier,
        step_states,
        step_kill9,
        step_blocked_probe,
        step_watchdog,
        step_dedicated_user,
        step_security,
        step_upgrade,
        step_purge,
    ):
        start = time.monotonic()
        emit("step_start", step=step.__name__)
        try:
            step()
        except Exception:
            emit("crash", step=step.__name__, traceback=traceback.format_exc())
        emit("step_seconds", step=step.__name__, seconds=round(time.monotonic() - start, 1))
    emit("done")
    OUT.flush()
    sh("systemctl", "poweroff", "--no-block")


if __name__ == "__main__":
    sys.exit(main())
