"""Storage: schema versioning and durable per-chat state."""

from __future__ import annotations

from pathlib import Path

from bot.storage import MIGRATIONS, Session, Storage


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
    await storage.save_session(Session("c1", "notify", "child_name", {"answers": {"a": "b"}}))
    await storage.close()
    reopened = await Storage.open(tmp_path / "db.sqlite")
    session = await reopened.load_session("c1")
    assert (session.flow, session.step, session.data) == (
        "notify",
        "child_name",
        {"answers": {"a": "b"}},
    )
    assert (await reopened.load_session("other")).flow is None
    await reopened.close()


async def test_idle_sessions_deleted(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "db.sqlite")
    await storage.save_session(Session("old", "notify", "x", {"a": 1}))
    await storage.save_session(Session("other-flow", "threshold", "x", {}))
    deleted = await storage.delete_idle_sessions("notify", older_than=9e12)
    assert deleted == 1
    assert (await storage.load_session("old")).flow is None
    assert (await storage.load_session("other-flow")).flow == "threshold"
    await storage.close()
