"""Where each knowledge file is read from: the national knowledge, then one partnership's pack.

A pack's topics.yaml, reports.yaml and learning.yaml add entries to the national ones, and an
entry with a national entry's id replaces it; a pack's own notification form, threshold guide or
Word template replaces the national file whole (`Layers.one`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.validation import Problems, entry_list, load_yaml


@dataclass(frozen=True)
class Layers:
    """Where each knowledge file is read from: the national folder, then the pack's, if any."""

    national: Path
    pack: Path | None = None

    def folders(self) -> list[tuple[Path, str]]:
        """(folder, how its files are named in problems), national first."""
        found = [(self.national, "")]
        if self.pack is not None:
            found.append((self.pack, f"partnerships/{self.pack.name}/"))
        return found

    def files(self, name: str) -> list[tuple[Path, str]]:
        """(path, its name in problems) of `name` in each layer that has it; the national one
        is always listed, so a missing national file is reported."""
        return [
            (folder / name, f"{label}{name}")
            for folder, label in self.folders()
            if not label or (folder / name).exists()
        ]

    def one(self, name: str) -> Path:
        """The folder whose `name` is used, for a file a pack replaces whole."""
        if self.pack is not None and (self.pack / name).exists():
            return self.pack
        return self.national


def layered(
    layers: Layers, name: str, key: str, problems: Problems
) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, position, raw entry) of every entry under `key` in `name`, national first; an
    entry of a later layer with an earlier one's id replaces it. Duplicate ids within one file
    are reported by the caller."""
    entries: list[tuple[str, int, dict[str, Any]]] = []
    for path, file in layers.files(name):
        data = load_yaml(path, problems)
        if file != name and isinstance(data, dict) and key not in data:
            continue  # a pack's file may leave out a list it adds nothing to
        own = [(file, i, raw) for i, raw in enumerate(entry_list(data, key, file, problems), 1)]
        replaced = {raw.get("id") for _, _, raw in own} if file != name else set()
        entries = [e for e in entries if e[2].get("id") not in replaced] + own
    return entries
