"""The README's settings, command and error-code tables are what scripts/docs.py writes from the
code, so `make test` (and `make check`) catch a setting, option or error code the docs miss."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_script", ROOT / "scripts" / "docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_section_matches_the_code(docs: ModuleType) -> None:
    for path in docs.FILES:
        text = path.read_text(encoding="utf-8")
        stale = docs.stale_sections(text, docs.render(text))
        assert not stale, f"{path.name}: run python scripts/docs.py ({', '.join(stale)})"


def test_the_check_names_a_section_that_drifted(docs: ModuleType) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    drifted = readme.replace("| `TUTELA_DATA_DIR` |", "| `TUTELA_DATADIR` |", 1)
    assert drifted != readme
    assert docs.stale_sections(drifted, docs.render(drifted)) == ["settings"]


def test_every_setting_command_and_error_code_is_in_the_tables(docs: ModuleType) -> None:
    from tutela.errors import ConfigurationError, StaleSignature
    from tutela.setting_fields import declared
    from tutela.settings import Settings

    settings = docs.settings_table()
    assert all(f"`{setting.env}`" in settings for setting, _ in declared(Settings))
    assert "| `TUTELA_JOB_LEASE_S` | `120` |" in settings
    commands = docs.cli_table()
    assert "`tutela bank snapshot [--full] [--json]`" in commands
    assert (
        "`tutela hash PATHS… [--json] [--exact] [--dihedral] [--jobs JOBS] [--vpdq-dir VPDQ_DIR]`"
        in commands
    )
    errors = docs.error_table()
    for error in (ConfigurationError, StaleSignature):
        assert f"| `{error.code}` | {error.status} |" in errors
