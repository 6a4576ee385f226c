"""What the kernel readers raise: kept under kernel/ so the readers import nothing above it."""

from __future__ import annotations

from pathlib import Path


class KernelFileError(Exception):
    """A kernel file that could not be used: names the file and what was wrong with it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
