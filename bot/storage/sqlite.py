"""One SQLite connection, shared by the tasks of a process, used one statement at a time.

Why this exists (issue 9). aiosqlite runs each call in its own thread hop, so between the `execute`
of a statement and the fetch of its rows, other tasks' statements run on the same connection. A
half-read `UPDATE ... RETURNING` then made another task's COMMIT fail ("SQL statements in
progress"), and a COMMIT that failed outside the `try` left the connection in an open
transaction that swallowed every later write. The rules here make that impossible:

- every use of the connection holds one asyncio lock, and a statement's rows are fetched in the
  same thread hop that runs it, so no statement is left half-read across an await;
- a transaction holds the lock from BEGIN to COMMIT, so no other task's statement joins it;
- every transaction ends in COMMIT or ROLLBACK: a COMMIT that fails is rolled back and raised
  as `TransactionFailed`;
- writes begin IMMEDIATE (the write lock is taken first, so a read snapshot never has to be
  upgraded: no SQLITE_BUSY_SNAPSHOT), and BEGIN is retried while another process holds the lock.

Sharing a file between processes (the console beside the bot) relies on WAL mode and on the
retry; `migrate` runs under an exclusive lock and reads the schema version only once it has it.
A nested `transaction()` in the same task is a SAVEPOINT. The helper knows nothing of the schema,
so the stores built on it can share it.

Incoming messages (issue 30) made two writes of every message (stored on arrival, marked handled)
and one more after its replies; through the writer's thread, each hop handing the GIL over and
back, that doubled the CPU a message costs. So: a one-statement write outside a transaction is
a transaction by itself (autocommit), run on the event loop's thread through a point writer
when the database is free that instant (`_statement`), and a conversation's turn takes the
writer only from its first write (`transaction_on_write`). The point writer never waits: busy,
the write goes the writer's way.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.interface import Begun, DatabaseBusy, Params, TransactionFailed
from config.private import narrow, private_file

log = logging.getLogger(__name__)
T = TypeVar("T")


# How long a write waits for another process's write lock before giving up, in all: SQLite's
# own busy handler waits up to BUSY_TIMEOUT_MS per attempt, and BEGIN is retried until this.
BUSY_TIMEOUT_MS = 5000
WRITE_DEADLINE_SECONDS = 60.0
# SQLITE_BUSY and its extended codes (BUSY_RECOVERY 261, BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773),
# and SQLITE_LOCKED (6): all mean "someone else has it now, try again".
BUSY_CODES = frozenset((5, 6, 261, 517, 773))
# The WAL is checkpointed (by the writer's thread) after this many writes of the point writer:
# SQLite's own default is every 1000 pages.
CHECKPOINT_EVERY = 500


def is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # some builds leave the code out: fall back on the message
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    return code in BUSY_CODES


def create_private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by the owner only, or make it so.

    SQLite would create the file with the process's umask (often 0644); its -wal and -shm files
    copy the database file's mode, so making this one 0600 covers them all. A database made by
    an earlier release, or copied in, may already be readable by others: it holds children's
    details, so it (and any -wal and -shm beside it) is narrowed to the owner at start.
    """
    private_file(path)
    for file in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        narrow(file)


async def _open_reader(path: str | Path) -> aiosqlite.Connection:
    reader = await aiosqlite.connect(str(path), isolation_level=None)
    reader.row_factory = aiosqlite.Row
    try:
        await reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await reader.execute("PRAGMA query_only=ON")  # a write here would be a bug: refuse it
        await reader.execute("PRAGMA secure_delete=ON")  # as the writer, for PRAGMA reads
    except BaseException:
        await reader.close()
        raise
    return reader


def _open_point_reader(path: str | Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for `Database.fetch_point`, used on the event loop's thread.
    It never waits for a lock (timeout 0: a busy database is read on the reader's thread
    instead), writes nothing, and reads each row to the end at once."""
    point = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    point.row_factory = sqlite3.Row
    try:
        point.execute("PRAGMA query_only=ON")
    except BaseException:
        point.close()
        raise
    return point


def _open_point_writer(path: str | Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for one-statement writes on the event loop's thread
    (`Database._statement`). It never waits for a lock (timeout 0: a busy database is written
    through the writer's thread instead), syncs as the writer does (NORMAL: no fsync at each
    commit), and never checkpoints the WAL (the writer does, on its own thread)."""
    point = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    point.row_factory = sqlite3.Row
    try:
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON"):
            point.execute(f"PRAGMA {pragma}")
        point.execute("PRAGMA wal_autocheckpoint=0")
    except BaseException:
        point.close()
        raise
    return point


class Database:
    """The connection and its lock. Use `fetch`/`fetchone` to read, `execute` for a one-statement
    write, and `async with transaction():` around several statements that must stand together."""

    dialect = "sqlite"
    # SQLite serialises writers with BEGIN IMMEDIATE: a claim needs no row lock.
    skip_locked = ""

    def __init__(
        self, connection: aiosqlite.Connection, reader: aiosqlite.Connection | None = None
    ) -> None:
        self.connection = connection
        # A second connection for reads outside a transaction (a file database only): in WAL
        # mode it reads the last committed state while the first one writes, so a chat's
        # session load does not queue behind another chat's commit.
        self.reader = reader
        # A third, for reads of one row by its key (fetch_point), without a thread hop.
        self.point: sqlite3.Connection | None = None
        # A fourth, for writes of one statement outside a transaction, without a thread hop.
        self.point_writer: sqlite3.Connection | None = None
        self._point_writes = 0  # since the last checkpoint (which the writer's thread does)
        self._checkpoint: asyncio.Task[None] | None = None
        self._read_lock = asyncio.Lock()
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None  # the task holding the lock
        self._depth = 0  # transaction nesting depth of the owner
        # The owner, when its transaction is on the point writer (`_begin_if_waiting`): its
        # statements run there, and nobody else's autocommit write may (it would join it).
        self._on_point: asyncio.Task[Any] | None = None
        # Tasks inside `transaction_on_write` that have not written yet.
        self._waiting: dict[asyncio.Task[Any], Begun] = {}

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open `path` (":memory:" for a throwaway database) with the settings every use needs."""
        if str(path) != ":memory:":
            create_private_file(Path(path))
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        connection.row_factory = aiosqlite.Row
        database = cls(connection)
        try:
            await connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await database._retry_busy(lambda: connection.execute("PRAGMA journal_mode=WAL"))
            # In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a committed
            # transaction survives the process being killed (it is in the WAL file, which the OS
            # holds), though the last ones could be lost if the machine itself loses power.
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            # Deleted content is overwritten, not left in free pages (the default varies by build).
            await connection.execute("PRAGMA secure_delete=ON")
            if str(path) != ":memory:":
                database.reader = await _open_reader(path)
                database.point = _open_point_reader(path)
                database.point_writer = _open_point_writer(path)
        except BaseException:
            await connection.close()
            if database.reader is not None:
                await database.reader.close()
            raise
        return database

    async def close(self) -> None:
        if self._checkpoint is not None:
            await self._checkpoint
        async with self._lock:
            await self.connection.close()
        if self.reader is not None:
            async with self._read_lock:
                await self.reader.close()
        if self.point is not None:
            self.point.close()
            self.point = None
        if self.point_writer is not None:
            self.point_writer.close()
            self.point_writer = None

    # --- statements -------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """Run one statement and return all its rows (fetched before anything else runs).

        Outside a transaction, on the reader connection: each read is a fresh snapshot, so it
        sees every transaction committed before it began. Inside one, on the writer, so the
        transaction reads its own changes."""
        task = asyncio.current_task()
        if self.point_writer is not None and task is not None and self._on_point is task:
            return self.point_writer.execute(sql, params).fetchall()
        if self.reader is None or (task is not None and self._owner is task):
            async with self._use():
                return list(await self.connection.execute_fetchall(sql, params))
        async with self._read_lock:
            return list(await self.reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetch_point(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """`fetchone` for a read of one row by its key (a chat's session, on every message).

        Outside a transaction it runs on this thread: an indexed read of one row takes a few
        microseconds, while a hop to the reader's thread and back costs ten times that in CPU
        (the queue, waking the thread, the GIL, waking the loop). It cannot block the loop: in
        WAL mode a read never waits for a writer, and in the rare moments it would have to
        wait (another process recovering the WAL, or changing the schema) SQLite says so at
        once and the read goes to the reader's thread, which may wait."""
        task = asyncio.current_task()
        if self.point is not None and not (task is not None and self._owner is task):
            try:
                row: sqlite3.Row | None = self.point.execute(sql, params).fetchone()
                return row
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
        return await self.fetchone(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one writing statement in a transaction of its own (or the current one); returns
        the number of rows changed."""

        async def run() -> int:
            # The statement runs to its end in one thread hop, and the connection's change
            # counter, ours while we hold it, gives the rows changed.
            before = self.connection.total_changes
            await self.connection.execute_fetchall(sql, params)
            return self.connection.total_changes - before

        def now(point: sqlite3.Connection) -> int:
            before = point.total_changes
            point.execute(sql, params).fetchall()
            return point.total_changes - before

        return await self._statement(run, now)

    async def write_returning(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """A writing statement with RETURNING: its rows, read to the end inside its transaction
        (a RETURNING statement finishes only when it has been read to its end)."""

        async def run() -> list[aiosqlite.Row]:
            return list(await self.connection.execute_fetchall(sql, params))

        def now(point: sqlite3.Connection) -> list[aiosqlite.Row]:
            return point.execute(sql, params).fetchall()

        return await self._statement(run, now)

    async def write_each_returning(
        self, sql: str, rows: Sequence[Params]
    ) -> list[list[aiosqlite.Row]]:
        """One writing statement with RETURNING for each of `rows` (its parameters), all in one
        transaction; the rows each returned. On the point writer when the database is free this
        instant (a batch of incoming messages in one go on this thread), else as a
        transaction on the writer's thread."""
        await self._begin_if_waiting()
        task = asyncio.current_task()
        point = self.point_writer
        if point is not None and task is not None and self._on_point is task:
            return [point.execute(sql, params).fetchall() for params in rows]
        if (
            point is not None
            and self._on_point is None
            and not (task is not None and self._owner is task)
        ):
            try:
                point.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            else:
                try:
                    returned = [point.execute(sql, params).fetchall() for params in rows]
                    point.execute("COMMIT")
                except BaseException:
                    if point.in_transaction:
                        point.execute("ROLLBACK")
                    raise
                self._wrote_on_point()
                return returned
        async with self.transaction():
            return [await self.write_returning(sql, params) for params in rows]

    def _wrote_on_point(self) -> None:
        """The point writer never checkpoints the WAL (that would stall the event loop): every
        CHECKPOINT_EVERY of its writes, the writer's thread does (PASSIVE: nobody waits)."""
        self._point_writes += 1
        if self._point_writes < CHECKPOINT_EVERY:
            return
        if self._checkpoint is None or self._checkpoint.done():
            self._point_writes = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_wal())

    async def _checkpoint_wal(self) -> None:
        try:
            async with self._use():
                await self.connection.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, ValueError) as exc:  # closed meanwhile, or busy: next time
            log.debug("WAL checkpoint skipped: %s", type(exc).__name__)

    async def _statement(
        self, run: Callable[[], Awaitable[T]], now: Callable[[sqlite3.Connection], T]
    ) -> T:
        """Run one writing statement. Inside this task's transaction: in it, as it is (a
        statement is atomic by itself: no SAVEPOINT). Else in a transaction of its own, which
        SQLite makes itself for one statement (autocommit): `now`, on this thread, through
        the point writer, when the database is free this instant (in microseconds, without
        handing the GIL to the writer's thread and back: every incoming message makes two
        such writes); else `run`, on the writer's thread. While another process holds the
        write lock SQLite waits there (busy_timeout); a statement it still refuses as busy
        changed nothing, and is run again, up to the same deadline as a BEGIN."""
        await self._begin_if_waiting()
        task = asyncio.current_task()
        point = self.point_writer
        if self._depth and task is not None and self._owner is task:
            if point is not None and self._on_point is task:
                return now(point)
            return await run()
        written = self._autocommit(now)
        if written:
            return written[0]
        async with self._use():
            # Another task's transaction held the database (on either connection): it has
            # ended now, so the point writer is likely free again.
            written = self._autocommit(now)
            return written[0] if written else await self._retry_busy(run)

    def _autocommit(self, now: Callable[[sqlite3.Connection], T]) -> tuple[T] | tuple[()]:
        """`now` on the point writer, a transaction by itself, if it is free this instant:
        (its result,); else () (busy, or a transaction is open on it)."""
        point = self.point_writer
        if point is None or self._on_point is not None:
            return ()
        try:
            done = now(point)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return ()
        self._wrote_on_point()
        return (done,)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction():
            task = asyncio.current_task()
            if self.point_writer is not None and task is not None and self._on_point is task:
                self.point_writer.executemany(sql, rows)
            else:
                await self.connection.executemany(sql, rows)

    async def serialize(self, name: str) -> None:
        """Inside a transaction: no other writer runs until it ends (PostgreSQL takes a lock
        named `name`). SQLite's BEGIN IMMEDIATE already keeps every other writer out."""

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        """The lock between processes on one chat: none with SQLite, which serves one process
        (the console beside it handles no chats); the in-process ChatLocks is enough."""
        yield

    # --- transactions -----------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body raises or COMMIT fails.

        Inside, this task alone uses the connection. Nested in the same task, a SAVEPOINT: the
        inner block's changes are undone if it raises, and the outer one decides the rest.
        """
        await self._begin_if_waiting()
        async with self._use():
            if self._depth:
                async with self._savepoint():
                    yield
                return
            async with self._begun(
                "BEGIN IMMEDIATE", "the change could not be saved and was undone"
            ):
                yield

    @asynccontextmanager
    async def transaction_on_write(self) -> AsyncIterator[Begun]:
        """A transaction that begins with this task's first write (BEGIN IMMEDIATE then, and
        from then on as `transaction`), and ends with the block: COMMIT, or ROLLBACK if the
        body raises. Until that write the task holds nothing: its reads see the last commit,
        and other tasks use the connection meanwhile. Yields a `Begun`, whose `begun` says
        whether it began.

        For a turn of the conversation: most write nothing (a question answered), and holding
        the one writer, with a BEGIN and a COMMIT, for each would make every chat wait.
        """
        task = asyncio.current_task()
        state = Begun()
        if task is None or self._owner is task or task in self._waiting:
            state.begun = True  # inside a transaction already: part of it
            yield state
            return
        self._waiting[task] = state
        try:
            yield state
        except BaseException:
            if state.begun:
                await self._rollback()
            raise
        else:
            if state.begun:
                try:
                    await self._commit()
                except sqlite3.Error as exc:
                    await self._rollback()
                    raise TransactionFailed(
                        f"the change could not be saved and was undone ({type(exc).__name__}: "
                        f"{exc})"
                    ) from exc
        finally:
            del self._waiting[task]
            if state.begun:
                self._depth = 0
                self._owner = None
                self._on_point = None
                self._lock.release()

    async def _begin_if_waiting(self) -> None:
        """This task's first write inside `transaction_on_write`: take the connection, BEGIN."""
        task = asyncio.current_task()
        state = self._waiting.get(task) if task is not None else None
        if state is None or state.begun:
            return
        await self._lock.acquire()
        self._owner = task
        try:
            if not self._begin_on_point(task):
                await self._retry_busy(lambda: self.connection.execute("BEGIN IMMEDIATE"))
        except BaseException:
            self._owner = None
            self._lock.release()
            raise
        self._depth = 1
        state.begun = True

    def _begin_on_point(self, task: asyncio.Task[Any] | None) -> bool:
        """BEGIN IMMEDIATE on the point writer, on this thread, if the database is free this
        instant (a turn's transaction: a miss recorded and its message marked handled). Its
        statements then run here, each in microseconds, where on the writer's thread each was
        a hop there and back; and while it was open, every other message's mark, refused by
        SQLite (busy), went the thread's way too. Busy: False, and the writer's thread
        begins it, waiting as long as it must. It never waits on this thread: the point
        writer's timeout is 0, and once begun no statement waits for a lock."""
        point = self.point_writer
        if point is None or task is None:
            return False
        try:
            point.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return False
        self._on_point = task
        return True

    async def _commit(self) -> None:
        """COMMIT the owner's transaction, on the connection it began on."""
        task = asyncio.current_task()
        if self.point_writer is not None and task is not None and self._on_point is task:
            self.point_writer.execute("COMMIT")
            self._wrote_on_point()
        else:
            await self.connection.execute("COMMIT")

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """BEGIN EXCLUSIVE ... COMMIT: no other connection reads or writes meanwhile (schema
        changes). Raises DatabaseBusy if the lock cannot be had."""
        async with self._use(), self._begun("BEGIN EXCLUSIVE", "schema change undone"):
            yield

    @asynccontextmanager
    async def _begun(self, begin: str, undone: str) -> AsyncIterator[None]:
        """`begin` (retried while another process holds the lock), the body, then COMMIT; a
        body that raises, or a COMMIT that fails, is rolled back, so the connection never stays
        inside a transaction. A failed COMMIT is raised as TransactionFailed(`undone`)."""
        await self._retry_busy(lambda: self.connection.execute(begin))
        self._depth = 1
        try:
            try:
                yield
            except BaseException:
                await self._rollback()
                raise
            try:
                await self.connection.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._rollback()
                raise TransactionFailed(f"{undone} ({type(exc).__name__}: {exc})") from exc
        finally:
            self._depth = 0

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[None]:
        name = f"nested_{self._depth}"
        await self._run_here(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            await self._run_here(f"ROLLBACK TO {name}")
            await self._run_here(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        await self._run_here(f"RELEASE {name}")

    async def _run_here(self, sql: str) -> None:
        """A statement of the owner's transaction, on the connection it began on."""
        task = asyncio.current_task()
        if self.point_writer is not None and task is not None and self._on_point is task:
            self.point_writer.execute(sql)
        else:
            await self.connection.execute(sql)

    async def _rollback(self) -> None:
        # After some errors SQLite has already rolled back; a second ROLLBACK would fail.
        task = asyncio.current_task()
        point = self.point_writer
        if point is not None and task is not None and self._on_point is task:
            if point.in_transaction:
                point.execute("ROLLBACK")
            return
        if self.connection.in_transaction:
            await asyncio.shield(self.connection.execute("ROLLBACK"))

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[None]:
        """Hold the connection for this task; re-entrant within the task that holds it."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None

    async def _retry_busy(self, start: Any) -> Any:
        """Run `start()` (a BEGIN, or a statement on its own), retrying while another process
        holds the lock."""
        deadline = time.monotonic() + WRITE_DEADLINE_SECONDS
        delay = 0.005
        while True:
            try:
                return await start()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        "the database is in use by another process and stayed locked for "
                        f"{WRITE_DEADLINE_SECONDS:g} seconds"
                    ) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
