"""Dependencies point one way: the core, the channel adapters, configuration and knowledge never
import the flows in handlers/. Only bot/app.py, which wires the assistant together, does.
Configuration is the lowest layer: it imports nothing from knowledge/, bot/ or handlers/."""

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


def imports_of(package: str, *forbidden: str, root: Path = ROOT) -> dict[str, list[str]]:
    """For each module of `package` (but the wiring module), what it imports from `forbidden`."""
    wrong: dict[str, list[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in WIRING:
            continue
        hits = sorted(
            m
            for m in imported_modules(path)
            if any(m == f or m.startswith(f"{f}.") for f in forbidden)
        )
        if hits:
            wrong[name] = hits
    return wrong


def handler_imports(package: str) -> dict[str, list[str]]:
    return imports_of(package, "handlers")


def test_only_the_wiring_module_imports_handlers() -> None:
    for package in ("bot", "config", "knowledge"):
        assert handler_imports(package) == {}, f"{package}/ must not import handlers/"


def test_configuration_is_the_lowest_layer() -> None:
    assert imports_of("config", "knowledge", "bot", "handlers") == {}


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from handlers import signin\n", encoding="utf-8")
    assert "handlers.signin" in imported_modules(module)


def test_the_wiring_module_does_import_handlers() -> None:
    # If this fails, the rule above may be checking the wrong folder.
    assert any(m.startswith("handlers") for m in imported_modules(ROOT / "bot" / "app.py"))


def test_the_rule_names_what_a_lower_layer_imports(tmp_path: Path) -> None:
    # The config rule must be able to fail: a module importing knowledge/ is reported.
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "m.py").write_text(
        "from knowledge.validation import Problems\nimport bot.app\n", encoding="utf-8"
    )
    assert imports_of("low", "knowledge", "bot", root=tmp_path) == {
        "low/m.py": ["bot.app", "knowledge.validation", "knowledge.validation.Problems"]
    }
