"""`thpwatch top --prometheus URL --instance HOST:PORT`: the live screen rebuilt from history.

A Replay is the TUI's feed when the Snapshots come from Prometheus (thpwatch.history) instead
of the kernel: it holds a time, shows the frame of the step ending there (rates over the step),
moves by a step with ←/→, jumps to a typed time with `g`, and plays forward with `p`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console, Group, RenderableType
from rich.text import Text

from thpwatch.commands import source_options
from thpwatch.history import NOT_RECORDED_HINTS, History, NoData, Target, not_recorded
from thpwatch.promapi import PrometheusAPI, PrometheusError, validate_url
from thpwatch.timespec import (
    DURATION_FORMATS,
    TIME_FORMATS,
    TimeSpecError,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
)
from thpwatch.tui.controls import BACKSPACES, ENTERS
from thpwatch.tui.events import EventLog
from thpwatch.tui.fmt import ABSENT_STYLE
from thpwatch.tui.frame import Frame
from thpwatch.tui.keys import ESC
from thpwatch.tui.screen import ViewState, height_of, render_screen

LEFT = ("\x1b[D", "\x1bOD")  # the arrow keys, in normal and application cursor mode
RIGHT = ("\x1b[C", "\x1bOC")
JUMP = "g"
PLAY = "p"  # live top's pause key: a replay is paused until played
BPF_NOT_RECORDED = "not recorded (the exporter ran without BPF: --no-bpf or --root)"
PLAY_PERIOD = 1.0  # wall-clock seconds per step while playing
DEFAULT_STEP = 15.0  # when the scrape interval cannot be found (Prometheus' default)
# Options of live `top` that mean nothing to a replay: given with --prometheus, an error.
LIVE_ONLY = ("interval", "pid", "cgroup", *source_options.NAMES)
REPLAY_OPTIONS = ("prometheus", "instance", "job", "at", "since", "until", "step")


def replay_options(command: Any) -> Any:
    """The options of `top` that replay history from Prometheus."""
    options = (
        click.option(
            "--prometheus",
            metavar="URL",
            help="Replay from this Prometheus server (http://host:9090) instead of reading "
            "the kernel: the same screen at a past time. Needs --instance.",
        ),
        click.option("--instance", metavar="HOST:PORT", help="The thpwatch target to replay."),
        click.option("--job", help="Its job label, when several jobs scrape that instance."),
        click.option("--at", metavar="TIME", help="Replay the frame at TIME (default: now)."),
        click.option("--from", "since", metavar="TIME", help="Replay from TIME (with --to)."),
        click.option("--to", "until", metavar="TIME", help="…up to TIME (default: now)."),
        click.option(
            "--step",
            metavar="DURATION",
            help="Replay step: rates are over it, ←/→ move by it (default: the scrape interval).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class ReplayRequest:
    url: str
    target: Target
    start: float  # the first frame's time
    bounds: tuple[float, float] | None  # --from/--to
    step: float | None


def pop_replay_request(ctx: click.Context, kw: dict[str, Any]) -> ReplayRequest | None:
    """The replay the command line asks for (consuming its options), or None for live top."""
    given = {name: kw.pop(name) for name in REPLAY_OPTIONS}
    url = given["prometheus"]
    if url is None:
        extra = [name for name, value in given.items() if value is not None]
        if extra:
            flag = {"since": "from", "until": "to"}.get(extra[0], extra[0])
            raise click.UsageError(f"--{flag} needs --prometheus URL")
        return None
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)  # type: ignore[arg-type]
        if param.name in LIVE_ONLY and source is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"{param.opts[0]} is for live top, not --prometheus")
    try:
        url = validate_url(url)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--prometheus") from None
    if not given["instance"]:
        raise click.UsageError("--prometheus needs --instance HOST:PORT (the thpwatch target)")
    if given["at"] is not None and (given["since"] or given["until"]):
        raise click.UsageError("--at is one time; --from/--to a range: not both")
    if given["until"] is not None and given["since"] is None:
        raise click.UsageError("--to needs --from")
    now = time.time()
    step = None if given["step"] is None else duration_option(given["step"], "--step")
    target = Target(given["instance"], given["job"])
    if given["since"] is None:
        at = now if given["at"] is None else time_option(given["at"], "--at", now)
        return ReplayRequest(url, target, at, None, step)
    start = time_option(given["since"], "--from", now)
    end = now if given["until"] is None else time_option(given["until"], "--to", now)
    if end <= start:
        raise click.BadParameter(f"{format_time(end)} is not after --from", param_hint="--to")
    return ReplayRequest(url, target, start, (start, end), step)


def time_option(text: str, flag: str, now: float) -> float:
    try:
        return parse_time(text, now)
    except TimeSpecError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None


def duration_option(text: str, flag: str) -> float:
    try:
        return parse_duration(text)
    except TimeSpecError as e:
        raise click.BadParameter(f"{e} ({DURATION_FORMATS})", param_hint=flag) from None


class ReplayFailed(click.ClickException):
    """Prometheus unreachable or without the data asked for: exit 1 with the message."""

    exit_code = 1


def open_replay(request: ReplayRequest, state: ViewState) -> Replay:
    """Check Prometheus has the target's data, find the step, load the first frame."""
    history = History(PrometheusAPI(request.url), request.target)
    first, last = request.bounds or (request.start, request.start)
    try:
        history.check(first, last)
        step = request.step or whole_seconds(history.scrape_interval(last)) or DEFAULT_STEP
    except (PrometheusError, NoData) as e:
        raise ReplayFailed(str(e)) from None
    return Replay(history, request.url, state, step, request.start, request.bounds)


def whole_seconds(interval: float | None) -> float | None:
    """A measured scrape interval (1.007 s: scrapes jitter) as configured: whole seconds."""
    if interval is None:
        return None
    return float(max(1, round(interval))) if interval >= 0.5 else interval


class Replay:
    """The TUI feed over history: a time, the frame ending there, and the keys that move it."""

    def __init__(
        self,
        history: History,
        url: str,
        state: ViewState,
        step: float,
        at: float,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        self.history, self.url, self.state, self.step = history, url, state, step
        self.bounds = bounds
        self.t = at
        self.frame: Frame | None = None
        self.events = EventLog()
        self.message = ""  # why there is no frame, or why a key did nothing
        self.prompt: str | None = None  # the jump-to-time prompt while it is open
        self.failed = False  # a frame had no data: a print of frames exits 1
        self.playing = False  # `p`: one step forward per PLAY_PERIOD
        state.interval = step
        self.load()

    def load(self) -> None:
        """The frame at self.t, or the reason there is none."""
        self.message = ""
        try:
            before, now = self.history.pair_at(self.t, self.step)
        except (NoData, PrometheusError) as e:
            self.frame, self.message, self.failed = None, str(e), True
            return
        self.frame = Frame.between(before, now)
        self.events = EventLog()  # the events of this step, not of the way here
        self.events.observe(self.frame)
        missing = not_recorded(now)
        self.state.not_recorded = frozenset(missing)
        no_probes = "bpf" in missing and not any(st.kind == "probe" for st in now.statuses)
        self.state.bpf_note = BPF_NOT_RECORDED if no_probes else ""

    def move(self, steps: int) -> bool:
        """Step forward (or back); False at the end (or start) of the range or of time."""
        low, high = self.bounds or (0.0, time.time())
        t = min(max(self.t + steps * self.step, low), high)
        if t == self.t:
            self.message = f"{'end' if steps > 0 else 'start'} of the replay: {format_time(t)}"
            return False
        self.t = t
        self.load()
        return True

    def jump(self, text: str) -> None:
        try:
            t = parse_time(text)
        except TimeSpecError as e:
            self.message = str(e)
            return
        if self.bounds and not self.bounds[0] <= t <= self.bounds[1]:
            low, high = (format_time(b) for b in self.bounds)
            self.message = f"{format_time(t)} is outside --from {low} --to {high}"
            return
        self.t = t
        self.load()

    # -- the feed seam (see thpwatch.tui.app) --------------------------------------------

    def period(self, state: ViewState) -> float:
        return PLAY_PERIOD

    def tick(self, state: ViewState) -> None:
        """Playing: one step forward per period, stopping at the end."""
        if self.playing and not self.move(1):
            self.playing = False

    def next_print(self, state: ViewState, first: bool) -> bool:
        return first or self.move(1)

    def handle_key(self, state: ViewState, key: str) -> bool:
        """Keys a replay takes before the live keys: arrows, the jump prompt."""
        if self.prompt is not None:
            self.edit_prompt(key)
            return True
        if state.editing_filter or state.show_help:
            return False
        if key in LEFT or key in RIGHT:
            self.move(1 if key in RIGHT else -1)
            return True
        if key == JUMP:
            self.prompt, self.message = "", ""
            return True
        if key == PLAY:
            self.playing = not self.playing
            return True
        return False

    def edit_prompt(self, key: str) -> None:
        assert self.prompt is not None
        if key in ENTERS:
            text, self.prompt = self.prompt, None
            if text.strip():
                self.jump(text)
        elif key == ESC:
            self.prompt = None
        elif key in BACKSPACES:
            self.prompt = self.prompt[:-1]
        elif key.isprintable() and not key.startswith(ESC):
            self.prompt += key

    def render(
        self, console: Console, state: ViewState, width: int, height: int | None
    ) -> RenderableType:
        banner = self.banner()
        if self.frame is None:
            return Group(banner, Text("nothing to show at this time", style=ABSENT_STYLE))
        body_height = None if height is None else max(0, height - height_of(console, banner, width))
        body = render_screen(console, self.frame, state, self.events, width, body_height)
        return Group(banner, body)

    def banner(self) -> Group:
        """Where in history this is, the keys that move it, and what was not recorded."""
        where = Text.assemble(
            ("replay", "bold reverse cyan"), "  at ", (format_time(self.t), "bold")
        )
        where.append(f"  step {format_duration(self.step)}  ")
        if self.playing:
            where.append("PLAYING", style="bold reverse green").append("  ")
        where.append_text(
            Text.assemble(("←/→", "bold"), " step  ", (JUMP, "bold"), " jump  ", (PLAY, "bold"))
        )
        where.append(" stop" if self.playing else " play")
        where.append(f"  {self.history.target.describe()} from {self.url}", style="dim")
        where.no_wrap, where.overflow = True, "ellipsis"
        lines = [where]
        if self.prompt is not None:
            prompt = Text.assemble(("jump to: ", "bold"), self.prompt, ("▌", "blink"))
            lines.append(prompt.append(f"  Enter/Esc  ({TIME_FORMATS})", style="dim"))
        elif self.message:
            lines.append(Text(self.message, style="bold yellow"))
        if self.frame is not None and self.state.not_recorded:
            hints = [NOT_RECORDED_HINTS.get(n, n) for n in sorted(self.state.not_recorded)]
            lines.append(Text("not recorded in Prometheus: " + "; ".join(hints), ABSENT_STYLE))
        return Group(*lines)
