"""A bounded HTTP/1.1 server: one I/O thread, a fixed pool of worker threads.

The I/O thread owns every socket: it accepts, runs TLS handshakes (non-blocking), reads request
heads and writes responses, each step under a deadline. Workers only turn a parsed request into
a response. So a client that connects and says nothing, sends half a ClientHello or a header a
byte a minute costs one file descriptor and a few KiB until its deadline, never a thread, and
cannot delay anybody else's scrape. Connections are capped: when the cap is reached the oldest
connection that has no request in progress is closed to make room, so a flood of idle
connections cannot lock out a scraper that sends its request at once.

Why not a library: the stdlib servers spend a thread per connection (or block in accept() for
TLS); waitress has no TLS; cheroot handshakes in its accept thread. See docs/exporter.md.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hmac
import logging
import queue
import secrets
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from thpwatch.exporter import httpmsg
from thpwatch.exporter.ratelog import RateLimitedLog

log = logging.getLogger(__name__)

Handler = Callable[[httpmsg.Request], httpmsg.Response]
# Returns the TLS context for a new connection, or None to refuse it (a broken web config).
TlsProvider = Callable[[], ssl.SSLContext | None]

SELFCHECK_MAGIC = b"THPWATCH-SELFCHECK "
SELFCHECK_OK = b"THPWATCH-OK\n"
_TLS_HANDSHAKE_RECORD = 0x16


@dataclass(frozen=True)
class Limits:
    workers: int = 16  # as many scrapes share one snapshot (fresh.py) as run at once
    max_connections: int = 512
    max_header_bytes: int = 8192  # request line and header fields together
    max_headers: int = 100
    handshake_timeout: float = 10.0  # accept -> TLS handshake done
    header_timeout: float = 10.0  # first byte of a request -> its blank line
    idle_timeout: float = 60.0  # keep-alive connection with no request
    write_timeout: float = 30.0  # response handed over -> last byte sent
    accept_batch: int = 32  # connections accepted per loop turn, so reads are never starved


class State(enum.Enum):
    SNIFF = "sniff"  # TLS port: first byte decides TLS or self-check
    HANDSHAKE = "handshake"
    READ = "read"
    BUSY = "busy"  # a worker has the request
    WRITE = "write"


class Connection:
    __slots__ = (
        "sock",
        "peer",
        "state",
        "deadline",
        "opened",
        "buffer",
        "out",
        "served",
        "keep_alive",
        "selfcheck",
        "events",
    )

    def __init__(self, sock: socket.socket, peer: str, state: State, deadline: float) -> None:
        self.sock = sock
        self.peer = peer
        self.state = state
        self.deadline = deadline
        self.opened = time.monotonic()
        self.buffer = bytearray()
        self.out = memoryview(b"")
        self.served = 0
        self.keep_alive = False
        self.selfcheck: bool | None = None  # None: undecided until the first bytes
        self.events = 0

    @property
    def evictable(self) -> bool:
        return self.state in (State.SNIFF, State.HANDSHAKE, State.READ)


class HttpServer:
    """bind() in __init__, serve_forever() in a thread, shutdown() from another, then close."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        limits: Limits | None = None,
        tls: TlsProvider | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.handler = handler
        self.tls = tls
        self.selfcheck_token = secrets.token_hex(32).encode()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host or "0.0.0.0", port))
            self.socket.listen(512)
        except BaseException:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.conns: dict[int, Connection] = {}
        self.done: queue.SimpleQueue[tuple[Connection, bytes, bool]] = queue.SimpleQueue()
        self.jobs: queue.SimpleQueue[tuple[Connection, Callable[[], tuple[bytes, bool]]] | None]
        self.jobs = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self.ready = threading.Event()  # workers started, accepting
        self._workers: list[threading.Thread] = []
        self._listening = False
        self._accept_paused_until = 0.0
        self.rlog = RateLimitedLog(log)
        self.stats = {
            "accepted": 0,
            "evicted": 0,
            "refused": 0,
            "timed_out": 0,
            "handshake_failed": 0,
        }

    # -- the I/O thread -------------------------------------------------------------------
    def serve_forever(self) -> None:
        self._workers = [
            threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            for i in range(self.limits.workers)
        ]
        for w in self._workers:
            w.start()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._listen(True)
        self.ready.set()
        next_sweep = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if not self._listening and now >= self._accept_paused_until:
                    self._listen(True)
                for key, mask in self.sel.select(0.1):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        self._on_event(key.data, mask)
                self._finish_done()
                now = time.monotonic()
                if now >= next_sweep:
                    self._expire(now)
                    next_sweep = now + 0.1
        finally:
            for conn in list(self.conns.values()):
                self._close(conn)
            for _ in self._workers:
                self.jobs.put(None)
            self.sel.close()
            self._stopped.set()

    def _listen(self, on: bool) -> None:
        if on and not self._listening:
            self.sel.register(self.socket, selectors.EVENT_READ, "listen")
        elif not on and self._listening:
            self.sel.unregister(self.socket)
        self._listening = on

    def _accept(self) -> None:
        for _ in range(self.limits.accept_batch):
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: free one idle connection, or stop accepting briefly
                    # instead of spinning on a listening socket that stays readable.
                    if not self._evict_oldest("out of file descriptors"):
                        self._listen(False)
                        self._accept_paused_until = time.monotonic() + 0.5
                    self.rlog.log(logging.WARNING, "emfile", "accept failed: %s", e)
                    return
                self.rlog.log(logging.WARNING, "accept", "accept failed: %s", e)
                return
            self.stats["accepted"] += 1
            sock.setblocking(False)
            peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
            if len(self.conns) >= self.limits.max_connections and not self._evict_oldest(
                f"the connection limit ({self.limits.max_connections})"
            ):
                self.stats["refused"] += 1
                self.rlog.log(
                    logging.WARNING,
                    "refused",
                    "refused a connection from %s: %d connections, all with a request in progress",
                    peer,
                    len(self.conns),
                )
                sock.close()
                continue
            now = time.monotonic()
            if self.tls is not None:
                conn = Connection(sock, peer, State.SNIFF, now + self.limits.handshake_timeout)
            else:
                conn = Connection(sock, peer, State.READ, now + self.limits.header_timeout)
            self.conns[sock.fileno()] = conn
            self._want(conn, selectors.EVENT_READ)

    def _evict_oldest(self, why: str) -> bool:
        victims = [c for c in self.conns.values() if c.evictable]
        if not victims:
            return False
        oldest = min(victims, key=lambda c: c.opened)
        self.stats["evicted"] += 1
        self.rlog.log(
            logging.WARNING,
            "evicted",
            "closed the oldest idle connection (from %s) to make room: %s reached",
            oldest.peer,
            why,
        )
        self._close(oldest)
        return True

    def _want(self, conn: Connection, events: int) -> None:
        """Register interest in events (0: none, the connection waits for a worker)."""
        if events == conn.events:
            return
        if conn.events and events:
            self.sel.modify(conn.sock, events, conn)
        elif events:
            self.sel.register(conn.sock, events, conn)
        else:
            self.sel.unregister(conn.sock)
        conn.events = events

    def _close(self, conn: Connection) -> None:
        fd = conn.sock.fileno()
        if fd < 0:
            return  # already closed
        if conn.events:
            self.sel.unregister(conn.sock)
            conn.events = 0
        self.conns.pop(fd, None)
        conn.sock.close()

    def _expire(self, now: float) -> None:
        for conn in [c for c in self.conns.values() if c.state is not State.BUSY]:
            if now >= conn.deadline:
                self.stats["timed_out"] += 1
                log.debug("closing %s: timed out in state %s", conn.peer, conn.state.value)
                self._close(conn)

    def _on_event(self, conn: Connection, mask: int) -> None:
        if conn.state is State.SNIFF:
            self._guarded(conn, self._sniff, conn)
        elif conn.state is State.HANDSHAKE:
            self._guarded(conn, self._handshake, conn)
        elif conn.state is State.READ:
            self._guarded(conn, self._read, conn)
        elif conn.state is State.WRITE:
            self._guarded(conn, self._write, conn)

    def _guarded(self, conn: Connection, step: Callable[..., None], *args: object) -> None:
        """One step of one connection: whatever it raises closes that connection only."""
        try:
            step(*args)
        except (ssl.SSLError, OSError) as e:  # the peer went away, reset, bad TLS records
            log.debug("closing %s: %s", conn.peer, e)
            self._close(conn)
        except Exception:
            self.rlog.log(logging.ERROR, "bug", "closing %s after an internal error", conn.peer)
            log.debug("internal error", exc_info=True)
            self._close(conn)

    def _sniff(self, conn: Connection) -> None:
        first = conn.sock.recv(1, socket.MSG_PEEK)
        if not first:
            self._close(conn)
            return
        if first[0] == SELFCHECK_MAGIC[0]:
            conn.selfcheck = True  # plain text on the TLS port: a self-check or nothing
            conn.state = State.READ
            self._read(conn)
            return
        context = self.tls() if self.tls is not None else None
        if first[0] != _TLS_HANDSHAKE_RECORD or context is None:
            self._close(conn)
            return
        self._want(conn, 0)  # the selector must not keep the plain socket object
        conn.sock = context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        conn.state = State.HANDSHAKE
        self._handshake(conn)

    def _handshake(self, conn: Connection) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
            return
        except (ssl.SSLError, OSError) as e:
            self.stats["handshake_failed"] += 1
            self.rlog.log(
                logging.INFO, "handshake", "TLS handshake with %s failed: %s", conn.peer, e
            )
            self._close(conn)
            return
        conn.state = State.READ
        conn.deadline = time.monotonic() + self.limits.header_timeout
        self._want(conn, selectors.EVENT_READ)
        self._read(conn)

    def _read(self, conn: Connection) -> None:
        limit = self.limits.max_header_bytes + 4
        try:
            while True:
                data = conn.sock.recv(max(1, limit + 1 - len(conn.buffer)))
                if not data:
                    self._close(conn)
                    return
                if not conn.buffer and conn.served:  # keep-alive: a new request starts
                    conn.deadline = time.monotonic() + self.limits.header_timeout
                conn.buffer += data
                if len(conn.buffer) > limit or not (
                    isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
                ):
                    break
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except ssl.SSLWantWriteError:
            return
        self._dispatch(conn)

    def _dispatch(self, conn: Connection) -> None:
        """A complete head in the buffer goes to a worker (or is refused here)."""
        if conn.selfcheck is not False and not conn.served:
            self._dispatch_selfcheck(conn)
            return
        end = conn.buffer.find(b"\r\n\r\n")
        if end < 0 or end > self.limits.max_header_bytes:
            if len(conn.buffer) > self.limits.max_header_bytes:
                self._respond_error(
                    conn, httpmsg.BadRequest(431, "request head too large").response
                )
            return
        head = bytes(conn.buffer[:end])
        del conn.buffer[: end + 4]
        try:
            request = httpmsg.parse_head(head, self.limits.max_headers, conn.peer)
        except httpmsg.BadRequest as e:
            self._respond_error(conn, e.response)
            return
        conn.keep_alive = request.keep_alive
        conn.state = State.BUSY
        self._want(conn, 0)
        self.jobs.put((conn, lambda: self._run_handler(request)))

    def _dispatch_selfcheck(self, conn: Connection) -> None:
        want = len(SELFCHECK_MAGIC) + len(self.selfcheck_token) + 1
        seen = bytes(conn.buffer[: len(SELFCHECK_MAGIC)])
        if not SELFCHECK_MAGIC.startswith(seen):
            if conn.selfcheck:
                self._close(conn)  # on the TLS port: neither TLS nor a self-check
                return
            conn.selfcheck = False  # an HTTP request
            self._dispatch(conn)
            return
        if len(conn.buffer) < want:
            return
        line = bytes(conn.buffer[:want])
        token = line[len(SELFCHECK_MAGIC) : -1]
        if not hmac.compare_digest(token, self.selfcheck_token) or line[-1:] != b"\n":
            self._close(conn)
            return
        conn.buffer.clear()
        conn.state = State.BUSY
        self._want(conn, 0)
        self.jobs.put((conn, lambda: (SELFCHECK_OK, False)))

    def _respond_error(self, conn: Connection, response: httpmsg.Response) -> None:
        self.rlog.log(
            logging.INFO,
            "bad-request",
            "refused a request from %s: %d %s",
            conn.peer,
            response.status,
            response.body.decode(errors="replace").strip(),
        )
        conn.buffer.clear()
        self._start_write(conn, httpmsg.encode(response, False, False), False)

    def _start_write(self, conn: Connection, data: bytes, keep_alive: bool) -> None:
        conn.out = memoryview(data)
        conn.keep_alive = keep_alive
        conn.state = State.WRITE
        conn.deadline = time.monotonic() + self.limits.write_timeout
        self._want(conn, selectors.EVENT_WRITE)
        self._write(conn)

    def _write(self, conn: Connection) -> None:
        try:
            while conn.out:
                sent = conn.sock.send(conn.out[:262144])
                conn.out = conn.out[sent:]
        except (BlockingIOError, ssl.SSLWantWriteError):
            return
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
            return
        conn.served += 1
        if not conn.keep_alive:
            self._close(conn)
            return
        conn.state = State.READ
        conn.deadline = time.monotonic() + (
            self.limits.header_timeout if conn.buffer else self.limits.idle_timeout
        )
        self._want(conn, selectors.EVENT_READ)
        if conn.buffer or (isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()):
            self._read_buffered(conn)

    def _read_buffered(self, conn: Connection) -> None:
        if isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending():
            self._read(conn)
        else:
            self._dispatch(conn)

    def _finish_done(self) -> None:
        while True:
            try:
                conn, data, keep_alive = self.done.get_nowait()
            except queue.Empty:
                return
            if self.conns.get(conn.sock.fileno()) is not conn:
                continue  # closed meanwhile (shutdown)
            self._guarded(conn, self._start_write, conn, data, keep_alive)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _wake(self) -> None:
        # BlockingIOError: already awake (buffer full); OSError: shutting down
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- workers --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            conn, run = job
            data, keep_alive = run()
            self.done.put((conn, data, keep_alive))
            self._wake()

    def _run_handler(self, request: httpmsg.Request) -> tuple[bytes, bool]:
        try:
            response = self.handler(request)
        except Exception as e:
            self.rlog.log(
                logging.ERROR,
                "handler",
                "%s %s failed: %s: %s",
                request.method,
                request.path[:200],
                type(e).__name__,
                e,
            )
            log.debug("handler failure", exc_info=True)
            response = httpmsg.text_response(500, "internal error\n")
        keep_alive = request.keep_alive and not response.close
        log.debug(
            "%s %s %r %d %d",
            request.peer,
            request.method,
            request.path[:200],
            response.status,
            len(response.body),
        )
        return httpmsg.encode(response, request.method == "HEAD", keep_alive), keep_alive

    # -- control from other threads -------------------------------------------------------
    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        if self._workers:
            self._stopped.wait(5)

    def server_close(self) -> None:
        self.socket.close()
        self._wake_r.close()
        self._wake_w.close()

    def self_check(self, timeout: float) -> bool:
        """True when a request through the listening socket got its answer within timeout.

        It travels the path a scrape does: accept, the I/O thread, a free worker, the write.
        """
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        deadline = time.monotonic() + timeout
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                sock.sendall(SELFCHECK_MAGIC + self.selfcheck_token + b"\n")
                answer = b""
                while len(answer) < len(SELFCHECK_OK):
                    sock.settimeout(max(0.001, deadline - time.monotonic()))
                    chunk = sock.recv(64)
                    if not chunk:
                        break
                    answer += chunk
        except OSError as e:
            log.debug("self-check failed: %s", e)
            return False
        return answer == SELFCHECK_OK
