"""Our own reading of the import-linter contracts in `pyproject.toml` ([tool.importlinter]).

`make check` runs `lint-imports` where import-linter is installed; this module checks the same
declared contracts from the same table, so the layer map is enforced by `tests/test_layers.py`
on every machine. It supports the contract types and options the table uses: `layers` (with
containers, `|` independent and `:` non-independent siblings, `exhaustive`), `independence`,
`forbidden` (internal and external modules, `allow_indirect_imports`) and `acyclic_siblings`
(`ancestors`, `depth`), each with `ignore_imports` ("importer -> imported", `*` for one part).

The graph is built the way grimp builds it: every `import` and `from … import` anywhere in a
module (inside functions and `if TYPE_CHECKING:` blocks too), relative imports resolved, and
`from package import name` counted as an import of `package.name` when that is a module;
files in folders that are not packages (alembic's migration scripts) are not in it.

Run `python tests/import_contracts.py` to print the broken contracts (exit status 1 if any).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (l.{self.line})"


@dataclass
class ImportGraph:
    """Modules of the root package and the imports between them (and of external packages)."""

    root: str
    modules: set[str] = field(default_factory=set)
    imports: dict[str, list[Import]] = field(default_factory=dict)

    def add_import(self, importer: str, imported: str, line: int) -> None:
        self.imports.setdefault(importer, []).append(Import(importer, imported, line))

    def imports_of(self, module: str) -> list[Import]:
        return self.imports.get(module, [])

    def children(self, package: str) -> set[str]:
        """The modules and packages directly inside `package`."""
        prefix = f"{package}."
        return {
            prefix + module[len(prefix) :].split(".")[0]
            for module in self.modules
            if module.startswith(prefix)
        }

    def is_external(self, module: str) -> bool:
        return not (module == self.root or module.startswith(self.root + "."))


def _module_name(path: Path, source_root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _imported_names(node: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str]]:
    """(module imported, candidate submodule or "") for one import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, ""
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        for alias in node.names:
            yield target, f"{target}.{alias.name}"


def _in_packages(path: Path, package_dir: Path) -> bool:
    """Whether every folder from the root package down to `path` is a package (has an
    `__init__.py`), as grimp requires: alembic's migration scripts, which are not, are left out."""
    folder = path.parent
    while True:
        if not (folder / "__init__.py").exists():
            return False
        if folder == package_dir:
            return True
        folder = folder.parent


def build_graph(source_root: Path, root: str) -> ImportGraph:
    """The import graph of package `root` found under `source_root` (e.g. `src`)."""
    graph = ImportGraph(root)
    parsed: list[tuple[str, bool, ast.Module]] = []
    for path in sorted((source_root / root).rglob("*.py")):
        if _in_packages(path, source_root / root):
            module, is_package = _module_name(path, source_root)
            graph.modules.add(module)
            parsed.append((module, is_package, ast.parse(path.read_text(), str(path))))
    for module, is_package, tree in parsed:
        _add_imports(graph, module, is_package, tree)
    return graph


def add_module(graph: ImportGraph, module: str, source: str, *, is_package: bool = False) -> None:
    """Put one more module, with its imports, into `graph` (tests build synthetic graphs so)."""
    graph.modules.add(module)
    _add_imports(graph, module, is_package, ast.parse(source))


def _add_imports(graph: ImportGraph, module: str, is_package: bool, tree: ast.Module) -> None:
    for node in ast.walk(tree):
        for target, submodule in _imported_names(node, module, is_package):
            imported = submodule if submodule in graph.modules else target
            line = getattr(node, "lineno", 0)
            if not graph.is_external(imported):
                if imported in graph.modules and imported != module:
                    graph.add_import(module, imported, line)
            elif imported:
                graph.add_import(module, imported.split(".")[0], line)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _pattern(text: str) -> re.Pattern[str]:
    parts = [r"[^.]+" if p == "*" else re.escape(p) for p in text.strip().split(".")]
    return re.compile(r"\.".join(parts) + r"\Z")


@dataclass(frozen=True, slots=True)
class Ignored:
    importer: re.Pattern[str]
    imported: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> Ignored:
        importer, imported = text.split("->")
        return cls(_pattern(importer), _pattern(imported))

    def matches(self, item: Import) -> bool:
        return bool(self.importer.match(item.importer) and self.imported.match(item.imported))


class Checked:
    """One contract's view of the graph, with its ignored imports left out."""

    def __init__(self, graph: ImportGraph, spec: Mapping[str, Any]) -> None:
        self.graph = graph
        self.ignored = [Ignored.parse(text) for text in spec.get("ignore_imports", [])]

    def imports_of(self, module: str) -> list[Import]:
        return [
            item
            for item in self.graph.imports_of(module)
            if not any(rule.matches(item) for rule in self.ignored)
        ]

    def modules_in(self, package: str) -> list[str]:
        return sorted(m for m in self.graph.modules if _within(m, package))

    def chain(self, sources: Iterable[str], targets: list[str], avoid: list[str]) -> list[Import]:
        """The shortest chain of imports from a module of `sources` to one inside `targets`,
        passing through no module inside `avoid` (nor inside `targets` before its end)."""
        came_from: dict[str, Import | None] = {}
        queue: deque[str] = deque()
        for module in sources:
            came_from[module] = None
            queue.append(module)
        while queue:
            module = queue.popleft()
            for item in self.imports_of(module):
                nxt = item.imported
                if nxt in came_from:
                    continue
                came_from[nxt] = item
                if any(_within(nxt, t) for t in targets):
                    links: list[Import] = []
                    link: Import | None = item
                    while link is not None:
                        links.append(link)
                        link = came_from[link.importer]
                    return links[::-1]
                if not self.graph.is_external(nxt) and not any(_within(nxt, a) for a in avoid):
                    queue.append(nxt)
        return []


def _show(chain: list[Import]) -> str:
    return " then ".join(str(item) for item in chain)


def _layer_groups(spec: Mapping[str, Any]) -> list[tuple[list[str], bool]]:
    """The layers, highest first, each as (its modules, whether they are independent)."""
    groups = []
    for line in spec["layers"]:
        independent = "|" in line
        names = [name.strip() for name in re.split(r"[|:]", line)]
        groups.append((names, independent or len(names) == 1))
    return groups


def check_layers(graph: ImportGraph, spec: Mapping[str, Any]) -> list[str]:
    checked = Checked(graph, spec)
    broken: list[str] = []
    containers = spec.get("containers", [""])
    for container in containers:

        def full(name: str, container: str = container) -> str:
            return f"{container}.{name}" if container else name

        groups = [([full(n) for n in names], ind) for names, ind in _layer_groups(spec)]
        listed = [name for names, _ in groups for name in names]
        for name in listed:
            if name not in graph.modules:
                broken.append(f"layer {name} does not exist")
        if spec.get("exhaustive"):
            ignores = {full(n) for n in spec.get("exhaustive_ignores", [])}
            for child in sorted(graph.children(container) - set(listed) - ignores):
                broken.append(f"{child} is in no layer (the contract is exhaustive)")
        for low_index, (lows, independent) in enumerate(groups):
            highers = [name for names, _ in groups[:low_index] for name in names]
            for low in lows:
                siblings = [s for s in lows if s != low] if independent else []
                for high in [*highers, *siblings]:
                    path = checked.chain(checked.modules_in(low), [high], listed)
                    if path:
                        broken.append(f"{low} must not import {high}: {_show(path)}")
    return broken


def check_independence(graph: ImportGraph, spec: Mapping[str, Any]) -> list[str]:
    checked = Checked(graph, spec)
    modules: list[str] = list(spec["modules"])
    broken = []
    for source in modules:
        for target in modules:
            if source != target:
                path = checked.chain(checked.modules_in(source), [target], [])
                if path:
                    broken.append(f"{source} must not import {target}: {_show(path)}")
    return broken


def check_forbidden(graph: ImportGraph, spec: Mapping[str, Any]) -> list[str]:
    checked = Checked(graph, spec)
    broken = []
    forbidden: list[str] = list(spec["forbidden_modules"])
    for source in spec["source_modules"]:
        for target in forbidden:
            if spec.get("allow_indirect_imports"):
                direct = [
                    item
                    for module in checked.modules_in(source)
                    for item in checked.imports_of(module)
                    if _within(item.imported, target)
                ]
                path = direct[:1]
            else:
                path = checked.chain(checked.modules_in(source), [target], [])
            if path:
                broken.append(f"{source} must not import {target}: {_show(path)}")
    return broken


def _components(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _cycle_in(component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle through the first node of a strongly connected component, closed on itself."""
    start = min(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(edges.get(node, set()) & component):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*path[::-1], start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return []


def check_acyclic_siblings(graph: ImportGraph, spec: Mapping[str, Any]) -> list[str]:
    checked = Checked(graph, spec)
    broken = []
    max_depth = int(spec.get("depth", 10))
    pending = [(ancestor, 0) for ancestor in spec["ancestors"]]
    while pending:
        package, depth = pending.pop()
        children = graph.children(package)
        owner = {m: c for c in children for m in checked.modules_in(c)}
        edges: dict[str, set[str]] = {}
        witness: dict[tuple[str, str], Import] = {}
        for child in children:
            for module in checked.modules_in(child):
                for item in checked.imports_of(module):
                    other = owner.get(item.imported)
                    if other is not None and other != child:
                        edges.setdefault(child, set()).add(other)
                        witness.setdefault((child, other), item)
        for component in _components(edges):
            links = [str(witness[pair]) for pair in pairwise(_cycle_in(component, edges))]
            broken.append(f"cycle in {package}: " + " then ".join(links))
        if depth < max_depth:
            pending += [(c, depth + 1) for c in children if graph.children(c)]
    return broken


CHECKERS = {
    "layers": check_layers,
    "independence": check_independence,
    "forbidden": check_forbidden,
    "acyclic_siblings": check_acyclic_siblings,
}


def load_configuration(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
    return config


def broken_contracts(graph: ImportGraph, config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each broken contract's name and what breaks it (empty when every contract is kept)."""
    broken = {}
    for spec in config["contracts"]:
        found = CHECKERS[spec["type"]](graph, spec)
        if found:
            broken[spec["name"]] = found
    return broken


def main() -> int:
    config = load_configuration()
    broken = broken_contracts(build_graph(ROOT / "src", config["root_package"]), config)
    for name, found in broken.items():
        print(f"BROKEN: {name}")
        for line in found:
            print(f"  {line}")
    print(f"{len(config['contracts']) - len(broken)} kept, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
