"""The stores on both backends: each test runs on a SQLite file and on a real PostgreSQL server.

Concurrency is real: "two instances" are two Storage objects on the same database (two SQLite
connections, or two asyncpg pools), used by many tasks at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.mail.message import OutgoingEmail
from bot.storage import MIGRATIONS, SigninCode, Storage
from bot.storage.records import Session


def email(n: int | str) -> OutgoingEmail:
    return OutgoingEmail(
        ("board@example.org",),
        f"Notification {n}",
        "About the child",
        "<p>About the child</p>",
        f"<mail-{n}@example.org>",
        cc=("slo@example.org",),
    )


@pytest.fixture
async def pair(database_target: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two instances on one database."""
    first = await Storage.open(database_target)
    second = await Storage.open(database_target)
    yield first, second
    await first.close()
    await second.close()


async def test_migrations_run_once_and_the_version_is_kept(database_target: str) -> None:
    storage = await Storage.open(database_target)
    await storage.close()
    again = await Storage.open(database_target)  # CREATE TABLE would fail if they ran again
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_session_round_trip_and_no_write_when_unchanged(
    pair: tuple[Storage, Storage],
) -> None:
    one, other = pair
    session = await one.sessions.load_session("c1")
    session.flow, session.step, session.data = "notify", "child_name", {"answers": {"a": "é"}}
    await one.sessions.save_session(session)
    loaded = await other.sessions.load_session("c1")
    assert (loaded.flow, loaded.step, loaded.data) == (
        "notify",
        "child_name",
        {"answers": {"a": "é"}},
    )
    # Another instance changes the row; saving our unchanged copy must not overwrite it.
    loaded.step = "agency"
    await other.sessions.save_session(loaded)
    await one.sessions.save_session(session)
    assert (await other.sessions.load_session("c1")).step == "agency"
    # A chat that only asked questions leaves no row at all.
    await one.sessions.save_session(await one.sessions.load_session("c2"))
    assert await one.db.fetch("SELECT chat FROM sessions WHERE chat = ?", ("c2",)) == []


async def test_idle_drafts_forgotten(pair: tuple[Storage, Storage]) -> None:
    storage, _ = pair
    await storage.sessions.save_session(Session("old", "notify", "x", {"a": 1}))
    await storage.sessions.save_session(Session("other-flow", "threshold", "x", {}))
    assert await storage.sessions.delete_idle_sessions("notify", older_than=time.time() + 10) == 1
    assert (await storage.sessions.load_session("old")).flow is None
    assert (await storage.sessions.load_session("other-flow")).flow == "threshold"


async def test_notification_references_unique_under_concurrency(
    pair: tuple[Storage, Storage],
) -> None:
    async def submit(storage: Storage, n: int) -> tuple[str, bool]:
        return await storage.notifications.submit_notification(
            f"chat-{n}", f"draft-{n}", "Police", {"n": n}, lambda ref: email(ref)
        )

    results = await asyncio.gather(*(submit(pair[n % 2], n) for n in range(40)))
    references = [reference for reference, created in results]
    assert all(created for _, created in results)
    assert len(set(references)) == 40
    year = time.localtime().tm_year
    assert sorted(references) == [f"SIN-{year}-{n:04d}" for n in range(1, 41)]
    # A double tap on Submit, from either instance, gives the first reference back.
    again = await asyncio.gather(submit(pair[1], 7), submit(pair[0], 7))
    assert again == [(results[7][0], False)] * 2


async def test_outbox_each_email_claimed_exactly_once(pair: tuple[Storage, Storage]) -> None:
    for n in range(30):
        await pair[0].outbox.enqueue_email(email(n), kind="other")
    claimed: list[int] = []

    async def worker(storage: Storage) -> None:
        while (item := await storage.outbox.claim_next_email(time.time(), lease=300)) is not None:
            claimed.append(item.id)
            await storage.outbox.mark_email_sent(item.id, time.time())

    await asyncio.gather(*(worker(pair[n % 2]) for n in range(6)))
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 30
    assert await pair[1].outbox.outbox_backlog() == (0, None)


async def test_enqueue_is_idempotent_on_the_message_id(pair: tuple[Storage, Storage]) -> None:
    ids = await asyncio.gather(*(pair[n % 2].outbox.enqueue_email(email("same")) for n in range(8)))
    assert len(set(ids)) == 1


async def test_abandoned_claim_is_taken_again_after_its_lease(
    pair: tuple[Storage, Storage],
) -> None:
    await pair[0].outbox.enqueue_email(email(1))
    first = await pair[0].outbox.claim_next_email(time.time(), lease=300)
    assert first is not None
    assert await pair[1].outbox.claim_next_email(time.time(), lease=300) is None
    again = await pair[1].outbox.claim_next_email(time.time() + 301, lease=300)
    assert again is not None and again.id == first.id and again.attempts == 2


async def test_handoff_references_unique_under_concurrency(
    pair: tuple[Storage, Storage],
) -> None:
    handoffs = await asyncio.gather(
        *(
            pair[n % 2].handoffs.open_handoff(
                f"chat-{n}", "A question?", f"t{n}", "example.org", {}
            )
            for n in range(20)
        )
    )
    year = time.localtime().tm_year
    assert sorted(h.reference for h in handoffs) == [f"Q-{year}-{n:04d}" for n in range(1, 21)]
    first = handoffs[0]
    assert first.message_id == f"<{first.reference}.t0@example.org>"
    # Answered exactly once, whichever instance gets there first.
    done = await asyncio.gather(
        pair[0].handoffs.finish_handoff(first.id, "answered", "Yes"),
        pair[1].handoffs.finish_handoff(first.id, "answered", "No"),
    )
    assert sorted(done) == [False, True]
    assert [h.reference for h in await pair[1].handoffs.handoffs_to_tell()] == [first.reference]


async def test_inbox_records_each_message_once(pair: tuple[Storage, Storage]) -> None:
    received = await asyncio.gather(
        *(
            pair[n % 2].inbox.receive_email("<in-1@example.org>", "a@nhs.net", {"n": n})
            for n in range(8)
        )
    )
    assert sorted(received) == [False] * 7 + [True]
    assert len(await pair[0].inbox.pending_emails()) == 1
    await pair[1].inbox.finish_email("<in-1@example.org>", "answered")
    assert await pair[0].inbox.pending_emails() == []


async def test_retention_blanks_delivered_content(pair: tuple[Storage, Storage]) -> None:
    storage, _ = pair
    reference, _ = await storage.notifications.submit_notification(
        "chat", "draft", "Police", {"child": "Name"}, lambda ref: email(ref)
    )
    item = await storage.outbox.claim_next_email(time.time(), lease=300)
    assert item is not None
    await storage.outbox.mark_email_sent(item.id, time.time() - 100)
    assert await storage.retention.forget_delivered_content(time.time()) == 1
    row = await storage.db.fetchone("SELECT email FROM outbox WHERE id = ?", (item.id,))
    assert row is not None
    kept = json.loads(row["email"])
    assert (kept["text"], kept["html"], kept["cc"], kept["attachments"]) == ("", None, [], [])
    assert kept["subject"] == f"Notification {reference}"
    answers = await storage.db.fetchone("SELECT answers FROM notifications")
    assert answers is not None and answers["answers"] == "{}"


async def test_private_messages_taken_once(pair: tuple[Storage, Storage]) -> None:
    await pair[0].private.remember_private_messages("c", ["1", "2"], time.time())
    await pair[1].private.remember_private_messages("c", ["2", "3"], time.time())
    taken = await asyncio.gather(
        pair[0].private.take_private_messages("c"), pair[1].private.take_private_messages("c")
    )
    assert sorted(taken[0] + taken[1]) == ["1", "2", "3"]


async def test_signin_lockout_counts_across_instances(pair: tuple[Storage, Storage]) -> None:
    counts = await asyncio.gather(*(pair[n % 2].signin.add_signin_failure("c") for n in range(6)))
    assert sorted(counts) == [1, 2, 3, 4, 5, 6]
    await pair[0].signin.lock_signin("c", 123.0)
    assert await pair[1].signin.signin_locked_until("c") == 123.0


async def test_the_chat_lock_holds_a_chat_across_instances(
    pair: tuple[Storage, Storage],
) -> None:
    if pair[0].db.dialect != "postgresql":
        pytest.skip("SQLite serves one process: its chat lock is the in-process one")
    events: list[str] = []
    held = asyncio.Event()

    async def first() -> None:
        async with pair[0].chat_lock("telegram:1"):
            events.append("first in")
            held.set()
            await asyncio.sleep(0.3)
            events.append("first out")

    async def second(chat: str) -> None:
        await held.wait()
        async with pair[1].chat_lock(chat):
            events.append(f"second in {chat}")

    await asyncio.gather(first(), second("telegram:1"), second("telegram:2"))
    assert events == ["first in", "second in telegram:2", "first out", "second in telegram:1"]


async def test_an_inbound_email_is_taken_by_one_instance(pair: tuple[Storage, Storage]) -> None:
    await pair[0].inbox.receive_email("<in-2@example.org>", "a@nhs.net", {})
    async with pair[0].inbox.take_email("<in-2@example.org>") as mine:
        assert mine
        await pair[0].inbox.finish_email("<in-2@example.org>", "answered")
    async with pair[1].inbox.take_email("<in-2@example.org>") as theirs:
        assert not theirs, "an email already answered was handed out again"


async def test_signin_code_request_registered_or_not(pair: tuple[Storage, Storage]) -> None:
    storage, other = pair
    code = SigninCode(0, "slo@example.org", "salt", "hash", time.time() + 600, "active")
    await storage.signin.request_signin_code(
        "c1", "slo@example.org", code, email("code-1"), True, 1.0
    )
    await storage.signin.request_signin_code(
        "c2", "who@example.org", code, email("code-2"), False, 2.0
    )
    assert [c.email for c in await other.signin.signin_codes("c1")] == ["slo@example.org"]
    assert await other.signin.signin_codes("c2") == []
    assert await other.outbox.outbox_has("<mail-code-1@example.org>")
    assert not await other.outbox.outbox_has("<mail-code-2@example.org>")
    events = [(e.event, e.chat, e.who) for e in await other.audit.audit_events()]
    assert events == [
        ("code_refused_unregistered", "c2", ""),
        ("code_sent", "c1", "slo@example.org"),
    ]


async def test_a_handoff_outcome_is_told_by_one_instance(pair: tuple[Storage, Storage]) -> None:
    handoff = await pair[0].handoffs.open_handoff("c", "A question?", "t", "example.org", {})
    await pair[0].handoffs.finish_handoff(handoff.id, "answered", "Yes")
    async with pair[0].handoffs.take_handoff_to_tell(handoff.id) as mine:
        assert mine
        assert await pair[0].handoffs.mark_handoff_told(handoff.id)
    async with pair[1].handoffs.take_handoff_to_tell(handoff.id) as theirs:
        assert not theirs, "a person already told would be told again"
