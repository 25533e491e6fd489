"""How a node setting is declared: one dataclass field carrying its environment variable, parser,
default and description (`setting(...)`). Reading the environment, the errors for bad values and
the README's settings table are all derived from these declarations; see tutela.settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tutela.errors import ConfigurationError

T = TypeVar("T")
# (variable name, raw value, never empty) → the value; a bad value raises ConfigurationError.
Parser = Callable[[str, str], T]

_KEY = "tutela.setting"


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: its name, what it means, how its text becomes a value, and how
    the docs show its default when the value itself does not say it well (`default_text`)."""

    env: str
    doc: str
    parse: Parser[Any]
    default_text: str | None = None


@dataclass(frozen=True, slots=True)
class Nested:
    """A field holding a dataclass of its own (e.g. MediaLimits) whose fields are settings too:
    field name of the nested class → its Setting; defaults are the nested class's."""

    settings: Mapping[str, Setting]


def setting(
    env: str,
    default: T,
    doc: str,
    *,
    parse: Parser[T],
    default_text: str | None = None,
    secret: bool = False,
) -> T:
    """A dataclass field read from `env` with `parse` (unset or blank: `default`). A `secret`
    one is left out of the dataclass's repr."""
    declared = Setting(env, doc, parse, default_text)
    return field(default=default, repr=not secret, metadata={_KEY: declared})


def nested(factory: Callable[[], T], **settings: Setting) -> T:
    """A field holding `factory()`, whose named fields are read from their own variables."""
    return field(default_factory=factory, metadata={_KEY: Nested(settings)})


def read(cls: type[T], env: Mapping[str, str]) -> T:
    """An instance of the dataclass `cls` with every declared setting set in `env` parsed; the
    rest keep their defaults. A bad value raises ConfigurationError naming its variable."""
    values: dict[str, object] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        declared = item.metadata.get(_KEY)
        if isinstance(declared, Setting):
            raw = env.get(declared.env, "")
            if raw.strip():
                values[item.name] = declared.parse(declared.env, raw)
        elif isinstance(declared, Nested):
            parts = {
                name: inner.parse(inner.env, env[inner.env])
                for name, inner in declared.settings.items()
                if env.get(inner.env, "").strip()
            }
            factory: Callable[..., object] = item.default_factory  # type: ignore[assignment]
            values[item.name] = factory(**parts)
    return cls(**values)


def declared(cls: type[Any]) -> Iterator[tuple[Setting, object]]:
    """Every setting of the dataclass `cls` with its default, in declaration order."""
    for item in dataclasses.fields(cls):
        found = item.metadata.get(_KEY)
        if isinstance(found, Setting):
            yield found, item.default
        elif isinstance(found, Nested):
            factory: Callable[[], object] = item.default_factory  # type: ignore[assignment]
            defaults = factory()
            for name, inner in found.settings.items():
                yield inner, getattr(defaults, name)


def shown_default(declared_setting: Setting, value: object) -> str:
    """The default as the docs show it (Markdown)."""
    if declared_setting.default_text is not None:
        return declared_setting.default_text
    if value is None or value in ("", ()):
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{_plain(value)}`"


def _plain(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value < 1e15 else str(int(value))
    if isinstance(value, tuple):
        return ",".join(
            f"{part[0]}={_plain(part[1])}" if isinstance(part, tuple) else str(part)
            for part in value
        )
    return str(value)


# Parsers: (variable name, raw value) → value; each error names the variable and the bad value.


def text(name: str, raw: str) -> str:
    return raw


def upper_text(name: str, raw: str) -> str:
    return raw.upper()


def path(name: str, raw: str) -> Path:
    return Path(raw)


def flag(name: str, raw: str) -> bool:
    """1, true, yes or on (any case) is on; anything else off."""
    return raw.strip().lower() in ("1", "true", "yes", "on")


def names(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def whole_number(minimum: int = 0) -> Parser[int]:
    """A whole number of at least `minimum`."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigurationError(f"{name} must be {minimum} or more, got {raw!r}")
        return value

    return parse


def number(minimum: float = 0.0, *, above: bool = False) -> Parser[float]:
    """A number of at least `minimum` (`above`: more than it)."""

    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum or (above and value == minimum) or value != value:
            bound = f"more than {minimum:g}" if above else f"{minimum:g} or more"
            raise ConfigurationError(f"{name} must be {bound}, got {raw!r}")
        return value

    return parse


def choice(*choices: str) -> Parser[str]:
    """One of `choices`, case-insensitively."""

    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigurationError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value

    return parse
