"""Where each knowledge file is read from: the national knowledge, then one partnership's pack.

A pack's topics.yaml, reports.yaml and learning.yaml add entries to the national ones, and an
entry with a national entry's id replaces it; a pack's own notification form, threshold guide or
Word template replaces the national file whole (`Layers.one`). A pack's topic with no `answer`
extends the national topic of its id instead (`local:` added to its answer, `local_more:` to its
more, and its questions and sources to the national ones: knowledge/loader.py).

National knowledge names no partnership: where it must, it says $partnership (the short name,
"BBSCP"), $partnership_name or $area, filled in from the pack's partnership.yaml (`names`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.partnership import read_pack
from config.validation import Problems, entry_list, load_yaml


@dataclass(frozen=True)
class Layers:
    """Where each knowledge file is read from: the national folder, then the pack's, if any."""

    national: Path
    pack: Path | None = None

    @property
    def names(self) -> dict[str, str]:
        """What the placeholders of national knowledge stand for, from the pack."""
        pack = read_pack(self.pack, []) if self.pack is not None else None
        short = pack.short_name or pack.name if pack is not None else ""
        return {
            "partnership": short or "the partnership",
            "partnership_name": (pack.name if pack is not None else "") or "the partnership",
            "area": (pack.area if pack is not None else "") or "your area",
        }

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


Extend = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def layered(
    layers: Layers,
    name: str,
    key: str,
    problems: Problems,
    extend: tuple[str, Extend] | None = None,
) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, position, raw entry) of every entry under `key` in `name`, national first; an
    entry of a later layer with an earlier one's id replaces it in its place, or, with `extend`
    = (a key, how), extends it when it lacks that key. Duplicate ids within one file are
    reported by the caller."""
    entries: list[tuple[str, int, dict[str, Any]]] = []
    names = layers.names
    for path, file in layers.files(name):
        data = load_yaml(path, problems, names)
        if file != name and isinstance(data, dict) and key not in data:
            continue  # a pack's file may leave out a list it adds nothing to
        own = [(file, i, raw) for i, raw in enumerate(entry_list(data, key, file, problems), 1)]
        if file == name:
            entries += own
            continue
        if extend is not None:
            own = _extended(entries, own, file, extend, problems)
        # A pack's entry replaces the national one of its id in its place (a pack's group keeps
        # the national heading's position); its new entries come after.
        first: dict[Any, tuple[str, int, dict[str, Any]]] = {}
        for entry in own:
            first.setdefault(entry[2].get("id"), entry)
        replacing = [first.get(e[2].get("id"), e) for e in entries]
        placed = {id(e) for e in replacing}
        entries = replacing + [e for e in own if id(e) not in placed]
    return entries


def _extended(
    earlier: list[tuple[str, int, dict[str, Any]]],
    own: list[tuple[str, int, dict[str, Any]]],
    file: str,
    extend: tuple[str, Extend],
    problems: Problems,
) -> list[tuple[str, int, dict[str, Any]]]:
    """`own`, each entry without the key `extend` names merged into the earlier entry it
    extends (keeping the earlier entry's file and place, for its problems)."""
    required, merge = extend
    by_id = {raw.get("id"): (f, i, raw) for f, i, raw in earlier}
    out = []
    for f, i, raw in own:
        if required in raw:
            out.append((f, i, raw))
        elif raw.get("id") in by_id:
            base_file, base_i, base = by_id[raw.get("id")]
            out.append((base_file, base_i, merge(base, raw)))
        else:
            problems.add(file, str(raw.get("id")), "id", "extends no national entry of this id")
    return out
