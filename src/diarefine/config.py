"""Strict dataclass configs: built from dicts (TOML, HDF5 attributes, checkpoints) with clear errors.

Unknown keys and wrong types are refused with the key's dotted path, so a typo in a TOML file
never silently falls back to a default. `config_hash` fingerprints a config for cache files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, InputFileError
from .fileio import read_text_lines

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

C = TypeVar("C")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None) and value is None:
                return None
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a {' or '.join(_type_name(a) for a in typing.get_args(tp))}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, typing.get_args(tp)))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return origin(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool):
        if isinstance(value, bool) != (tp is bool) or not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    return value


def from_dict(cls: type[C], data: Any, where: str = "config") -> C:
    """Build dataclass ``cls`` from a mapping, refusing unknown keys and wrong types.

    >>> @dataclasses.dataclass
    ... class Opt:
    ...     lr: float = 1e-3
    ...     layers: int = 2
    >>> from_dict(Opt, {"lr": 1})
    Opt(lr=1.0, layers=2)
    >>> from_dict(Opt, {"lyers": 3})
    Traceback (most recent call last):
    ...
    diarefine.errors.ConfigError: config: unknown key 'lyers' (valid keys: layers, lr)
    """
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of {cls.__name__} settings, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (valid keys: {', '.join(sorted(fields))})")
    values = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where}: {exc}") from None
    except ValueError as exc:  # __post_init__ validation
        raise ConfigError(f"{where}: {exc}") from None


def to_dict(config: Any) -> dict:
    """A dataclass config as plain dicts / lists (JSON- and TOML-friendly)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_hash(data: Any) -> str:
    """Short stable fingerprint of a JSON-able value (sorted keys).

    >>> config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def diff_dicts(expected: dict, found: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two nested dicts ("key: expected X, found Y").

    >>> diff_dicts({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}})
    ['b.c: expected 2, found 3']
    """
    out = []
    for key in sorted(set(expected) | set(found)):
        path = f"{prefix}{key}"
        if key not in found:
            out.append(f"{path}: expected {expected[key]!r}, missing")
        elif key not in expected:
            out.append(f"{path}: not expected, found {found[key]!r}")
        elif isinstance(expected[key], dict) and isinstance(found[key], dict):
            out += diff_dicts(expected[key], found[key], f"{path}.")
        elif expected[key] != found[key]:
            out.append(f"{path}: expected {expected[key]!r}, found {found[key]!r}")
    return out


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; invalid TOML is an `InputFileError` naming the file."""
    try:
        return tomllib.loads("\n".join(read_text_lines(path)))
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML ({exc})") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=1e-3"`` -> (["optim", "lr"], 0.001); the value is read as TOML, else kept as text.

    >>> parse_override("data.train=['a.h5', 'b.h5']")
    (['data', 'train'], ['a.h5', 'b.h5'])
    >>> parse_override("model.positions=sinusoidal")
    (['model', 'positions'], 'sinusoidal')
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. optim.lr=1e-3")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip().split("."), value
