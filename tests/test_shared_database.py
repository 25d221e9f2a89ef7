"""Two real processes on one SQLite file: starting together on a new database, and answering
chats at the same time. The full-size runs are in bench/shared_database.py (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from bench.shared_database import chat_processes, start_trials
from bot.storage import MIGRATIONS, Storage
from bot.storage.records import Session
from tests.cli import run_main


@pytest.mark.slow  # forty processes
def test_two_processes_start_together_on_a_new_database(tmp_path: Path) -> None:
    result = start_trials(20, tmp_path)
    assert result == {"trials": 20, "processes": 40, "failed": 0}


@pytest.mark.slow  # two processes of main.py
def test_two_processes_answer_chats_on_one_database_without_apologies(tmp_path: Path) -> None:
    result = chat_processes(tmp_path, chats=20, questions=10)
    assert (result["failed"], result["messages"], result["apologies"]) == (0, 400, 0)


def test_a_newer_database_is_refused_with_a_message(tmp_path: Path) -> None:
    # `main.py chat` in this process (run_main's database is this one); `chat` as a process of
    # its own: tests/test_private_files.py, test_fuzz_input.py and test_notification.py.

    async def newer() -> None:
        storage = await Storage.open(tmp_path / "assistant.db")
        await storage.db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        await storage.close()

    asyncio.run(newer())
    run = run_main(tmp_path, "chat")
    assert run.returncode == 1
    assert "newer than this program" in run.stderr
    assert "Traceback" not in run.stderr


async def test_database_is_private_and_overwrites_deleted_content(tmp_path: Path) -> None:
    os.umask(0o022)  # a common default that would make the file world-readable
    database = tmp_path / "var" / "assistant.db"
    storage = await Storage.open(database)
    await storage.sessions.save_session(Session("c", "notify", "x", {}))
    secure_delete = await storage.db.fetchone("PRAGMA secure_delete")
    await storage.close()
    assert secure_delete is not None and secure_delete[0] == 1  # deleted content is overwritten
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    for side in database.parent.glob("assistant.db-*"):  # -wal and -shm copy the file's mode
        assert stat.S_IMODE(side.stat().st_mode) == 0o600


async def test_a_database_readable_by_others_is_narrowed_at_start(tmp_path: Path) -> None:
    """A file from an earlier release (or copied in) may be 0644: start makes it owner-only."""
    database = tmp_path / "assistant.db"
    storage = await Storage.open(database)
    await storage.sessions.save_session(Session("c", "notify", "x", {}))
    await storage.close()
    for file in [database, *tmp_path.glob("assistant.db-*")]:
        file.chmod(0o644)
    storage = await Storage.open(database)
    try:
        await storage.sessions.load_session("c")
        for file in [database, *tmp_path.glob("assistant.db-*")]:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    finally:
        await storage.close()
