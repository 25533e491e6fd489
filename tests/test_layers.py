"""The layer map declared in pyproject.toml ([tool.importlinter]) holds, covers every package,
and breaks when a module imports upward, across the edges or in a circle."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from import_contracts import (
    ROOT,
    ImportGraph,
    add_module,
    broken_contracts,
    build_graph,
    load_configuration,
)

CONFIG = load_configuration()
LAYERS = "Layers: engine < db < messaging < domain (in order) < api | ui < nodes < cli"
EDGES = "The HTTP API and the console know nothing of each other; only tutela.nodes mounts both"
CLI_EDGE = "The command line reaches the web apps only through the composition roots (tutela.nodes)"
ENGINE = "The engine knows no database, web or command line"
ACYCLIC = "No import cycles between the modules and packages inside any package"


@pytest.fixture(scope="module")
def tutela_graph() -> ImportGraph:
    return build_graph(ROOT / "src", "tutela")


def with_module(graph: ImportGraph, module: str, source: str) -> ImportGraph:
    changed = copy.deepcopy(graph)
    add_module(changed, module, source)
    return changed


def newly_broken(before: ImportGraph, after: ImportGraph) -> dict[str, list[str]]:
    """What `after` breaks that `before` did not (so that each test sees only its own import)."""
    old = broken_contracts(before, CONFIG)
    new = {
        name: [line for line in lines if line not in old.get(name, [])]
        for name, lines in broken_contracts(after, CONFIG).items()
    }
    return {name: lines for name, lines in new.items() if lines}


def test_every_declared_contract_holds(tutela_graph: ImportGraph) -> None:
    assert broken_contracts(tutela_graph, CONFIG) == {}


def test_every_package_and_top_level_module_has_a_place_in_the_layer_map(
    tutela_graph: ImportGraph,
) -> None:
    layers: dict[str, Any] = next(c for c in CONFIG["contracts"] if c["type"] == "layers")
    placed = {name.strip() for line in layers["layers"] for name in line.split("|")}
    assert {child.removeprefix("tutela.") for child in tutela_graph.children("tutela")} == placed


def test_an_upward_relative_import_in_a_copy_of_the_source_breaks_the_layers(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "src" / "tutela", tmp_path / "tutela")
    (tmp_path / "tutela" / "audit" / "upward.py").write_text(
        '"""Reads review decisions from below."""\n\nfrom ..review import models\n'
    )
    broken = newly_broken(build_graph(ROOT / "src", "tutela"), build_graph(tmp_path, "tutela"))
    assert broken[LAYERS] == [
        "tutela.audit must not import tutela.review: "
        "tutela.audit.upward -> tutela.review.models (l.3)"
    ]
    assert ACYCLIC in broken  # review imports audit, so this also closes a circle


def test_a_domain_package_importing_a_later_one_breaks_the_layers(
    tutela_graph: ImportGraph,
) -> None:
    graph = with_module(
        tutela_graph, "tutela.detection.peek", "from tutela.review.queues import URGENT\n"
    )
    assert newly_broken(tutela_graph, graph)[LAYERS] == [
        "tutela.detection must not import tutela.review: "
        "tutela.detection.peek -> tutela.review.queues (l.1)"
    ]


def test_the_api_importing_the_console_breaks_the_edges(tutela_graph: ImportGraph) -> None:
    graph = with_module(tutela_graph, "tutela.api.pages", "import tutela.ui.console\n")
    assert newly_broken(tutela_graph, graph) == {
        LAYERS: [
            "tutela.api must not import tutela.ui: tutela.api.pages -> tutela.ui.console (l.1)"
        ],
        EDGES: [
            "tutela.api must not import tutela.ui: tutela.api.pages -> tutela.ui.console (l.1)"
        ],
    }


def test_the_command_line_importing_the_api_directly_breaks_its_contract(
    tutela_graph: ImportGraph,
) -> None:
    graph = with_module(
        tutela_graph, "tutela.cli.shortcut", "from tutela.api.app import create_app\n"
    )
    assert list(newly_broken(tutela_graph, graph)) == [CLI_EDGE]


def test_the_engine_importing_the_database_library_breaks_its_contract(
    tutela_graph: ImportGraph,
) -> None:
    graph = with_module(tutela_graph, "tutela.media.rows", "def f():\n    import sqlalchemy\n")
    assert list(newly_broken(tutela_graph, graph)) == [ENGINE]


def test_a_circle_between_two_modules_of_one_package_breaks_the_acyclic_contract(
    tutela_graph: ImportGraph,
) -> None:
    graph = copy.deepcopy(tutela_graph)
    add_module(graph, "tutela.review.loop_a", "from tutela.review import loop_b\n")
    add_module(graph, "tutela.review.loop_b", "from . import loop_a\n")
    # (loop_a was added before loop_b existed: its import names the package, then the module)
    add_module(graph, "tutela.review.loop_a", "from tutela.review import loop_b\n")
    broken = newly_broken(tutela_graph, graph)
    assert list(broken) == [ACYCLIC]
    assert broken[ACYCLIC] == [
        "cycle in tutela.review: tutela.review.loop_a -> tutela.review.loop_b (l.1) then "
        "tutela.review.loop_b -> tutela.review.loop_a (l.1)"
    ]


def test_a_new_package_left_out_of_the_map_breaks_the_exhaustive_layers(
    tutela_graph: ImportGraph,
) -> None:
    graph = with_module(tutela_graph, "tutela.newcomer", "")
    assert newly_broken(tutela_graph, graph) == {
        LAYERS: ["tutela.newcomer is in no layer (the contract is exhaustive)"]
    }


def test_from_package_import_name_counts_as_an_import_of_the_module_when_it_is_one() -> None:
    graph = ImportGraph("pkg", modules={"pkg", "pkg.low", "pkg.low.rows"})
    add_module(graph, "pkg.high", "from pkg.low import rows, helper\nfrom .low.rows import x\n")
    assert {(i.imported, i.line) for i in graph.imports_of("pkg.high")} == {
        ("pkg.low.rows", 1),
        ("pkg.low", 1),
        ("pkg.low.rows", 2),
    }
