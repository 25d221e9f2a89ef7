"""What every store shares: the database helper (one connection and its transactions)."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.interface import Db


class Store:
    def __init__(self, db: Db) -> None:
        self.db = db


def json_overwrite(db: Db, column: str, values: dict[str, Any]) -> str:
    """SQL for the JSON text in `column` with the top-level `values` set (the two backends
    spell it differently). The values are constants of ours, written as literals."""
    if db.dialect == "postgresql":
        return f"({column}::jsonb || '{json.dumps(values)}'::jsonb)::text"
    pairs = ", ".join(f"'$.{key}', json('{json.dumps(value)}')" for key, value in values.items())
    return f"json_set({column}, {pairs})"
