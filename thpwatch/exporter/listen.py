"""Parsing of the --listen address: HOST:PORT, :PORT, [IPv6]:PORT."""

from __future__ import annotations

DEFAULT_PORT = 10386
DEFAULT_LISTEN = f":{DEFAULT_PORT}"


class ListenAddressError(ValueError):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port); host "" means every address."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ListenAddressError(f"--listen {text!r}: expected HOST:PORT or :PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenAddressError(f"--listen {text!r}: write IPv6 addresses as [ADDR]:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise ListenAddressError(f"--listen {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ListenAddressError(f"--listen {text!r}: port {port} is out of range")
    return host, port
