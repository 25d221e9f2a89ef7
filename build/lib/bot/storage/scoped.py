"""One partnership's view of the database: what every store writes and reads through.

Several partnerships share one database (bot/storage/schema.py: every table has a
`partnership` column). A store is given this view, never the database itself, and the view
refuses a statement that does not keep to its partnership:

- every table the statement reads or writes must be matched by a mention of `partnership`
  (its column in an INSERT, or a condition on it), so a sub-query cannot forget it either;
- the partnership's id must be one of the statement's parameters, so the condition is on this
  partnership and not on another, nor on none.

A statement that breaks either rule is a bug in a store: `UnscopedStatement` says which, at
once, in the tests. Checked once per distinct statement text (the rules are about the text, and
the stores' statements are constants), so it costs a dictionary lookup per statement after that.
Locks are scoped too: one partnership's chat "telegram:42" is not another's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from bot.storage.interface import Begun, Db, Params

# A table named after one of these is read or written ("FOR UPDATE SKIP LOCKED" and "DO UPDATE
# SET" name none).
_TABLE_USE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(?!SET\b|SKIP\b|NOWAIT\b)(\w+)", re.I)
_PARTNERSHIP = re.compile(r"\bpartnership\b", re.IGNORECASE)


class UnscopedStatement(Exception):
    """A store's statement that could read or write another partnership's rows."""


def scope_problem(sql: str) -> str | None:
    """Why `sql` is not kept to one partnership, or None."""
    tables = _TABLE_USE.findall(sql)
    mentions = len(_PARTNERSHIP.findall(sql))
    if tables and mentions < len(tables):
        return (
            f"it uses {len(tables)} table(s) ({', '.join(tables)}) but names the partnership "
            f"{mentions} time(s): every table needs its partnership"
        )
    return None


class PartnershipDb:
    """The `Db` interface over a shared database, kept to one partnership."""

    def __init__(self, db: Db, partnership: str) -> None:
        self.inner = db
        self.partnership = partnership
        self.dialect = db.dialect
        self.skip_locked = db.skip_locked
        # Each statement text seen: whether it uses a table (else it needs no partnership).
        self._checked: dict[str, bool] = {}

    def _check(self, sql: str, params: Params) -> None:
        uses_tables = self._checked.get(sql)
        if uses_tables is None:
            problem = scope_problem(sql)
            if problem is not None:
                raise UnscopedStatement(f"{problem}: {sql}")
            uses_tables = self._checked[sql] = _TABLE_USE.search(sql) is not None
        values = params.values() if isinstance(params, dict) else params
        if uses_tables and self.partnership not in values:
            raise UnscopedStatement(f"the partnership is not one of the parameters: {sql}")

    async def close(self) -> None:
        """A view does not own the database: Storage closes it."""

    async def fetch(self, sql: str, params: Params = ()) -> list[Any]:
        self._check(sql, params)
        return await self.inner.fetch(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        self._check(sql, params)
        return await self.inner.fetchone(sql, params)

    async def fetch_point(self, sql: str, params: Params = ()) -> Any:
        self._check(sql, params)
        return await self.inner.fetch_point(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        self._check(sql, params)
        return await self.inner.execute(sql, params)

    async def write_returning(self, sql: str, params: Params = ()) -> list[Any]:
        self._check(sql, params)
        return await self.inner.write_returning(sql, params)

    async def write_each_returning(self, sql: str, rows: Sequence[Params]) -> list[list[Any]]:
        for row in rows:
            self._check(sql, row)
        return await self.inner.write_each_returning(sql, rows)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        for row in rows:
            self._check(sql, row)
        await self.inner.executemany(sql, rows)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self.inner.transaction()

    def transaction_on_write(self) -> AbstractAsyncContextManager[Begun]:
        return self.inner.transaction_on_write()

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        return self.inner.exclusive()

    async def serialize(self, name: str) -> None:
        """The named lock of this partnership (its own reference numbers, its own emails)."""
        await self.inner.serialize(f"{self.partnership}:{name}")

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        async with self.inner.chat_lock(f"{self.partnership}:{chat}"):
            yield
