"""The modules of bot/, actions/ and tools/ import each other one way: no import cycle, and
every import goes down the layers of docs/architecture.md (issue 16).

The graph counts every import statement, also the ones inside functions (a "local import" to
dodge a cycle is still a cycle). ``from package import name`` counts as an import of
``package.name`` when that is a module of bot/, else of ``package``. The implicit import of a
parent package (``bot.domain.catalogue`` before ``bot.domain.catalogue.model``) is not an edge.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from bot.settings import PROJECT_ROOT

PACKAGES = ("bot", "actions", "tools")
# layer -> the layers it may import (its own included); a module's layer is its longest prefix
LAYERS = {
    "bot.settings": {"bot.settings"},
    "bot.vocabulary": {"bot.vocabulary", "bot.settings"},
    "bot.domain": {"bot.domain", "bot.vocabulary", "bot.settings"},
    "bot.services": {"bot.services", "bot.domain", "bot.vocabulary", "bot.settings"},
    "bot.rasa": {"bot.rasa", "bot.services", "bot.domain", "bot.vocabulary", "bot.settings"},
    "actions": {"actions", "bot.services", "bot.domain", "bot.vocabulary", "bot.settings"},
    "bot.serve": {"bot.serve", "bot.rasa", "bot.services", "bot.domain", "bot.vocabulary", "bot.settings"},
    "tools": {"tools", "bot", "bot.serve", "bot.rasa", "bot.services", "bot.domain", "bot.vocabulary",
              "bot.settings"},
    "bot": {"bot"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((PROJECT_ROOT / package).rglob("*.py"))}


def layer_of(module: str) -> str:
    return max((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), key=len)


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """module -> the modules of bot/, actions/ and tools/ it imports (anywhere in the file)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(name, path, node)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_sees_local_and_relative_imports() -> None:
    graph = import_graph()
    assert "bot.domain.catalogue.model" in graph["bot.domain.catalogue.validate"]  # from .model import ...
    assert "bot.domain.catalogue.validate" in graph["bot.domain.catalogue.loader"]
    assert "bot.domain.catalogue.loader" in graph["bot.domain.handoff"]  # imported inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_bot() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_catalogue_imports_run_one_way() -> None:
    graph = import_graph()
    assert not graph["bot.domain.catalogue.model"] & {"bot.domain.catalogue.validate", "bot.domain.catalogue.loader"}
    assert "bot.domain.catalogue.loader" not in graph["bot.domain.catalogue.validate"]


def test_every_import_goes_down_the_layers() -> None:
    """Domain logic imports no service, Rasa glue or tool; services no Rasa glue; nothing in bot/
    imports actions/ or tools/."""
    wrong = sorted(f"{module} -> {target}" for module, targets in import_graph().items()
                   for target in targets if layer_of(target) not in LAYERS[layer_of(module)])
    assert not wrong, "imports that go up a layer:\n" + "\n".join(wrong)


def test_the_layers_are_the_folders() -> None:
    """Every module of bot/ sits in a layer's folder (or is one of the layers' single modules)."""
    assert layer_of("bot.domain.age") == "bot.domain" and layer_of("bot.rasa.nlu.crisis_detector") == "bot.rasa"
    assert LAYERS["bot.domain"] < LAYERS["bot.services"] < LAYERS["bot.rasa"]
    loose = [m for m in import_graph() if layer_of(m) == "bot" and m != "bot"]
    assert not loose, loose


def test_every_import_of_the_project_names_a_module_that_exists() -> None:
    """Also the imports inside functions (a relative import left behind by a move fails only when
    that function runs)."""
    modules = _modules()
    missing = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                targets = [_base(name, path, node)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            missing += [f"{name} -> {t}" for t in targets if t.split(".")[0] in PACKAGES and t not in modules]
    assert not missing, missing
