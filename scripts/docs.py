"""Reference docs generated from the code: the settings tables (tutela.settings and the exchange
credentials), the command reference (the Typer app) and the error codes (tutela.errors).

Each lies in a Markdown file between `<!-- [[[generated:NAME]]] -->` and `<!-- [[[end]]] -->`.
`python scripts/docs.py` rewrites those sections; `python scripts/docs.py --check` changes
nothing and exits 1, naming the sections, when a file differs from what the code says (make check
and tests/test_docs_generated.py run it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "README.md", ROOT / "docs" / "cli.md")
SECTION = re.compile(
    r"(?P<start><!-- \[\[\[generated:(?P<name>[a-z-]+)\]\]\] -->\n)(?P<body>.*?)(?P<end><!-- \[\[\[end\]\]\] -->)",
    re.DOTALL,
)


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def settings_table() -> str:
    from tutela.setting_fields import declared, shown_default
    from tutela.settings import Settings

    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting, default in declared(Settings):
        rows.append(
            f"| `{setting.env}` | {_cell(shown_default(setting, default))} | {_cell(setting.doc)} |"
        )
    return "\n".join(rows)


def credentials_table() -> str:
    from tutela.indicators.fetchers.credentials import CREDENTIAL_VARIABLES

    rows = ["| variable | meaning |", "|---|---|"]
    rows += [f"| `{name}` | {_cell(doc)} |" for name, doc in CREDENTIAL_VARIABLES.items()]
    return "\n".join(rows)


def _leaf_commands(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    """(full name, command) of every command that runs something, in name order."""
    if getattr(command, "hidden", False):
        return
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name in sorted(subcommands):
        yield from _leaf_commands(subcommands[name], [*path, name])


def _synopsis(name: str, command: Any) -> str:
    """`tutela bank snapshot [--full] [--json]`: arguments, then options (required ones bare)."""
    parts = [name]
    options = []
    for param in command.params:
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        if param.param_type_name == "argument":
            word = param.name.upper() + ("…" if param.nargs == -1 else "")
            parts.append(word if param.required else f"[{word}]")
            continue
        flag = "/".join([param.opts[0], *param.secondary_opts])
        word = flag if param.is_flag else f"{param.opts[0]} {param.name.upper()}"
        if param.multiple:
            word += " …"
        options.append(word if param.required else f"[{word}]")
    return " ".join(parts + options)


def _commands() -> list[tuple[str, Any]]:
    import typer.main

    from tutela.cli import load_commands

    return list(_leaf_commands(typer.main.get_group(load_commands()), ["tutela"]))


def cli_table() -> str:
    rows = ["| command | what it does |", "|---|---|"]
    for name, command in _commands():
        rows.append(f"| `{_synopsis(name, command)}` | {_cell(command.get_short_help_str(200))} |")
    return "\n".join(rows)


def cli_reference() -> str:
    """Every command with its whole help text and each option's help."""
    out: list[str] = []
    for name, command in _commands():
        out += [f"### `{name}`", "", f"`{_synopsis(name, command)}`", ""]
        if command.help:
            out += [_help_text(command.help), ""]
        for param in command.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            label = (
                param.name.upper()
                if param.param_type_name == "argument"
                else ", ".join([*param.opts, *param.secondary_opts])
            )
            out.append(f"- `{label}`: {_cell(getattr(param, 'help', None) or '')}".rstrip(": "))
        out.append("")
    return "\n".join(out).rstrip()


def _help_text(text: str) -> str:
    """Click's help text as Markdown paragraphs (its `\\b` no-rewrap marks dropped)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip() != "\b"]
    return "\n\n".join(" ".join(p.replace("\b", "").split()) for p in paragraphs)


def error_table() -> str:
    from tutela import errors

    rows = ["| code | HTTP status | error | meaning |", "|---|---|---|---|"]

    def walk(cls: type[errors.TutelaError], depth: int) -> None:
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        if cls.__doc__ == cls.__mro__[1].__doc__:
            doc = ""  # inherited, not its own
        indent = "&nbsp;&nbsp;" * depth
        rows.append(f"| `{cls.code}` | {cls.status} | {indent}{cls.__name__} | {_cell(doc)} |")
        for sub in sorted(cls.__subclasses__(), key=_defined_at):
            if sub.__module__ == errors.__name__:
                walk(sub, depth + 1)

    walk(errors.TutelaError, 0)
    return "\n".join(rows)


def _defined_at(cls: type) -> int:
    """Source line of a class in its module, to list classes in the order they are written."""
    import inspect

    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "credentials": credentials_table,
    "cli": cli_table,
    "cli-reference": cli_reference,
    "errors": error_table,
}


def render(text: str) -> str:
    """`text` with every generated section made anew; an unknown section name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise SystemExit(f"unknown generated section {name!r}")
        return f"{match['start']}{GENERATORS[name]().rstrip()}\n{match['end']}"

    return SECTION.sub(replace, text)


def stale_sections(old: str, new: str) -> list[str]:
    """Names of the sections whose text differs between `old` and `new`."""
    before = {m["name"]: m["body"] for m in SECTION.finditer(old)}
    return [m["name"] for m in SECTION.finditer(new) if before.get(m["name"]) != m["body"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a file is out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for path in FILES:
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new == old:
            continue
        if args.check:
            names = ", ".join(stale_sections(old, new)) or "?"
            stale.append(f"{path.relative_to(ROOT)} ({names})")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    if stale:
        print(
            "generated docs out of date: " + "; ".join(stale) + ". Run: python scripts/docs.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
