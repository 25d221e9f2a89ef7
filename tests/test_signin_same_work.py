"""A sign-in reply must not tell a registered address from an unregistered one, by its words or
by its timing: both do the same work. Timing is measured in bench/, not here; this test checks
the cause of a difference, the SQL each request runs, statement by statement."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.storage.sqlite import Database
from config.settings import Settings
from tests.conftest import Chat, sqlite_only
from tests.signin_support import REGISTRY, SLO

STRANGER = "nobody.here@example.org"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(settings, registry_file=str(registry))


def shape(statement: str) -> str:
    """A traced statement without its values (they differ between any two requests)."""
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", statement)


async def traced_request(assistant: Assistant, chat: Chat, address: str) -> tuple[list[str], str]:
    await chat.say("/signin")
    statements: list[str] = []
    db = assistant.storage.db
    assert isinstance(db, Database)  # SQLite's trace
    # Both connections: the writer, and the reader that runs reads outside a transaction.
    connections = [c for c in (db.connection, db.reader) if c is not None]
    for connection in connections:
        await connection.set_trace_callback(statements.append)
    try:
        await chat.say(address)
    finally:
        for connection in connections:
            await connection.set_trace_callback(None)  # type: ignore[arg-type]
    reply = chat.text.replace(address, "ADDRESS")
    return [shape(s) for s in statements], reply


@sqlite_only
async def test_registered_and_unknown_addresses_run_the_same_statements(
    assistant: Assistant,
) -> None:
    registered, registered_reply = await traced_request(assistant, Chat(assistant, "t:1"), SLO)
    unknown, unknown_reply = await traced_request(assistant, Chat(assistant, "t:2"), STRANGER)
    assert any("INSERT INTO outbox" in s for s in registered)  # the code's email was queued
    assert registered == unknown
    assert registered_reply == unknown_reply
    # ...and only the registered address got a code.
    assert [c.email for c in await assistant.storage.signin.signin_codes("t:1")] == [SLO]
    assert await assistant.storage.signin.signin_codes("t:2") == []
