"""The PostgreSQL backend: the same interface as `bot.storage.sqlite.Database`, over an asyncpg
pool.

Several instances of the assistant can share one PostgreSQL database, which is what this is for.
The stores' SQL is written once, with `?` placeholders; they become `$1, $2, ...` here.

- A task's statements run on one pooled connection while it holds one: inside `transaction()`
  (nested: a SAVEPOINT) and inside `chat_lock()`. Other statements take any free connection.
- `chat_lock(chat)` is a session advisory lock keyed on a hash of the chat, held on the
  connection the handling of that message then uses: two instances never handle one chat at
  the same time, and a handler never needs a second connection (no pool deadlock).
- `serialize(name)` is a transaction advisory lock: the reference counters (SIN-, Q-) take
  it, so two instances never pick the same next number. It is released at COMMIT/ROLLBACK.
- The outbox claim adds `FOR UPDATE SKIP LOCKED` (`skip_locked`), so two workers never wait
  for, nor take, the same row.

The password comes from the environment (DATABASE_PASSWORD, else libpq's PGPASSWORD or
~/.pgpass), never from the settings file.
"""

from __future__ import annotations

import asyncio
import os
import re
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.storage.interface import Begun, DatabaseError, Params, TransactionFailed

# Advisory lock key spaces (the first of the two int4 keys), so ours never meet another's.
CHAT_LOCKS = 0x5347_0001
NAMED_LOCKS = 0x5347_0002
POOL_SIZE = 10


def lock_key(text: str) -> int:
    """A stable signed 32-bit key for `text` (the same in every process, unlike hash())."""
    value = zlib.crc32(text.encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """`?` placeholders (none of our SQL has a ? in a literal) become $1, $2, ..."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    """asyncpg returns the command tag ("UPDATE 3", "INSERT 0 1"): the last number is the count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _args(params: Params) -> list[Any]:
    """The parameters as asyncpg takes them. PostgreSQL refuses a NUL in any text (SQLite keeps
    it): it is dropped here, once for every store, so a NUL typed or pasted into a chat, a form
    or a page is never an error on one database and not the other."""
    if isinstance(params, dict):
        raise TypeError("named parameters are not supported with PostgreSQL")
    return [
        value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value
        for value in params
    ]


class PostgresDatabase:
    dialect = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # The connection each task is bound to (in a transaction or holding a chat lock).
        self._bound: dict[asyncio.Task[Any], asyncpg.Connection] = {}

    @classmethod
    async def open(cls, url: str, pool_size: int = POOL_SIZE) -> PostgresDatabase:
        password = os.environ.get("DATABASE_PASSWORD") or None
        try:
            pool = await asyncpg.create_pool(
                url, password=password, min_size=1, max_size=pool_size, command_timeout=60
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseError(f"could not connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        task = asyncio.current_task()
        bound = self._bound.get(task) if task is not None else None
        if bound is not None:
            yield bound
            return
        async with self.pool.acquire() as connection:
            if task is not None:
                self._bound[task] = connection
            try:
                yield connection
            finally:
                if task is not None:
                    self._bound.pop(task, None)

    # --- statements -------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        async with self._connection() as connection:
            return list(await connection.fetch(to_postgres(sql), *_args(params)))

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetch_point(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        """`fetchone` (SQLite reads these on the loop's thread; here it is a network call)."""
        return await self.fetchone(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._connection() as connection:
            return _rowcount(await connection.execute(to_postgres(sql), *_args(params)))

    async def write_returning(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        return await self.fetch(sql, params)

    async def write_each_returning(
        self, sql: str, rows: Sequence[Params]
    ) -> list[list[asyncpg.Record]]:
        async with self.transaction():
            return [await self.write_returning(sql, params) for params in rows]

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction(), self._connection() as connection:
            await connection.executemany(to_postgres(sql), [_args(r) for r in rows])

    # --- transactions and locks ---------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN ... COMMIT (READ COMMITTED), ROLLBACK when the body raises; nested: SAVEPOINT."""
        async with self._connection() as connection:
            tx = connection.transaction()
            await tx.start()
            try:
                yield
            except BaseException:
                await asyncio.shield(tx.rollback())
                raise
            try:
                await tx.commit()
            except asyncpg.PostgresError as exc:
                raise TransactionFailed(
                    f"the change could not be saved and was undone ({type(exc).__name__}: {exc})"
                ) from exc

    exclusive = transaction

    @asynccontextmanager
    async def transaction_on_write(self) -> AsyncIterator[Begun]:
        """`transaction` (SQLite defers it to the first write; here BEGIN costs one round trip
        on a connection the chat lock already holds)."""
        state = Begun()
        state.begun = True
        async with self.transaction():
            yield state

    async def serialize(self, name: str) -> None:
        """Inside a transaction: wait for, then hold until it ends, the lock named `name`."""
        await self.execute("SELECT pg_advisory_xact_lock(?, ?)", (NAMED_LOCKS, lock_key(name)))

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        """Hold `chat` against every other instance; this task's statements use the connection
        that holds it."""
        async with self._connection() as connection:
            key = lock_key(chat)
            await connection.execute("SELECT pg_advisory_lock($1, $2)", CHAT_LOCKS, key)
            try:
                yield
            finally:
                try:
                    await asyncio.shield(
                        connection.execute("SELECT pg_advisory_unlock($1, $2)", CHAT_LOCKS, key)
                    )
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    # The server releases a session lock when the connection ends: end it.
                    connection.terminate()
