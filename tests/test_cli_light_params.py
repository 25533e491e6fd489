"""Commands convert their simple values without pydantic (tutela.cli.light_params), to the same
values and with the same error texts as Typer's own conversion."""

from __future__ import annotations

from typing import Any

import pytest
import typer
import typer.main

from tutela.cli import load_commands
from tutela.cli.light_params import AVAILABLE, _plain_runtime_param

SAMPLES: dict[type, list[Any]] = {
    int: ["5", "0", "-3", "x", "1.5", "", "1e3", True],
    float: ["2.5", "0", "-1", "x", "1e3", "", 4],
    str: ["abc", "", "ünï"],
    bool: ["true", "0", "Yes", "off", "maybe", True, False],
}


def _params() -> list[tuple[str, Any, Any]]:
    found = []

    def walk(command: Any, name: str) -> None:
        context = command.context_class(command)
        for param in [*command.params, command.get_help_option(context)]:
            found.append((f"{name} {param.name}", param, context))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{name} {sub_name}")

    walk(typer.main.get_group(load_commands()), "tutela")
    return found


def _outcome(runtime: Any, value: Any, param: Any, context: Any) -> tuple[str, Any]:
    try:
        result = runtime.coerce(value, param=param, ctx=context)
    except typer.BadParameter as error:
        return "error", error.message
    return "value", (type(result), result)


@pytest.mark.skipif(not AVAILABLE, reason="this Typer converts without pydantic anyway")
def test_each_lightened_parameter_converts_as_typer_does() -> None:
    from typer._coercion import build_runtime_param

    lightened = 0
    for name, param, context in _params():
        if param is None or getattr(param, "_runtime_param", 1) is not None:
            continue
        plain = _plain_runtime_param(param)
        if plain is None:
            continue
        lightened += 1
        typer_own = build_runtime_param(param.type_descriptor)
        values = SAMPLES.get(plain.target, ["/tmp/x", "relative/path", ""])
        for value in values:
            sample = [value] if plain.many else value
            assert _outcome(plain, sample, param, context) == _outcome(
                typer_own, sample, param, context
            ), (name, sample)
    assert lightened > 100


def test_a_bad_value_is_a_usage_error_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    from tutela.cli import main

    for jobs, says in (("0", "greater than or equal to 1"), ("x", "a valid integer")):
        with pytest.raises(SystemExit) as exited:
            main(["hash", "--jobs", jobs, "nothing.jpg"])
        assert exited.value.code == 2
        error = capsys.readouterr().err
        assert "'--jobs' / '-j'" in error and says in error
