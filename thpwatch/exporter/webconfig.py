"""--web.config.file: TLS and basic auth in the Prometheus exporter-toolkit format.

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to the config file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...          # bcrypt hash

The file and the files it names are watched: a change (a rotated certificate, a new user) is
picked up by the next connection or request, no restart. A change that breaks the config is
logged and refuses connections until fixed (fail closed), as exporter-toolkit does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# exporter-toolkit keys Python's ssl module cannot honour: refused rather than ignored, since
# each one narrows who may connect and ignoring it would widen access silently.
UNSUPPORTED_TLS = (
    "cert",
    "key",
    "client_ca",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
)
TLS_KEYS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version")
TLS_KEYS += ("max_version",)
TOP_KEYS = ("tls_server_config", "basic_auth_users", "http_server_config")
RELOAD_CHECK_SECONDS = 1.0


class WebConfigError(Exception):
    """The message names the file and the key."""


class AuthBusy(Exception):
    """Another bcrypt check is running: the caller answers 429 rather than hold a worker.

    A bcrypt check costs a worker tenths of a second (0.57 s measured at cost 10 on the loaded
    2-core development machine), so wrong passwords sent in parallel could otherwise hold
    every worker. Credentials that passed once are cached and never wait for this.
    """


@dataclass(frozen=True)
class TlsSettings:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None

    def files(self) -> list[Path]:
        return [p for p in (self.cert_file, self.key_file, self.client_ca_file) if p]

    def context(self, where: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = TLS_VERSIONS[self.min_version]
        if self.max_version is not None:
            context.maximum_version = TLS_VERSIONS[self.max_version]
        try:
            context.load_cert_chain(certfile=str(self.cert_file), keyfile=str(self.key_file))
        except (OSError, ssl.SSLError) as e:
            raise WebConfigError(
                f"{where}: cannot load TLS certificate {self.cert_file} / key {self.key_file}: {e}"
            ) from None
        context.verify_mode = CLIENT_AUTH[self.client_auth_type]
        if self.client_ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.client_ca_file))
            except (OSError, ssl.SSLError) as e:
                raise WebConfigError(
                    f"{where}: client_ca_file {self.client_ca_file}: cannot load: {e}"
                ) from None
        return context


@dataclass(frozen=True)
class WebConfig:
    tls: TlsSettings | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    source: str = "command line"


def parse(path: Path) -> WebConfig:
    """Read and check path; every problem is a WebConfigError naming the file and key."""
    import yaml

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise WebConfigError(f"web config {path}: cannot read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise WebConfigError(f"web config {path}: not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebConfigError(f"web config {path}: expected a mapping at the top level")
    _known_keys(path, "", data, TOP_KEYS)
    tls = None
    if data.get("tls_server_config") is not None:
        tls = _tls(path, _mapping(path, "tls_server_config", data["tls_server_config"]))
    users = _users(path, data.get("basic_auth_users") or {})
    http = _mapping(path, "http_server_config", data.get("http_server_config") or {})
    _known_keys(path, "http_server_config.", http, ("http2",))
    return WebConfig(tls, users, str(path))


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebConfigError(f"web config {path}: {key}: expected a mapping")
    return value


def _known_keys(path: Path, prefix: str, data: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if prefix == "tls_server_config." and key in UNSUPPORTED_TLS:
            raise WebConfigError(f"web config {path}: {prefix}{key} is not supported by thpwatch")
        if key not in known:
            raise WebConfigError(f"web config {path}: unknown key {prefix}{key}")


def _tls(path: Path, data: dict[str, Any]) -> TlsSettings:
    _known_keys(path, "tls_server_config.", data, TLS_KEYS)

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise WebConfigError(f"web config {path}: tls_server_config.{key}: expected a string")
        return value or None

    def file(key: str) -> Path | None:
        value = text(key)
        return None if value is None else path.parent / value

    cert, key = file("cert_file"), file("key_file")
    if cert is None or key is None:
        missing = "cert_file" if cert is None else "key_file"
        raise WebConfigError(f"web config {path}: tls_server_config.{missing} is required")
    auth = text("client_auth_type") or "NoClientCert"
    if auth not in CLIENT_AUTH:
        if auth in ("RequestClientCert", "RequireAnyClientCert"):
            why = "is not supported by thpwatch (it accepts unverified certificates)"
        else:
            why = f"is not one of {', '.join(CLIENT_AUTH)}"
        raise WebConfigError(f"web config {path}: tls_server_config.client_auth_type {auth} {why}")
    ca = file("client_ca_file")
    if ca is not None and auth == "NoClientCert":
        raise WebConfigError(
            f"web config {path}: tls_server_config.client_ca_file is set but client_auth_type "
            "is NoClientCert (set RequireAndVerifyClientCert)"
        )
    if ca is None and auth != "NoClientCert":
        raise WebConfigError(
            f"web config {path}: tls_server_config.client_auth_type {auth} needs client_ca_file"
        )
    versions = {}
    for k in ("min_version", "max_version"):
        v = text(k)
        if v is not None and v not in TLS_VERSIONS:
            raise WebConfigError(
                f"web config {path}: tls_server_config.{k} {v} is not one of "
                f"{', '.join(TLS_VERSIONS)}"
            )
        versions[k] = v
    settings = TlsSettings(
        cert, key, auth, ca, versions["min_version"] or "TLS12", versions["max_version"]
    )
    settings.context(f"web config {path}")  # loads the files: bad ones fail here, by name
    return settings


def _users(path: Path, data: Any) -> dict[str, bytes]:
    if not isinstance(data, dict):
        raise WebConfigError(f"web config {path}: basic_auth_users: expected a mapping")
    users = {}
    for user, hashed in data.items():
        where = f"web config {path}: basic_auth_users.{user}"
        if not isinstance(user, str) or ":" in user:
            raise WebConfigError(f"{where}: a user name is a string without ':'")
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise WebConfigError(f"{where}: expected a bcrypt hash ($2y$..., see htpasswd -B)")
        users[user] = hashed.encode()
    return users


class Live:
    """The web config in force: re-read when the config file or a file it names changes.

    Checked at most once a second, from any thread. After a change that fails to load, TLS
    connections are refused and requests get 500 until the files are fixed.
    """

    def __init__(self, load: Any, watched: Any) -> None:
        self._load = load  # () -> WebConfig
        self._watched = watched  # (WebConfig | None) -> list[Path]
        self._lock = threading.Lock()
        self.config: WebConfig | None = load()
        self.error: str | None = None
        self._context = self.config.tls.context(self.config.source) if self.config.tls else None
        self._signature = self._stat()
        self._checked = time.monotonic()
        self._auth_cache: set[bytes] = set()
        self._bcrypt_slot = threading.Semaphore(1)

    @classmethod
    def from_file(cls, path: Path) -> Live:
        return cls(lambda: parse(path), lambda c: [path, *(c.tls.files() if c and c.tls else [])])

    @classmethod
    def from_files(cls, cert: Path, key: Path) -> Live:
        """--tls-cert/--tls-key: the same machinery, the same rotation without restart."""
        config = WebConfig(TlsSettings(cert, key, min_version="TLS12"), {}, "--tls-cert/--tls-key")
        return cls(lambda: config, lambda c: [cert, key])

    @property
    def tls(self) -> bool:
        return self.config is not None and self.config.tls is not None

    def _stat(self) -> tuple[tuple[int, int, int] | None, ...]:
        out = []
        for p in self._watched(self.config):
            try:
                st = os.stat(p)
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
        return tuple(out)

    def refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < RELOAD_CHECK_SECONDS:
                return
            self._checked = now
            signature = self._stat()
            if signature == self._signature:
                return
            self._signature = signature
            had_tls = self.tls
            try:
                config = self._load()
                if (config.tls is not None) != had_tls:
                    raise WebConfigError(
                        f"web config {config.source}: switching between HTTP and HTTPS needs "
                        "a restart"
                    )
                context = config.tls.context(config.source) if config.tls else None
            except WebConfigError as e:
                self.error = str(e)
                log.error("%s; refusing connections until it is fixed", e)
                return
            self.config, self._context, self.error = config, context, None
            self._auth_cache.clear()
            log.info("reloaded %s", config.source)

    def ssl_context(self) -> ssl.SSLContext | None:
        self.refresh()
        return None if self.error else self._context

    def authorized(self, authorization: str) -> bool | None:
        """None: no users configured (open); else whether the Basic credentials match."""
        self.refresh()
        config = self.config
        if self.error or config is None:
            return False
        if not config.users:
            return None
        import bcrypt

        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        if scheme.lower() != "basic" or ":" not in decoded:
            return False
        user, _, password = decoded.partition(":")
        hashed = config.users.get(user)
        key = hashlib.sha256(b"\0".join((user.encode(), password.encode(), hashed or b""))).digest()
        if hashed is not None and key in self._auth_cache:
            return True
        if not self._bcrypt_slot.acquire(blocking=False):
            raise AuthBusy()
        try:
            # An unknown user costs a bcrypt too, so timing does not tell which users exist.
            ok = bcrypt.checkpw(password.encode(), hashed or _dummy_hash()) and hashed is not None
        except ValueError:
            return False
        finally:
            self._bcrypt_slot.release()
        if ok:
            if len(self._auth_cache) > 1024:
                self._auth_cache.clear()
            self._auth_cache.add(key)
        return ok


_DUMMY: list[bytes] = []


def _dummy_hash() -> bytes:
    if not _DUMMY:
        import bcrypt

        _DUMMY.append(bcrypt.hashpw(b"thpwatch", bcrypt.gensalt(10)))
    return _DUMMY[0]
