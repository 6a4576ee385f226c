"""Rare things worth a line of their own: pool exhausted, split failures, a probe detached,
a consistency violation, a reserved fault OOM. Detected by comparing two Snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from thpwatch.snapshot import Sample, State
from thpwatch.tui import names
from thpwatch.tui.activity import split_failed
from thpwatch.tui.frame import Frame


def _increased(frame: Frame, name: str, where: Callable[[Sample], bool] | None = None) -> bool:
    rate = frame.rate_sum(name, where)
    return rate is not None and rate > 0


def oom(sample: Sample) -> bool:
    return sample.label("outcome") == names.OOM_OUTCOME


def detect(frame: Frame) -> Iterator[str]:
    """What happened between the two Snapshots of this frame that deserves an event."""
    if frame.before is None:
        return
    free = frame.value(names.POOL_FREE_HPAGES)
    was_free = frame.before.get(names.POOL_FREE_HPAGES)
    total = frame.value(names.POOL_HPAGES)
    if free == 0 and total and was_free != 0:
        yield "reserved THP pool exhausted (free_hpages 0)"
    if (
        _increased(frame, names.VMSTAT_SPLIT_PAGE_FAILED)
        or _increased(frame, names.MTHP_SPLIT_FAILED)
        or _increased(frame, names.SPLITS, split_failed)
    ):
        yield "THP split failures"
    if _increased(frame, names.FAULTS, oom) or _increased(frame, names.KMSG_OOM_LEAKED):
        yield "reserved THP fault OOM (pool could not back a fault)"
    for st in frame.now.statuses:
        was = frame.before.status(st.name, st.kind)
        if (
            st.kind == "probe"
            and was is not None
            and was.state is State.OK
            and st.state != was.state
        ):
            yield f"probe {st.name} detached: {st.state.value} {st.reason}".rstrip()
    was_violated = {s.label("check") for s in frame.before.series(names.CHECK_VIOLATION) if s.value}
    for s in frame.series(names.CHECK_VIOLATION):
        if s.value and s.label("check") not in was_violated:
            yield f"consistency violation: {s.label('check')}"


@dataclass
class Event:
    message: str
    first: float
    last: float
    times: int = 1


class EventLog:
    """Recent events, newest last; an event that keeps happening is one line with a count."""

    def __init__(self, keep: int = 50) -> None:
        self.keep = keep
        self.events: dict[str, Event] = {}

    def observe(self, frame: Frame) -> None:
        when = frame.now.timestamp
        for message in detect(frame):
            event = self.events.pop(message, None) or Event(message, when, when, 0)
            event.last, event.times = when, event.times + 1
            self.events[message] = event  # re-inserted: dicts keep insertion order
        while len(self.events) > self.keep:
            del self.events[next(iter(self.events))]

    def render(self, lines: int) -> Text:
        if not self.events:
            return Text("events: none", style="dim")
        out = Text()
        for event in list(self.events.values())[-lines:]:
            if out:
                out.append("\n")
            out.append(f"{clock(event.last)} ", style="dim")
            out.append(event.message, style="bold red")
            if event.times > 1:
                out.append(f" (x{event.times} since {clock(event.first)})", style="dim")
        return out


def clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S")
