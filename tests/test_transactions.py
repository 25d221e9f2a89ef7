"""Transactions that cannot wedge: the outbox worker's claim beside Submits on one connection,
a failed COMMIT, and references and Message-IDs that are never reused."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from bench.claim_beside_submit import claim_beside_submit
from bot.assistant import Assistant
from bot.mail.message import make_message_id, message_id_domain
from bot.storage import Storage
from bot.storage import sqlite as database
from bot.storage.interface import DatabaseBusy, TransactionFailed
from bot.storage.sqlite import Database
from config.settings import Settings
from tests.conftest import Chat, sqlite_only
from tests.signin_support import REGISTRY, SLO, fill_in_chat


@pytest.mark.slow  # 500 rounds of claims beside Submits
async def test_claims_beside_submits_never_wedge_or_reuse(tmp_path: Path) -> None:
    # The deterministic repro of issue 9 (500 rounds here; 5,000 in the bench).
    result = await claim_beside_submit(tmp_path / "db.sqlite", rounds=500)
    assert result["claims"] != 0  # the claims did run beside the Submits
    assert {k: result[k] for k in CHECKS} == {
        "failed_submits": 0,
        "reused_references": 0,
        "reused_message_ids": 0,
        "wedged": False,
        "stored_after_reopen": 500,
    }


CHECKS = (
    "failed_submits",
    "reused_references",
    "reused_message_ids",
    "wedged",
    "stored_after_reopen",
)


# --- a COMMIT that fails ----------------------------------------------------------------------


async def test_a_failed_commit_is_rolled_back_and_reported(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite")
    try:
        await db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await db.execute(
            "CREATE TABLE child (parent INTEGER REFERENCES parent (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
        # A deferred foreign key is checked at COMMIT: a real COMMIT that SQLite refuses.
        with pytest.raises(TransactionFailed, match="could not be saved"):
            async with db.transaction():
                await db.execute("INSERT INTO child VALUES (42)")
        assert not db.connection.in_transaction
        await db.execute("INSERT INTO parent VALUES (1)")  # the connection still works
        assert [tuple(r) for r in await db.fetch("SELECT * FROM parent")] == [(1,)]
        assert await db.fetch("SELECT * FROM child") == []
    finally:
        await db.close()


async def test_a_nested_block_that_fails_undoes_only_itself(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite")
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(ValueError):
                async with db.transaction():
                    await db.execute("INSERT INTO t VALUES (2)")
                    raise ValueError
        assert [r[0] for r in await db.fetch("SELECT x FROM t")] == [1]
    finally:
        await db.close()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(settings, registry_file=str(registry))


@sqlite_only
async def test_submit_whose_commit_fails_keeps_the_form_and_the_reference(
    assistant: Assistant,
) -> None:
    slo = Chat(assistant)
    await assistant.storage.signin.link_chat(slo.chat, SLO, time.time())
    await slo.say("/notify")
    await fill_in_chat(slo, {})
    db = assistant.storage.db
    assert isinstance(db, Database)
    # Every notification stored now breaks a deferred foreign key, so its COMMIT fails.
    await db.execute(
        "CREATE TABLE breaker (outbox_id INTEGER REFERENCES outbox (id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )
    await db.execute(
        "CREATE TRIGGER break_commit AFTER INSERT ON notifications"
        " BEGIN INSERT INTO breaker VALUES (-1); END"
    )
    await slo.press("Submit")
    assert slo.replies[-1].kind == "error"
    assert "Your earlier answers are saved" in slo.text
    assert not db.connection.in_transaction
    assert await assistant.storage.notifications.notifications_for(slo.chat) == []
    assert (
        await assistant.storage.outbox.claim_next_email(time.time(), 60) is None
    )  # nothing queued

    await db.execute("DROP TRIGGER break_commit")
    await slo.say("/notify")  # the draft is kept: continue it, and it opens at the summary
    await slo.press("Continue")
    assert any(b.label == "Submit" for b in slo.buttons), slo.text
    await slo.press("Submit")
    year = time.localtime().tm_year
    assert f"SIN-{year}-0001" in slo.text  # the failed attempt used no number
    assert [
        n.reference for n in await assistant.storage.notifications.notifications_for(slo.chat)
    ] == [f"SIN-{year}-0001"]


async def test_message_ids_are_unique_even_for_the_same_reference(settings: Settings) -> None:
    # A reset database (or a test system) hands out SIN-<year>-0001 again: its Message-ID must
    # differ, or receiving systems may drop the second as a duplicate.
    ids = set()
    for _ in range(2):
        storage = await Storage.open(":memory:")
        try:
            form_email = make_message_id("SIN-2026-0001", message_id_domain(settings.mail))
            ids.add(form_email)
        finally:
            await storage.close()
    assert len(ids) == 2
    assert all(i.startswith("<SIN-2026-0001.") and i.endswith("@example.org>") for i in ids)
    custom = dataclasses.replace(settings.mail, message_id_domain="mail.bbscp.example")
    assert make_message_id("SIN-2026-0001", message_id_domain(custom)).endswith(
        "@mail.bbscp.example>"
    )


async def test_a_write_waits_for_another_process_then_gives_up_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite"
    db = await Database.open(path)
    await db.execute("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        monkeypatch.setattr(database, "WRITE_DEADLINE_SECONDS", 0.3)
        await db.connection.execute("PRAGMA busy_timeout=50")
        with pytest.raises(DatabaseBusy, match="in use by another process"):
            await db.execute("INSERT INTO t VALUES (1)")
        assert not db.connection.in_transaction

        async def release_soon() -> None:
            await asyncio.sleep(0.1)
            other.execute("COMMIT")

        releasing = asyncio.create_task(release_soon())
        await db.execute("INSERT INTO t VALUES (2)")  # retried until the lock is free
        await releasing
        assert [r[0] for r in await db.fetch("SELECT x FROM t")] == [2]
    finally:
        other.close()
        await db.close()
