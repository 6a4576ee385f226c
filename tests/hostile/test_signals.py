"""#17 item 8, with a real `thpwatch run`: signals whose default action kills a process must not
kill the exporter without STOPPING=1 and without detaching (SIGHUP, SIGQUIT: a clean stop, exit
0), and SIGUSR1/SIGUSR2 must not kill it at all."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES

from bench.daemons import Exporter, start_exporter, wait_until


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    started = start_exporter(tmp_path, "--root", str(FIXTURES / "patched"), "--no-bpf")
    yield started
    started.stop()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT])
def test_hangup_and_quit_stop_cleanly_with_stopping_1(exporter: Exporter, signum: int) -> None:
    exporter.signal(signum)
    exporter.wait_notification("STOPPING=1", timeout=20)
    assert exporter.process.wait(20) == 0
    assert f"received {signal.Signals(signum).name}, stopping" in exporter.stderr()
    assert "Traceback" not in exporter.stderr()


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGUSR2])
def test_user_signals_are_ignored_and_serving_goes_on(exporter: Exporter, signum: int) -> None:
    exporter.signal(signum)
    assert "thpwatch_source_state{" in exporter.metrics()  # still serving after the signal
    assert exporter.process.poll() is None
    said = f"received {signal.Signals(signum).name}: ignored"
    wait_until(lambda: said in exporter.stderr(), 10, "the signal logged")
    assert exporter.stop() == 0
