"""Test PKI made with the openssl command: a CA, a server certificate for 127.0.0.1, clients."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import require

NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path

    def issue(self, name: str, server: bool = False) -> tuple[Path, Path]:
        """(cert, key) signed by this CA; a server one is valid for IP 127.0.0.1."""
        cert, key, csr = (self.dir / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
        ext = self.dir / f"{name}.ext"
        if server:
            ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        else:
            ext.write_text("extendedKeyUsage=clientAuth\n")
        _openssl("req", "-new", *NEW_KEY, "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
        _openssl(
            *("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key),
            *("-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert),
        )
        return cert, key


def make_pki(directory: Path, name: str = "ca") -> Pki:
    require(shutil.which("openssl"), "needs the openssl command to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl(
        *("req", "-x509", *NEW_KEY, "-days", "1", "-subj", f"/CN={name}"),
        *("-keyout", key, "-out", cert),
    )
    return Pki(directory, cert, key)


def _openssl(*args: object) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
