"""Storage: schema versioning and durable per-chat state."""

from __future__ import annotations

from pathlib import Path

from bot.storage import MIGRATIONS, Storage
from bot.storage.records import Session


async def test_new_database_is_at_latest_version(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "db.sqlite")
    assert await storage.schema_version() == len(MIGRATIONS)
    await storage.close()


async def test_migrations_run_once(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "db.sqlite")
    await storage.close()
    again = await Storage.open(tmp_path / "db.sqlite")  # would fail on CREATE TABLE if re-run
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_session_survives_reopen(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "db.sqlite")
    await storage.sessions.save_session(
        Session("c1", "notify", "child_name", {"answers": {"a": "b"}})
    )
    await storage.close()
    reopened = await Storage.open(tmp_path / "db.sqlite")
    session = await reopened.sessions.load_session("c1")
    assert (session.flow, session.step, session.data) == (
        "notify",
        "child_name",
        {"answers": {"a": "b"}},
    )
    assert (await reopened.sessions.load_session("other")).flow is None
    await reopened.close()


async def test_idle_sessions_deleted(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "db.sqlite")
    await storage.sessions.save_session(Session("old", "notify", "x", {"a": 1}))
    await storage.sessions.save_session(Session("other-flow", "threshold", "x", {}))
    deleted = await storage.sessions.delete_idle_sessions("notify", older_than=9e12)
    assert deleted == 1
    assert (await storage.sessions.load_session("old")).flow is None
    assert (await storage.sessions.load_session("other-flow")).flow == "threshold"
    await storage.close()


async def test_a_session_is_read_on_the_loop_and_on_the_readers_thread_when_busy(
    tmp_path: Path,
) -> None:
    """A session is read without a thread hop (Database.fetch_point), seeing every commit;
    when SQLite reports the database busy, the same read goes to the reader's thread."""
    import sqlite3

    from bot.storage.sqlite import Database

    storage = await Storage.open(tmp_path / "db.sqlite")
    db = storage.db
    assert isinstance(db, Database) and db.point is not None
    read_on_loop: list[str] = []
    db.point.set_trace_callback(read_on_loop.append)
    await storage.sessions.save_session(Session("c1", "notify", "child_name", {"a": 1}))
    assert (await storage.sessions.load_session("c1")).step == "child_name"
    assert any("FROM sessions" in s for s in read_on_loop)
    await storage.sessions.save_session(Session("c1", "notify", "agency", {"a": 2}))
    assert (await storage.sessions.load_session("c1")).data == {"a": 2}  # the last commit, at once

    class Busy:
        def execute(self, *args: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        def close(self) -> None:
            pass

    point, db.point = db.point, Busy()  # type: ignore[assignment]
    try:
        assert (await storage.sessions.load_session("c1")).step == "agency"
    finally:
        db.point = point
    await storage.close()
    assert db.point is None
