"""A real terminal for the TUI tests: a detached tmux session on its own socket, read with
capture-pane and driven with send-keys."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

EXIT_MARK = "thpwatch exited with status"


class TmuxSession:
    def __init__(self, tmux: str, width: int = 120, height: int = 40) -> None:
        self.tmux = tmux
        self.socket = f"thpwatch-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # one per test
        self.width, self.height = width, height

    def run(self, *args: str) -> str:
        cmd = [self.tmux, "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def start(self, argv: list[str], cwd: Path, after: str = "") -> None:
        """Run argv in the terminal; when it ends, its exit status (and the output of the
        shell command `after`) stays on the screen."""
        script = f"{shlex.join(argv)}; echo {EXIT_MARK} $?; {after or ':'}; sleep 600"
        self.run(
            "new-session", "-d", "-x", str(self.width), "-y", str(self.height),
            "-c", str(cwd), "sh", "-c", script,
        )  # fmt: skip

    def program_pid(self) -> int:
        """pid of the program started in the pane (the child of the pane's shell)."""
        shell = self.run("display-message", "-p", "#{pane_pid}").strip()
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        return int(children[0])

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", *keys)

    def resize(self, width: int, height: int) -> None:
        self.run("resize-window", "-x", str(width), "-y", str(height))

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the screen until check(screen) holds; fail with the last screen if it never does."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            if EXIT_MARK in screen:
                break  # the program ended: no point waiting
            time.sleep(0.2)
        raise AssertionError(f"never saw {what} (waited up to {timeout}s); screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"], capture_output=True, check=False
        )
