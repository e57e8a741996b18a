"""``except Exception`` only where a boundary needs it, with a comment why (issue 16, item 5)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import List

from bot.settings import PROJECT_ROOT

BROAD = {"Exception", "BaseException"}


def uncommented_broad_handlers(source: str) -> List[int]:
    """Line numbers of ``except Exception`` / ``except BaseException`` / bare ``except:`` whose
    line carries no comment saying why."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ExceptHandler):
            continue
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        broad = node.type is None or any(isinstance(n, ast.Name) and n.id in BROAD for n in names)
        if broad and "#" not in lines[node.lineno - 1]:
            found.append(node.lineno)
    return found


def test_the_check_finds_a_broad_handler_without_a_reason() -> None:
    source = "try:\n    pass\nexcept Exception:\n    pass\ntry:\n    pass\nexcept (ValueError, Exception):  # why\n    pass\n"
    assert uncommented_broad_handlers(source) == [3]
    assert uncommented_broad_handlers("try:\n    pass\nexcept:\n    pass\n") == [3]
    assert uncommented_broad_handlers("try:\n    pass\nexcept OSError:\n    pass\n") == []


def test_every_broad_handler_in_bot_and_actions_says_why() -> None:
    missing = []
    for folder in ("bot", "actions"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for line in uncommented_broad_handlers(path.read_text(encoding="utf-8")):
                missing.append(f"{Path(path).relative_to(PROJECT_ROOT)}:{line}")
    assert not missing, "a broad except without a comment why: " + ", ".join(missing)
