"""A partnership's pack: the folder of what is local to one safeguarding children partnership.

`partnership.yaml` in it says who the partnership is, who to call when a child may be at risk,
who receives notifications and whose email is answered; beside it are its reports catalogue,
local topics, registry of liaison officers and, optionally, its own form and Word template
(read by knowledge/loader.py and config/registry.py). The packs shipped with the program live in
knowledge/partnerships/; `partnerships_dir` in the settings points at a partnership's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from config.validation import SAFE_LOADER

PACK_FILE = "partnership.yaml"
REGISTRY_FILE = "liaison_officers.yaml"
# What partnership.yaml may hold; docs/partnerships.md explains each.
KEYS = frozenset(
    (
        "name",
        "short_name",
        "area",
        "website",
        "contacts",
        "recipients",
        "allowed_email_domains",
        "branding",
        "retention",
    )
)


# What `main.py new-partnership` writes where the partnership's own value must go: a pack that
# still holds one is refused (by `check`, and at start), naming each.
PLACEHOLDER = "REPLACE:"


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.strip().startswith(PLACEHOLDER)


def _placeholders(node: Any, where: str) -> list[str]:
    """The fields under `node` still holding a placeholder, as `where.field`."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _placeholders(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node, 1) for p in _placeholders(v, f"{where}[{i}]")]
    return [where] if is_placeholder(node) else []


def shipped_packs() -> Path:
    """The packs installed with the program (knowledge/partnerships/), wherever it is installed."""
    return Path(str(resources.files("knowledge"))) / "partnerships"


@dataclass(frozen=True)
class Pack:
    """partnership.yaml, read but not yet checked field by field (config/settings.py does)."""

    id: str
    folder: Path
    name: str = ""
    short_name: str = ""
    area: str = ""
    website: str = ""
    contacts: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()
    allowed_email_domains: tuple[str, ...] = ()
    branding: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)


def _texts(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: expected a list of text values")
        return ()
    return tuple(v.strip() for v in value)


def _mapping(value: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping")
        return {}
    return value


def read_pack(folder: Path, problems: list[str]) -> Pack:
    """The pack in `folder`, with what is wrong with it added to `problems` (as `file: what`)."""
    where = f"{folder.name}/{PACK_FILE}"
    try:
        raw = yaml.load((folder / PACK_FILE).read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except FileNotFoundError:
        problems.append(f"partnership: no pack at {folder} (it needs a {PACK_FILE})")
        return Pack(folder.name, folder)
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML: {exc}")
        return Pack(folder.name, folder)
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return Pack(folder.name, folder)
    for key in sorted(set(raw) - KEYS):
        problems.append(f"{where}: {key}: unknown field (known: {', '.join(sorted(KEYS))})")
    for field_ in _placeholders(raw, "")[:50]:
        problems.append(
            f"{where}: {field_.lstrip('.')}: still a placeholder: give the partnership's own"
        )
    texts = {}
    for key in ("name", "short_name", "area", "website"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            problems.append(f"{where}: {key}: expected text")
            value = ""
        texts[key] = value.strip()
    if not texts["name"]:
        problems.append(f"{where}: name: the partnership's name is needed")
    return Pack(
        id=folder.name,
        folder=folder,
        contacts=_mapping(raw.get("contacts"), f"{where}: contacts", problems),
        recipients=_texts(raw.get("recipients"), f"{where}: recipients", problems),
        allowed_email_domains=_texts(
            raw.get("allowed_email_domains"), f"{where}: allowed_email_domains", problems
        ),
        branding=_mapping(raw.get("branding"), f"{where}: branding", problems),
        retention=_mapping(raw.get("retention"), f"{where}: retention", problems),
        **texts,
    )
