"""The accuracy harness's development-set edits (bench/accuracy_set.py), loaded once for the
tests that check matching against the same edits the bench measures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

NAME = "bench_accuracy_set"


def accuracy_set() -> ModuleType:
    """bench/accuracy_set.py as a module (bench/ is not a package)."""
    if NAME in sys.modules:
        return sys.modules[NAME]
    path = Path(__file__).resolve().parents[1] / "bench" / "accuracy_set.py"
    spec = importlib.util.spec_from_file_location(NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
