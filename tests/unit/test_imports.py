"""The modules of bot/ import each other one way: no import cycle (issue 16).

The graph counts every import statement, also the ones inside functions (a "local import" to
dodge a cycle is still a cycle). ``from package import name`` counts as an import of
``package.name`` when that is a module of bot/, else of ``package``. The implicit import of a
parent package (``bot.catalogue`` before ``bot.catalogue.model``) is not an edge.
"""
from __future__ import annotations

import ast
from pathlib import Path

from bot.settings import PROJECT_ROOT

BOT = PROJECT_ROOT / "bot"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(BOT.rglob("*.py"))}


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of bot/ it imports (anywhere in the file)."""
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
    assert "bot.catalogue.model" in graph["bot.catalogue.validate"]  # from .model import ...
    assert "bot.catalogue.validate" in graph["bot.catalogue.loader"]
    assert "bot.catalogue.loader" in graph["bot.handoff"]  # imported inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_bot() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_catalogue_imports_run_one_way() -> None:
    graph = import_graph()
    assert not graph["bot.catalogue.model"] & {"bot.catalogue.validate", "bot.catalogue.loader"}
    assert "bot.catalogue.loader" not in graph["bot.catalogue.validate"]
