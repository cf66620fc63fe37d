"""Small name -> class registries filled by a decorator (feature extractors, embedders, models, ...).

Every registered class has a ``Config`` dataclass; `Registry.build` makes an instance from a
name or a ``{"name": ..., **settings}`` table (a TOML table, a cache's or checkpoint's record),
checking the settings against that ``Config`` so a typo is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from .config import from_dict
from .errors import ConfigError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named classes; ``@registry.register("name")`` adds one.

    ``kind`` names an entry in messages, ``section`` prefixes the key paths of config errors,
    ``default`` is the name `build` uses when none is given.

    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... class Square: ...
    >>> shapes.get("square").__name__
    'Square'
    >>> shapes.get("circle")
    Traceback (most recent call last):
    ...
    diarefine.errors.UnknownNameError: unknown shape 'circle'; choose one of: square
    """

    def __init__(self, kind: str, section: str | None = None, default: str | None = None) -> None:
        self.kind = kind
        self.section = section or kind
        self.default = default
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            entry.name = name  # type: ignore[attr-defined]
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def build(self, spec: str | Mapping[str, Any] | None = None, **settings: Any) -> Any:
        """An instance from a name or ``{"name": ..., **settings}`` (None or no name: the default),
        keyword ``settings`` taking precedence over the spec's.

        The settings fill the class's ``Config``; unknown keys and wrong types are `ConfigError`s
        whose message starts with ``<section>.<name>``.
        """
        data = {"name": spec} if spec is None or isinstance(spec, str) else dict(spec)
        data.update(settings)
        name = data.pop("name", None) or self.default
        if name is None:
            raise ConfigError(f"{self.section}: give a name ({', '.join(self.names())})")
        cls = self.get(name)
        return cls(from_dict(cls.Config, data, f"{self.section}.{name}"))  # type: ignore[attr-defined]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
