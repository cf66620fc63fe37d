"""Every exception diarefine raises on purpose. The CLI turns a `DiarefineError` into a message and exit code 2."""

from __future__ import annotations

from pathlib import Path


class DiarefineError(Exception):
    """Base class: an error the user can fix; its message says what and how."""


class InputFileError(DiarefineError):
    """A file given by the user is missing, unreadable, empty or malformed."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")


class OutputError(DiarefineError):
    """An output location cannot be written (missing permission, a file where a folder must be, ...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: cannot write here: {reason}")


class MismatchError(DiarefineError):
    """Two inputs that must agree (file ids of reference and hypothesis, ...) do not."""


class ConfigError(DiarefineError):
    """A configuration value is unknown, missing or of the wrong type."""


class UnknownNameError(DiarefineError, KeyError):
    """A name that no entry of a registry has; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
