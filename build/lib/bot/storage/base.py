"""What every store shares: one partnership's view of the database (bot/storage/scoped.py)."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.interface import Db
from bot.storage.scoped import PartnershipDb


class Store:
    """A store reads and writes one partnership's rows: every statement names `partnership`
    for each table it uses and passes `self.partnership` (the view refuses one that does not)."""

    def __init__(self, db: PartnershipDb) -> None:
        self.db = db
        self.partnership = db.partnership


def json_overwrite(db: Db, column: str, values: dict[str, Any]) -> str:
    """SQL for the JSON text in `column` with the top-level `values` set (the two backends
    spell it differently). The values are constants of ours, written as literals."""
    if db.dialect == "postgresql":
        return f"({column}::jsonb || '{json.dumps(values)}'::jsonb)::text"
    pairs = ", ".join(f"'$.{key}', json('{json.dumps(value)}')" for key, value in values.items())
    return f"json_set({column}, {pairs})"
