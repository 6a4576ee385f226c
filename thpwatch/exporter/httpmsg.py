"""HTTP/1.x messages: parsing a request head, encoding a response. No sockets here."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus

ALLOWED_METHODS = ("GET", "HEAD")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    version: str  # "HTTP/1.0" or "HTTP/1.1"
    headers: dict[str, str]  # lower-case name -> value (repeats joined with ", ")
    peer: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.header("connection").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


class BadRequest(Exception):
    """The head cannot be served: carries the response to send before closing."""

    def __init__(self, status: int, why: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(why)
        self.response = text_response(status, why + "\n", close=True)
        self.response.headers += headers or []


def text_response(status: int, text: str, close: bool = False) -> Response:
    return Response(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")], close)


def parse_head(head: bytes, max_headers: int, peer: str = "") -> Request:
    """head: the bytes before the blank line. Raises BadRequest with the response to send."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not all(c in _TOKEN for c in parts[0]):
        raise BadRequest(400, "malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        if version.startswith("HTTP/"):
            raise BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are served")
        raise BadRequest(400, "malformed request line")
    if not target.startswith("/"):
        raise BadRequest(400, "request target must be a path")
    if len(lines) - 1 > max_headers:
        raise BadRequest(431, f"more than {max_headers} header fields")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or not all(c in _TOKEN for c in name):
            raise BadRequest(400, "malformed header field")
        key = name.decode("latin-1").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if "transfer-encoding" in headers or headers.get("content-length", "0").strip() != "0":
        raise BadRequest(400, "request bodies are not accepted")
    path, _, query = target.partition("?")
    request = Request(method, path, query, version, headers, peer)
    if method not in ALLOWED_METHODS:
        raise BadRequest(405, "method not allowed", [("Allow", ", ".join(ALLOWED_METHODS))])
    return request


def encode(response: Response, head_only: bool, keep_alive: bool) -> bytes:
    """The bytes of the whole response; HEAD gets the headers GET would get and no body."""
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {response.status} {reason}", f"Date: {formatdate(usegmt=True)}"]
    lines += [f"{k}: {v}" for k, v in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body
