"""The exporter daemon's life: warm up (BPF attached) -> READY -> serve -> stop cleanly.

One main loop does everything that is not a scrape: refreshing the expensive sources on their
own interval, rewriting the textfile, pinging the systemd watchdog. Scrapes run in the HTTP
server's threads and only read.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from thpwatch.catalog import Catalog
from thpwatch.exporter import sdnotify, textfile
from thpwatch.exporter import server as http
from thpwatch.exporter.collector import SnapshotCollector
from thpwatch.exporter.httpserver import HttpServer, Limits
from thpwatch.sampler import Periodic, Sampler
from thpwatch.snapshot import State
from thpwatch.sources.base import Source

log = logging.getLogger(__name__)

SELF_CHECK_TIMEOUT = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
IGNORED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


@dataclass
class Settings:
    host: str = ""
    port: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    textfile_dir: Path | None = None
    textfile_interval: float = 15.0
    web_config_file: Path | None = None
    limits: Limits = field(default_factory=Limits)


class Daemon:
    """Owns the sources, the registry, the HTTP server and the main loop."""

    def __init__(
        self, sources: Sequence[Source], settings: Settings, metric_catalog: Catalog | None = None
    ) -> None:
        self.textfile = (
            textfile.TextfileWriter(settings.textfile_dir) if settings.textfile_dir else None
        )
        self.sources = [*sources, *([self.textfile] if self.textfile else [])]
        self.periodic = [s for s in self.sources if isinstance(s, Periodic)]
        self.settings = settings
        self.collector = SnapshotCollector(Sampler(self.sources), metric_catalog)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        # The textfile gets thpwatch's families only: node_exporter has its own process_*.
        self.textfile_registry = CollectorRegistry(auto_describe=False)
        self.textfile_registry.register(self.collector)
        self.stop_requested = threading.Event()
        self.server: HttpServer | None = None
        self.http_thread: threading.Thread | None = None
        self.port = 0

    # -- start-up -------------------------------------------------------------------------
    def start(self) -> None:
        """Bind, warm up every source (attaches BPF), serve, then tell systemd we are ready.

        The port is bound first so a clash fails in milliseconds, not after BPF compilation.
        """
        s = self.settings
        access = http.web_access(s.web_config_file, s.tls_cert, s.tls_key)
        if self.settings.textfile_dir is not None:
            textfile.check_directory(self.settings.textfile_dir)
            textfile.remove_stale_temp_files(self.settings.textfile_dir)
        self.server = http.bind(self.registry, s.host, s.port, access, s.limits)
        self.port = self.server.server_address[1]
        self.warm_up()
        self.http_thread = http.start(self.server)
        self.server.ready.wait(5)  # READY=1 means answering, workers started
        self.write_textfile()
        sdnotify.notify("READY=1")
        log.info("serving /metrics on %s", http.display(self.settings.host, self.port))

    def warm_up(self) -> None:
        """First reading of everything: BPF programs compile and attach here, before READY."""
        for p in self.periodic:
            p.refresh()
        snap = self.collector.snapshot()
        for st in snap.statuses:
            if st.state is not State.OK:
                # absent is normal (the kernel lacks it); blocked and error need a person
                level = logging.INFO if st.state is State.ABSENT else logging.WARNING
                log.log(level, "%s %s: %s (%s)", st.kind, st.name, st.state.value, st.reason)
        # The journal line READY=1 follows (the systemd lane checks the order).
        attached = sorted(
            st.name for st in snap.statuses if st.kind == "probe" and st.state is State.OK
        )
        log.info("%d probes attached: %s", len(attached), " ".join(attached) or "none")

    # -- steady state ---------------------------------------------------------------------
    def run_forever(self) -> None:
        watchdog = sdnotify.watchdog_interval()
        next_textfile = time.monotonic() + self.settings.textfile_interval
        next_ping = time.monotonic()
        while not self.stop_requested.is_set():
            now = time.monotonic()
            for p in self.periodic:
                if p.due():
                    p.refresh()
            if self.settings.textfile_dir is not None and now >= next_textfile:
                self.write_textfile()
                next_textfile = now + self.settings.textfile_interval
            # No ping unless a request through the listening socket is answered: systemd then
            # restarts a daemon that would otherwise look alive while serving nothing.
            if watchdog is not None and now >= next_ping:
                if self.serving(timeout=min(watchdog, SELF_CHECK_TIMEOUT)):
                    sdnotify.notify("WATCHDOG=1")
                    next_ping = time.monotonic() + watchdog
                else:
                    log.warning("self-check failed: the HTTP server does not answer; no ping")
                    next_ping = time.monotonic() + min(watchdog, SELF_CHECK_TIMEOUT)
            self.stop_requested.wait(self.tick(watchdog))

    def serving(self, timeout: float = SELF_CHECK_TIMEOUT) -> bool:
        """The server answered a self-check through its listening socket within timeout."""
        if self.server is None or self.http_thread is None or not self.http_thread.is_alive():
            return False
        return self.server.self_check(timeout)

    def tick(self, watchdog: float | None) -> float:
        intervals = [p.interval for p in self.periodic] + [self.settings.textfile_interval]
        if watchdog is not None:
            intervals.append(watchdog)
        return max(0.05, min(1.0, *intervals))

    def write_textfile(self) -> None:
        if self.textfile is not None:
            self.textfile.write(generate_latest(self.textfile_registry))

    # -- shutdown -------------------------------------------------------------------------
    def request_stop(self, signum: int, frame: FrameType | None = None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        """TERM, INT, QUIT and HUP (a closed terminal) stop cleanly: STOPPING=1, BPF detached,
        exit 0. USR1/USR2 are logged and ignored: their default action would kill the daemon
        without either."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.request_stop)
        for signum in IGNORED_SIGNALS:
            signal.signal(signum, self.ignore_signal)

    def ignore_signal(self, signum: int, frame: FrameType | None = None) -> None:
        log.info("received %s: ignored (SIGTERM stops thpwatch)", signal.Signals(signum).name)

    def stop(self) -> None:
        """Stop serving and detach: every source with a close() (the BPF source) gets it."""
        sdnotify.notify("STOPPING=1")
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.close_sources()

    def close_sources(self) -> None:
        for source in self.sources:
            inner = source.source if isinstance(source, Periodic) else source
            close = getattr(inner, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as e:  # detaching must go on for the other sources
                log.error("closing source %s failed: %s", inner.name, e)
