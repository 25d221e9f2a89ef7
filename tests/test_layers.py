"""Dependencies point one way: the core, the channel adapters, configuration and knowledge never
import the flows in handlers/. Only bot/app.py, which wires the assistant together, does."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIRING = {"bot/app.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from handlers import admin` imports handlers.admin
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def handler_imports(package: str) -> dict[str, list[str]]:
    wrong: dict[str, list[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name in WIRING:
            continue
        hits = sorted(
            m for m in imported_modules(path) if m == "handlers" or m.startswith("handlers.")
        )
        if hits:
            wrong[name] = hits
    return wrong


def test_only_the_wiring_module_imports_handlers() -> None:
    for package in ("bot", "config", "knowledge"):
        assert handler_imports(package) == {}, f"{package}/ must not import handlers/"


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from handlers import signin\n", encoding="utf-8")
    assert "handlers.signin" in imported_modules(module)


def test_the_wiring_module_does_import_handlers() -> None:
    # If this fails, the rule above may be checking the wrong folder.
    assert any(m.startswith("handlers") for m in imported_modules(ROOT / "bot" / "app.py"))
