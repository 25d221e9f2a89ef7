"""A turn's transaction (`Database.transaction_on_write`) on SQLite: on the event loop's thread
when the database is free (no hop to the writer's thread), never joined by another task's write,
undone whole when it fails, and begun on the writer's thread, waiting, when another process
holds the database."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.storage.sqlite import Database


class Boom(Exception):
    pass


async def table(path: Path) -> Database:
    db = await Database.open(path)
    await db.execute("CREATE TABLE t (x TEXT)")
    return db


async def values(db: Database) -> list[str]:
    return sorted(str(r[0]) for r in await db.fetch("SELECT x FROM t"))


async def test_a_turn_writes_on_the_loop_and_reads_its_own_writes(tmp_path: Path) -> None:
    db = await table(tmp_path / "db.sqlite")
    assert db.point_writer is not None
    on_loop: list[str] = []
    db.point_writer.set_trace_callback(on_loop.append)
    try:
        async with db.transaction_on_write() as written:
            assert await db.fetch("SELECT x FROM t") == []  # nothing held before a write
            assert not written.begun
            await db.execute("INSERT INTO t VALUES ('turn')")
            await db.write_each_returning("INSERT INTO t VALUES (?) RETURNING x", [("a",), ("b",)])
            async with db.transaction():  # nested: a savepoint, on the same connection
                await db.execute("INSERT INTO t VALUES ('nested')")
            assert [r[0] for r in await db.fetch("SELECT x FROM t ORDER BY x")] == [
                "a",
                "b",
                "nested",
                "turn",
            ]
        assert written.begun
        assert on_loop[0] == "BEGIN IMMEDIATE" and on_loop[-1] == "COMMIT"
        assert any("SAVEPOINT" in s for s in on_loop)
        assert await values(db) == ["a", "b", "nested", "turn"]
    finally:
        await db.close()


@pytest.mark.parametrize("fails", [False, True])
async def test_another_tasks_write_meanwhile_is_its_own(tmp_path: Path, fails: bool) -> None:
    """While a turn's transaction is open, another chat's one-statement write (a message marked
    answered) waits for it rather than joining it: it stays when the turn is undone."""
    db = await table(tmp_path / "db.sqlite")
    inside = asyncio.Event()
    other_done = asyncio.Event()

    async def turn() -> None:
        async with db.transaction_on_write():
            await db.execute("INSERT INTO t VALUES ('turn')")
            inside.set()
            await asyncio.sleep(0.05)  # the other task writes meanwhile
            assert not other_done.is_set()  # it waits for this transaction to end
            if fails:
                raise Boom

    async def other() -> None:
        await inside.wait()
        await db.execute("INSERT INTO t VALUES ('other')")
        other_done.set()

    try:
        results = await asyncio.gather(turn(), other(), return_exceptions=True)
        assert [type(r) for r in results] == ([Boom] if fails else [type(None)]) + [type(None)]
        assert await values(db) == (["other"] if fails else ["other", "turn"])
    finally:
        await db.close()


async def test_a_turn_waits_for_another_process_on_the_writers_thread(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = await table(path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        async def release_soon() -> None:
            await asyncio.sleep(0.2)
            other.execute("INSERT INTO t VALUES ('other process')")
            other.execute("COMMIT")

        releasing = asyncio.create_task(release_soon())
        async with db.transaction_on_write():
            await db.execute("INSERT INTO t VALUES ('turn')")  # waits, then goes in
        await releasing
        assert await values(db) == ["other process", "turn"]
        await db.execute("INSERT INTO t VALUES ('after')")  # the loop's writer is free again
        assert await values(db) == ["after", "other process", "turn"]
    finally:
        other.close()
        await db.close()
