"""Plain conversion of simple command-line values, so that running a command does not import
pydantic.

Typer (from 0.2x) converts every value that is not a flag through a pydantic TypeAdapter, built
when the command first parses: importing pydantic and building the adapters was about 0.15 s of
the 0.7 s `tutela hash` took on one core. `lighten(command)` gives each parameter whose
annotation is str, int, float or Path (optional, or a list of them; ints and floats with a
min/max) a converter of its own, with pydantic's error texts; every other parameter (choices,
enums, dates, files, custom parsers, path checks) keeps Typer's conversion. With a Typer that
converts otherwise, it changes nothing. tests/test_cli_light_params.py checks that each command's
parameters convert as they would through Typer.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

try:  # Typer's own per-parameter conversion (0.2x); absent, nothing is changed
    from typer._coercion import RuntimeParam
    from typer.models import ParameterInfo
except ImportError:  # pragma: no cover - another Typer
    RuntimeParam = None  # type: ignore[assignment,misc]

import typer

# Whether this Typer converts through pydantic per parameter, so that lighten() has work to do.
AVAILABLE = RuntimeParam is not None

_TRUE = ("1", "on", "t", "true", "y", "yes")
_FALSE = ("0", "off", "f", "false", "n", "no")


def _boolean(value: Any) -> bool:
    """A flag's value as pydantic reads it (a flag given on the command line is a bool already)."""
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(value)


_INTEGRAL = re.compile(r"\s*[+-]?\d+\.0*\s*")


def _integer(value: Any) -> int:
    """An int as pydantic reads one: also True, False and "5.0", never "5.5" or "1e3"."""
    if isinstance(value, str) and _INTEGRAL.fullmatch(value):
        return int(value.strip().split(".")[0])
    return int(value)


# annotation → (converter, the end of pydantic's error for a value it cannot convert)
_SIMPLE: dict[type, tuple[Callable[[Any], Any], str]] = {
    bool: (_boolean, "a valid boolean, unable to interpret input"),
    str: (str, "a valid string"),
    int: (_integer, "a valid integer, unable to parse string as an integer"),
    float: (float, "a valid number, unable to parse string as a number"),
    Path: (Path, "a valid path"),
}
# ParameterInfo attributes that ask Typer for more than a conversion; each must be as it comes.
_CONSTRAINTS = (
    "parser",
    "clamp",
    "exists",
    "file_okay",
    "dir_okay",
    "writable",
    "readable",
    "resolve_path",
    "allow_dash",
    "path_type",
    "formats",
    "count",
)


def lighten(command: Any) -> None:
    """Give the simple parameters of `command` and of all its subcommands plain conversion."""
    if RuntimeParam is None or command is None:
        return
    params = list(getattr(command, "params", ()))
    context_class = getattr(command, "context_class", None)
    if context_class is not None:  # --help, made once per command and only for a context
        params.append(command.get_help_option(context_class(command)))
    for param in params:
        lighten_parameter(param)
    for sub in getattr(command, "commands", {}).values():
        lighten(sub)


def lighten_parameter(param: Any) -> None:
    """Give one parameter plain conversion when its annotation is simple."""
    plain = _plain_runtime_param(param) if RuntimeParam is not None else None
    if plain is not None:
        param._runtime_param = plain


def _plain_runtime_param(param: Any) -> Any:
    descriptor = getattr(param, "type_descriptor", None)
    if getattr(param, "_runtime_param", 1) is not None or descriptor is None:
        return None
    info = descriptor.parameter_info
    if not isinstance(info, ParameterInfo) or descriptor.file_annotation is not None:
        return None
    pristine = type(info)()
    if any(getattr(info, name, None) != getattr(pristine, name, None) for name in _CONSTRAINTS):
        return None
    target, many = _simple_type(descriptor.annotation)
    if target is None or (target not in (int, float) and (info.min, info.max) != (None, None)):
        return None
    return _PlainRuntimeParam(
        parameter_info=info,
        annotation=descriptor.annotation,
        target=target,
        many=many,
    )


def _simple_type(annotation: Any) -> tuple[type | None, bool]:
    """(the simple type, whether a list of it) of `annotation`, or (None, False)."""
    origin = get_origin(annotation)
    if origin is list:
        (inner,) = get_args(annotation) or (None,)
        return (inner, True) if inner in _SIMPLE else (None, False)
    if origin in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1 and rest[0] in _SIMPLE:
            return rest[0], False
        return None, False
    return (annotation, False) if annotation in _SIMPLE else (None, False)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainRuntimeParam(RuntimeParam):
        target: type
        many: bool

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                items = value if isinstance(value, list | tuple) else [value]
                return [self._one(item, param, ctx) for item in items]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            convert, wanted = _SIMPLE[self.target]
            try:
                kept = isinstance(value, self.target) and not isinstance(value, bool)
                result = value if kept else convert(value)
            except (TypeError, ValueError):
                raise typer.BadParameter(
                    f"Input should be {wanted}", ctx=ctx, param=param
                ) from None
            low: Any = self.parameter_info.min
            high: Any = self.parameter_info.max
            if low is not None and result < low:
                raise typer.BadParameter(
                    f"Input should be greater than or equal to {low}", ctx=ctx, param=param
                )
            if high is not None and result > high:
                raise typer.BadParameter(
                    f"Input should be less than or equal to {high}", ctx=ctx, param=param
                )
            return result
