"""Rare things worth a line of their own: pool exhausted, split failures, a probe detached,
a consistency violation, a reserved fault OOM. Detected by comparing two Snapshots."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime

from rich.text import Text

from thpwatch.snapshot import State
from thpwatch.tui import names
from thpwatch.tui.frame import Frame

SPLIT_FAILURES = (
    (names.vmstat_counter("thp_split_page_failed"), {}),
    (names.mthp_counter("split_failed"), {}),
    (names.SPLITS, {"result": names.SPLIT_FAILED}),
)


def _increased(frame: Frame, name: str, **match: str) -> bool:
    rate = frame.rate_sum(name, **match)
    return rate is not None and rate > 0


def detect(frame: Frame) -> Iterator[str]:
    """What happened between the two Snapshots of this frame that deserves an event."""
    if frame.before is None:
        return
    free = frame.value(names.POOL_FREE_HPAGES)
    was_free = frame.before.get(names.POOL_FREE_HPAGES)
    total = frame.value(names.POOL_HPAGES)
    if free == 0 and total and was_free != 0:
        yield "reserved THP pool exhausted (free_hpages 0)"
    if any(_increased(frame, name, **match) for name, match in SPLIT_FAILURES):
        yield "THP split failures"
    if _increased(frame, names.FAULTS, outcome=names.OOM_OUTCOME) or _increased(
        frame, names.KMSG_OOM_LEAKED
    ):
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


class EventLog:
    """The most recent events, newest last."""

    def __init__(self, keep: int = 50) -> None:
        self.events: deque[tuple[float, str]] = deque(maxlen=keep)

    def observe(self, frame: Frame) -> None:
        for message in detect(frame):
            self.events.append((frame.now.timestamp, message))

    def render(self, lines: int) -> Text:
        if not self.events:
            return Text("events: none", style="dim")
        out = Text()
        for when, message in list(self.events)[-lines:]:
            if out:
                out.append("\n")
            stamp = datetime.fromtimestamp(when).strftime("%H:%M:%S")
            out.append(f"{stamp} ", style="dim")
            out.append(message, style="bold red")
        return out
