"""What every store may ask of a database, on either backend (SQLite: sqlite.py; PostgreSQL:
postgres.py), and the errors both raise. Below both, so neither imports the other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Params = Sequence[Any] | dict[str, Any]
# A row as either driver returns it (aiosqlite.Row, sqlite3.Row, asyncpg.Record): read by name.
Row = Mapping[str, Any]


class DatabaseError(Exception):
    """A database problem the caller should report plainly (not a bug in the caller)."""


class TransactionFailed(DatabaseError):
    """The transaction was rolled back: nothing of it was saved."""


class DatabaseBusy(DatabaseError):
    """Another process held the database's write lock for longer than we wait."""


class Begun:
    """What `Db.transaction_on_write` yields: whether its transaction has begun (the task has
    written), and so whether the block's end commits anything."""

    begun: bool = False


class Db(Protocol):
    """One database: the SQL is written once with `?` placeholders; `dialect` and
    `skip_locked` spell out the few places the two differ."""

    dialect: str  # "sqlite" | "postgresql"
    skip_locked: str  # " FOR UPDATE SKIP LOCKED" where the backend has it, else ""

    async def close(self) -> None: ...
    async def fetch(self, sql: str, params: Params = ()) -> list[Any]: ...
    async def fetchone(self, sql: str, params: Params = ()) -> Any: ...
    async def fetch_point(self, sql: str, params: Params = ()) -> Any: ...
    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def write_returning(self, sql: str, params: Params = ()) -> list[Any]: ...
    async def write_each_returning(self, sql: str, rows: Sequence[Params]) -> list[list[Any]]: ...
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    def transaction(self) -> AbstractAsyncContextManager[None]: ...
    def transaction_on_write(self) -> AbstractAsyncContextManager[Begun]: ...
    def exclusive(self) -> AbstractAsyncContextManager[None]: ...
    async def serialize(self, name: str) -> None: ...
    def chat_lock(self, chat: str) -> AbstractAsyncContextManager[None]: ...


def is_postgres_url(target: object) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))
