"""`top -p PID` / `top -c CGROUP`: which process and cgroup rows the view keeps.

The BPF probes follow a process themselves (compiled with THPW_TGID); they cannot follow a
cgroup, so for -c only the tables narrow. A process belongs to a cgroup when one of its
/proc/<pid>/cgroup paths (v2, v1's memory controller) is the cgroup or below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.snapshot import Labels


def process_cgroups(root: Path, pid: int) -> tuple[str, ...]:
    """pid's cgroup paths in the hierarchies the cgroup table reads: v2's and v1 memory's (a
    hybrid host has both); () if the process is gone or its file unreadable."""
    try:
        text = (root / "proc" / str(pid) / "cgroup").read_text(errors="replace")
    except OSError:
        return ()
    paths = []
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if (hierarchy == "0" and controllers == "") or "memory" in controllers.split(","):
            paths.append(path)
    return tuple(paths)


def within(path: str, ancestor: str) -> bool:
    ancestor = ancestor.rstrip("/") or "/"
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")


def normalise_cgroup(path: str) -> str:
    """A cgroup as given on the command line: /sys/fs/cgroup/a/b, a/b and /a/b all mean /a/b."""
    path = path.strip()
    for mount in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        if path == mount or path.startswith(mount + "/"):
            path = path[len(mount) :]
            break
    return "/" + path.strip("/")


@dataclass(frozen=True)
class Follow:
    pid: int | None = None
    cgroup: str | None = None  # normalised: "/a/b"
    root: Path = Path("/")

    def __bool__(self) -> bool:
        return self.pid is not None or self.cgroup is not None

    def describe(self) -> str:
        parts = []
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.cgroup is not None:
            parts.append(f"cgroup {self.cgroup}")
        return " and ".join(parts)

    def keeps_process(self, labels: Labels) -> bool:
        pid = dict(labels).get("pid")
        if not self:
            return True
        if pid is None or not pid.isdigit():
            return False
        if self.pid is not None and int(pid) != self.pid:
            return False
        if self.cgroup is not None:
            return any(within(p, self.cgroup) for p in process_cgroups(self.root, int(pid)))
        return True

    def keeps_cgroup(self, labels: Labels) -> bool:
        """-c: the cgroup and its descendants; -p: the cgroups that contain the process."""
        path = dict(labels).get("cgroup")
        if path is None:
            return not self
        if self.cgroup is not None and not within(path, self.cgroup):
            return False
        if self.pid is not None:
            return any(within(own, path) for own in process_cgroups(self.root, self.pid))
        return True
