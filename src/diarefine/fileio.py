"""Small file helpers: read text with clear errors, write atomically (temp name + rename)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputFileError, OutputError


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` split at ``\\n`` only (a trailing ``\\r`` dropped), unlike `str.splitlines`, which
    also splits at form feeds, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028 / U+2029 and so would make error
    messages name the wrong line.

    >>> split_lines("a\\r\\nb\\x0cc\\n")
    ['a', 'b\\x0cc']
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_text_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file (a byte-order mark is dropped; lines split as `split_lines`); missing,
    unreadable or binary files raise `InputFileError`."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, expected a file")
    try:
        return split_lines(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFileError(path, "not a UTF-8 text file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror})") from None


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_can_create_in(path: Path, folder: Path) -> None:
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise OutputError(path, f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(path, f"no permission to write in {existing}")


def check_output_file(path: str | Path) -> Path:
    """Fail now, before any work, if a file cannot be written at ``path`` (raises `OutputError`)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; give a file name")
    _check_can_create_in(path, path.parent)
    return path


def check_output_dir(path: str | Path) -> Path:
    """Fail now, before any work, if files cannot be written in the folder ``path`` (made if missing)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(path, "is a file; give a folder")
    _check_can_create_in(path, path)
    return path


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc)) from None


def _temporary_beside(path: Path) -> Path:
    _make_parent(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc)) from None
    os.close(fd)
    return Path(tmp_name)


def _commit(tmp: Path, path: Path) -> None:
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes it 0600; use normal permissions
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc)) from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    Nothing is left behind on failure, so a reader never sees a half-written output; a location
    that cannot be written raises `OutputError`.
    """
    path = Path(path)
    tmp = _temporary_beside(path)
    try:
        yield tmp
        _commit(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class OutputSet:
    """A command's outputs, written all together or not at all.

    Every location is checked when the set is made (before any work); `path` hands out a
    temporary name beside each output; leaving the ``with`` block normally renames them all into
    place, an exception removes them all.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with OutputSet(files=[folder / "a.txt", folder / "b.txt"]) as outputs:
    ...     _ = outputs.path(folder / "a.txt").write_text("A")
    ...     _ = outputs.path(folder / "b.txt").write_text("B")
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(self, files: Iterable[str | Path] = (), dirs: Iterable[str | Path] = ()) -> None:
        for path in files:
            check_output_file(path)
        for path in dirs:
            check_output_dir(path)
        self._staged: dict[Path, Path] = {}

    def path(self, path: str | Path) -> Path:
        """The temporary name to write ``path``'s content to."""
        path = Path(path)
        if path not in self._staged:
            self._staged[path] = _temporary_beside(path)
        return self._staged[path]

    def write_text(self, path: str | Path, text: str) -> None:
        self.path(path).write_text(text, encoding="utf-8")

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for path, tmp in self._staged.items():
                    _commit(tmp, path)
        finally:
            for tmp in self._staged.values():
                if tmp.exists():
                    tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_safe(obj):
    """Copy of ``obj`` with NaN / infinite floats as None and numpy scalars as Python numbers.

    >>> json_safe({"a": float("nan"), "b": [1.5, float("inf")]})
    {'a': None, 'b': [1.5, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as indented, strictly valid JSON (NaN -> null), atomically."""
    atomic_write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
