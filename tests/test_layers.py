"""Dependencies point one way, counting every import: at the top of a module, inside a function,
and under TYPE_CHECKING. Each room of the house may import only the rooms below it, so there is
no import circle, and nothing is exempt but bot/app.py, the one module that wires the flows
(handlers/) into the core.

    config < knowledge < bot.mail.headers < bot.mail.message < bot.storage < bot.core < bot.mail
           < bot.ops < handlers < bot.assistant < bot.channels < bot.server < bot.app
           < bot.installation < bot.cli < main

(docs/architecture.md draws the same.) A module's room is the longest name below that it
starts with; a room may always import itself. handlers/ sits in the order for what it may import;
no other room imports it but the wiring module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = (
    "bot",  # bot/__init__.py; a new module at bot's root must be given its place below
    "config",
    "knowledge",
    "bot.mail.headers",
    "bot.mail.message",
    "bot.storage",
    "bot.core",
    "bot.mail",
    "bot.ops",
    "handlers",
    "bot.assistant",
    "bot.channels",
    "bot.server",
    "bot.app",
    "bot.installation",
    "bot.cli",
    "main",
)
WIRING = "bot.app"  # the one module that may import handlers/ from outside it
PROJECT = ("config", "knowledge", "bot", "handlers", "main")


def imported_modules(path: Path, package: str) -> set[str]:
    """Every project module `path` imports, anywhere in it (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            # `from handlers import admin` imports handlers.admin
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PROJECT}


def room_of(module: str) -> str | None:
    rooms = [r for r in ORDER if module == r or module.startswith(f"{r}.")]
    return max(rooms, key=len) if rooms else None


def module_name(path: Path, root: Path) -> tuple[str, str]:
    """(module, its package) for a file under `root`."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def wrong_imports(root: Path = ROOT) -> dict[str, list[str]]:
    """For each module, the imports that point up (or sideways) in ORDER."""
    wrong: dict[str, list[str]] = {}
    files = [p for top in PROJECT for p in (root / top).rglob("*.py")] + [root / "main.py"]
    for path in sorted(p for p in files if p.is_file()):
        module, package = module_name(path, root)
        room = room_of(module)
        assert room is not None, module
        allowed = set(ORDER[: ORDER.index(room) + 1])
        bad = []
        for imported in sorted(imported_modules(path, package)):
            other = room_of(imported)
            if other == "handlers":  # the flows are wired in one place only
                if room != "handlers" and module != WIRING:
                    bad.append(imported)
            elif other is not None and other not in allowed:
                bad.append(imported)
        if bad:
            wrong[module] = bad
    return wrong


def test_every_import_points_down() -> None:
    assert wrong_imports() == {}


def test_the_rule_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "low.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.core.replies import Reply\n"
        "def f():\n    from handlers import signin\n",
        encoding="utf-8",
    )
    assert wrong_imports(tmp_path) == {
        "config.low": ["bot.core.replies", "bot.core.replies.Reply", "handlers", "handlers.signin"]
    }


def test_the_rule_resolves_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "bot" / "storage").mkdir(parents=True)
    (tmp_path / "bot" / "storage" / "x.py").write_text("from ..core import conversation\n")
    assert wrong_imports(tmp_path) == {"bot.storage.x": ["bot.core", "bot.core.conversation"]}


def test_only_the_wiring_module_imports_handlers(tmp_path: Path) -> None:
    for name in ("app", "server"):
        (tmp_path / "bot").mkdir(exist_ok=True)
        (tmp_path / "bot" / f"{name}.py").write_text("from handlers import admin\n")
    assert wrong_imports(tmp_path) == {"bot.server": ["handlers", "handlers.admin"]}


def test_the_wiring_module_does_import_handlers() -> None:
    # If this fails, the exemption may be on the wrong module.
    imported = imported_modules(ROOT / "bot" / "app.py", "bot")
    assert any(m.startswith("handlers") for m in imported)
