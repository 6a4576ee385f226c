"""What the replay keys do (thpwatch.tui.replay.Replay), over a stand-in history: the frames
are the TUI test Snapshots, one scrape a second; the real-Prometheus and tmux tests drive the
same code end to end."""

from __future__ import annotations

import math

from rich.console import Console
from tui_render import text_of
from tui_snapshots import patched

from thpwatch.history import NoData, Target
from thpwatch.snapshot import Snapshot
from thpwatch.timespec import format_time
from thpwatch.tui.controls import handle_key
from thpwatch.tui.replay import LEFT, RIGHT, Replay, whole_seconds
from thpwatch.tui.screen import ViewState

T0 = 1_796_659_500.0


class FakeHistory:
    """A scrape every second from T0 on; nothing before T0 (the target was not scraped)."""

    target = Target("db1:10386")

    def __init__(self) -> None:
        self.asked: list[float] = []

    def pair_at(self, t: float, step: float) -> tuple[Snapshot | None, Snapshot]:
        self.asked.append(t)
        if t < T0:
            raise NoData(f"no data at {format_time(t)}")
        scrape = math.floor(t - T0)
        return self.scrape(scrape - step), self.scrape(scrape)

    def scrape(self, n: float) -> Snapshot | None:
        if n < 0:
            return None
        s = patched(n)
        return Snapshot(T0 + n, T0 + n, s.samples, s.statuses)


def replay(bounds: tuple[float, float] | None = (T0, T0 + 5)) -> tuple[Replay, ViewState]:
    state = ViewState()
    return Replay(FakeHistory(), "http://prom:9090", state, 1.0, T0, bounds), state  # type: ignore[arg-type]


def screen(r: Replay, state: ViewState, height: int | None = None) -> str:
    return text_of(r.render(Console(width=140), state, 140, height), 140)


def test_arrows_step_within_the_range():
    r, state = replay()
    assert r.handle_key(state, RIGHT[0]) and r.t == T0 + 1
    assert r.handle_key(state, RIGHT[1]) and r.t == T0 + 2  # application cursor mode
    assert r.handle_key(state, LEFT[0]) and r.t == T0 + 1
    for _ in range(10):
        r.handle_key(state, RIGHT[0])
    assert r.t == T0 + 5 and "end of the replay" in r.message
    assert f"at {format_time(T0 + 5)}" in screen(r, state)


def test_jump_prompt_edits_and_refuses_bad_times():
    r, state = replay()
    r.handle_key(state, "g")
    for key in "T0x":
        r.handle_key(state, key)
    r.handle_key(state, "\x7f")  # backspace
    assert r.prompt == "T0"
    assert "jump to: T0" in screen(r, state)
    r.handle_key(state, "\x1b")  # Esc: closed, nothing moved
    assert r.prompt is None and r.t == T0
    r.handle_key(state, "g")
    for key in str(T0 + 3):
        r.handle_key(state, key)
    r.handle_key(state, "\r")
    assert r.t == T0 + 3
    r.handle_key(state, "g")
    for key in "-1h\r":
        r.handle_key(state, key)
    assert r.t == T0 + 3 and "is outside --from" in r.message
    r.handle_key(state, "g")
    for key in "soon\r":
        r.handle_key(state, key)
    assert "'soon' is not a time" in r.message


def test_keys_for_the_view_pass_through():
    """s, /, ? and q are the live keys; while filtering, arrows belong to the filter."""
    r, state = replay()
    assert not r.handle_key(state, "s") and not r.handle_key(state, "q")
    assert not r.handle_key(state, "/")
    handle_key(state, "/")
    assert state.editing_filter and not r.handle_key(state, RIGHT[0]) and r.t == T0


def test_play_steps_to_the_end_and_stops():
    r, state = replay()
    r.handle_key(state, "p")
    assert "PLAYING" in screen(r, state)
    for _ in range(10):
        r.tick(state)
    assert r.t == T0 + 5 and not r.playing
    assert "PLAYING" not in screen(r, state)


def test_no_data_is_said_not_drawn():
    r, state = replay(bounds=None)
    r.move(-3)
    assert r.frame is None and r.failed
    text = screen(r, state)
    assert f"no data at {format_time(T0 - 3)}" in text and "THP by size" not in text
    r.move(+3)
    assert r.frame is not None and "THP by size" in screen(r, state)


def test_the_screen_fits_the_terminal_with_the_banner():
    r, state = replay()
    lines = screen(r, state, height=30).rstrip("\n").split("\n")
    assert len(lines) <= 30 and lines[0].startswith("replay  at")


def test_measured_scrape_intervals_read_as_configured():
    assert whole_seconds(1.007) == 1.0 and whole_seconds(14.98) == 15.0
    assert whole_seconds(0.25) == 0.25 and whole_seconds(None) is None
