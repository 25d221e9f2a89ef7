"""Every stored row carries its partnership, and no store can read or write another's.

- the schema: every table (those of tables added later too) has `partnership TEXT NOT NULL`
  with no default, and every key and unique constraint starts with it (SQLite and PostgreSQL);
- every statement written in a store names the partnership for each table it uses (read from
  the source, so a statement no test runs is checked too), and the stores' view refuses, at
  run time, one that does not, or that does not pass the partnership's id;
- the upgrade: a database at the schema before partnerships, with rows in every table, is
  migrated in place; each row becomes the default partnership's, unchanged, and nothing is lost.
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.mail.message import OutgoingEmail
from bot.storage import MIGRATIONS, Storage, UnscopedStatement, open_database
from bot.storage.interface import Db
from bot.storage.records import Session
from bot.storage.schema import migrate
from bot.storage.scoped import PartnershipDb, scope_problem
from bot.storage.sqlite import Database

ROOT = Path(__file__).resolve().parent.parent
# The modules of the database itself, whose statements are the schema's, not a store's.
NOT_STORES = {"__init__.py", "interface.py", "schema.py", "scoped.py", "sqlite.py", "postgres.py"}
BEFORE_PARTNERSHIPS = 4  # the last schema version without them


async def tables(db: Db) -> dict[str, list[dict[str, Any]]]:
    """Each table's columns: name, type, not null, default."""
    if isinstance(db, Database):
        rows = await db.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        found = {}
        for row in rows:
            info = await db.fetch(f"PRAGMA table_info({row['name']})")
            found[row["name"]] = [
                {"name": c["name"], "notnull": bool(c["notnull"]), "default": c["dflt_value"]}
                for c in info
            ]
        return found
    rows = await db.fetch(
        "SELECT table_name, column_name, is_nullable, column_default FROM"
        " information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name != 'schema_version' ORDER BY table_name, ordinal_position"
    )
    found = {}
    for row in rows:
        found.setdefault(row["table_name"], []).append(
            {
                "name": row["column_name"],
                "notnull": row["is_nullable"] == "NO",
                "default": row["column_default"],
            }
        )
    return found


async def keys(db: Db) -> dict[str, list[list[str]]]:
    """Each table's primary key and unique constraints, as lists of columns."""
    found: dict[str, list[list[str]]] = {}
    if isinstance(db, Database):
        for table in await tables(db):
            for index in await db.fetch(f"PRAGMA index_list({table})"):
                if index["unique"]:
                    columns = await db.fetch(f"PRAGMA index_info({index['name']})")
                    found.setdefault(table, []).append([c["name"] for c in columns])
            info = await db.fetch(f"PRAGMA table_info({table})")
            primary = [c["name"] for c in sorted(info, key=lambda c: c["pk"]) if c["pk"]]
            if primary and primary != ["id"]:  # an INTEGER PRIMARY KEY is the row id
                found.setdefault(table, []).append(primary)
        return found
    rows = await db.fetch(
        "SELECT c.conrelid::regclass::text AS table_name, array_agg(a.attname ORDER BY k.n)"
        " AS columns FROM pg_constraint c"
        " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
        " WHERE c.contype IN ('p', 'u') AND c.connamespace = current_schema()::regnamespace"
        " GROUP BY c.oid, c.conrelid"
    )
    for row in rows:
        table = row["table_name"].split(".")[-1].strip('"')
        if table != "schema_version" and list(row["columns"]) != ["id"]:
            found.setdefault(table, []).append(list(row["columns"]))
    return found


async def test_every_table_has_its_partnership(database_target: str) -> None:
    storage = await Storage.open(database_target)
    try:
        found = await tables(storage.db)
        assert len(found) >= 12
        for table, columns in found.items():
            column = next((c for c in columns if c["name"] == "partnership"), None)
            assert column is not None, f"{table} has no partnership column"
            assert column["notnull"], f"{table}.partnership may be NULL"
            assert column["default"] is None, (
                f"{table}.partnership has a default: a row could be written without one"
            )
        found_keys = await keys(storage.db)
        assert ["partnership", "chat"] in found_keys["sessions"]
        assert ["partnership", "year", "number"] in found_keys["notifications"]
        for table, constraints in found_keys.items():
            for key in constraints:
                assert key[0] == "partnership", f"{table}: the key {key} is not per partnership"
    finally:
        await storage.close()


# --- every statement of a store --------------------------------------------------------------


def sql_texts(path: Path) -> list[str]:
    """The SQL statements written in a module: each string (an f-string with its holes as
    `?`) that starts with a statement's first word, in capitals as our SQL is written."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # An f-string's pieces are nodes of their own: only the whole string is a statement.
    pieces = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if id(node) in pieces:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "?" for v in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if text.lstrip().split(" ", 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            found.append(text)
    return found


def test_every_statement_of_every_store_names_its_partnership() -> None:
    modules = [
        p for p in sorted((ROOT / "bot" / "storage").glob("*.py")) if p.name not in NOT_STORES
    ]
    statements = {p.name: sql_texts(p) for p in modules}
    assert sum(len(s) for s in statements.values()) > 50, "the scan found the statements"
    wrong = {
        f"{name}: {sql}": scope_problem(sql)
        for name, found in statements.items()
        for sql in found
        if scope_problem(sql) or "partnership" not in sql
    }
    assert wrong == {}


def test_the_scan_sees_a_sub_query_that_forgets_it() -> None:
    assert scope_problem("SELECT a FROM audit WHERE partnership = ?") is None
    assert scope_problem(
        "INSERT INTO audit (partnership, who) VALUES (?, (SELECT email FROM slo_links))"
    )
    assert scope_problem(
        "UPDATE outbox SET x = 1 WHERE id = (SELECT id FROM outbox"
        " WHERE partnership = ? FOR UPDATE SKIP LOCKED)"
    )


async def test_the_view_refuses_a_statement_that_could_reach_another_partnership(
    tmp_path: Path,
) -> None:
    db = await open_database(tmp_path / "a.db")
    await migrate(db, "example-vale")
    view = PartnershipDb(db, "example-vale")
    try:
        with pytest.raises(UnscopedStatement, match="names the partnership 0 time"):
            await view.fetch("SELECT question FROM unanswered")
        with pytest.raises(UnscopedStatement, match="not one of the parameters"):
            await view.fetch("SELECT question FROM unanswered WHERE partnership = ?", ("other",))
        with pytest.raises(UnscopedStatement, match="names the partnership 1 time"):
            await view.execute(
                "INSERT INTO audit (partnership, at, event, who) VALUES"
                " (?, 1, 'x', (SELECT email FROM slo_links WHERE chat = 'c'))",
                ("example-vale",),
            )
        await view.fetch("SELECT question FROM unanswered WHERE partnership = ?", ("example-vale",))
    finally:
        await db.close()


# --- the upgrade of a database from before partnerships ---------------------------------------

NOW = time.time()
MAIL = json.dumps(
    OutgoingEmail(("board@example.org",), "Subject", "Body", None, "<m1@example.org>").to_json()
)
# One row or more in every table of schema version 4, as the program wrote them.
ROWS_V4: dict[str, list[dict[str, Any]]] = {
    "sessions": [
        {
            "chat": "telegram:1",
            "flow": "notify",
            "step": "agency",
            "data": '{"a": 1}',
            "updated_at": NOW,
        },
        {"chat": "email:a@nhs.net", "flow": None, "step": None, "data": "{}", "updated_at": NOW},
    ],
    "unanswered": [{"id": 1, "chat": "telegram:1", "question": "bus times?", "asked_at": NOW}],
    "slo_links": [{"chat": "telegram:1", "email": "alex.example@example.org", "linked_at": NOW}],
    "signin_codes": [
        {
            "id": 1,
            "chat": "telegram:1",
            "email": "alex.example@example.org",
            "salt": "00",
            "code_hash": "ab",
            "created_at": NOW,
            "expires_at": NOW + 600,
            "state": "used",
        },
    ],
    "signin_lockouts": [{"chat": "telegram:2", "failures": 3, "locked_until": None}],
    "audit": [
        {
            "id": 1,
            "at": NOW,
            "event": "submitted",
            "chat": "telegram:1",
            "who": "alex.example@example.org",
            "reference": "SIN-2026-0001",
        },
    ],
    "private_messages": [{"chat": "telegram:1", "message_ref": "17", "recorded_at": NOW}],
    "outbox": [
        {
            "id": 1,
            "kind": "notification",
            "chat": "telegram:1",
            "reference": "SIN-2026-0001",
            "message_id": "<m1@example.org>",
            "email": MAIL,
            "status": "sent",
            "attempts": 1,
            "created_at": NOW,
            "next_attempt_at": NOW,
            "claimed_at": None,
            "sent_at": NOW,
            "last_error": None,
            "failure_reported_at": None,
        },
        {
            "id": 2,
            "kind": "signin",
            "chat": "telegram:1",
            "reference": None,
            "message_id": "<m2@example.org>",
            "email": MAIL,
            "status": "failed",
            "attempts": 3,
            "created_at": NOW,
            "next_attempt_at": NOW,
            "claimed_at": None,
            "sent_at": None,
            "last_error": "SMTP 550",
            "failure_reported_at": NOW,
        },
    ],
    "notifications": [
        {
            "id": 1,
            "reference": "SIN-2026-0001",
            "year": 2026,
            "number": 1,
            "draft_key": "d1",
            "chat": "telegram:1",
            "agency": "Example Agency",
            "answers": '{"agency": "x"}',
            "created_at": NOW,
            "outbox_id": 1,
        },
    ],
    "inbox": [
        {
            "id": 1,
            "message_id": "<in1@nhs.net>",
            "sender": "a@nhs.net",
            "status": "answered",
            "mail": "{}",
            "received_at": NOW,
            "done_at": NOW,
        },
    ],
    "email_choices": [{"chat": "email:a@nhs.net", "buttons": '[["A", "/a"]]', "by_number": 1}],
    "handoffs": [
        {
            "id": 1,
            "reference": "Q-2026-0001",
            "year": 2026,
            "number": 1,
            "chat": "telegram:1",
            "question": "Who chairs the panel?",
            "message_id": "<Q-2026-0001.x@example.org>",
            "thread": "{}",
            "status": "open",
            "answer": None,
            "created_at": NOW,
            "reminded_at": None,
            "finished_at": None,
            "told_at": None,
        },
    ],
}


async def rows_of(db: Db, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    order = ", ".join(columns)
    return [
        tuple(r[c] for c in columns)
        for r in await db.fetch(f"SELECT {order} FROM {table} ORDER BY {order}")
    ]


async def test_a_database_from_before_partnerships_upgrades_in_place(database_target: str) -> None:
    db = await open_database(database_target)
    try:
        await migrate(db, "unused", target=BEFORE_PARTNERSHIPS)
        assert set(await tables(db)) == set(ROWS_V4), "the fixture fills every table of v4"
        for table, rows in ROWS_V4.items():
            columns = list(rows[0])
            marks = ", ".join("?" * len(columns))
            await db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(row[c] for c in columns) for row in rows],
            )
        before = {t: await rows_of(db, t, list(r[0])) for t, r in ROWS_V4.items()}
    finally:
        await db.close()

    # The installation's default partnership is Bedford Borough; another one opens it here.
    storage = await Storage.open(
        database_target, partnership="example-vale", default_partnership="bedford-borough"
    )
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
        for table, rows in ROWS_V4.items():
            after = await rows_of(storage.db, table, list(rows[0]))
            assert after == before[table], f"{table} changed"
            owners = await storage.db.fetch(f"SELECT DISTINCT partnership FROM {table}")
            assert [r["partnership"] for r in owners] == ["bedford-borough"], table
        # Bedford's stores see all of it; another partnership's see none of it.
        bedford = storage.for_partnership("bedford-borough")
        session = await bedford.sessions.load_session("telegram:1")
        assert (session.flow, session.step, session.data) == ("notify", "agency", {"a": 1})
        assert [
            n.reference for n in await bedford.notifications.notifications_for("telegram:1")
        ] == ["SIN-2026-0001"]
        assert await bedford.questions.unanswered() == [("bus times?", NOW)]
        assert [i.human_reference for i in await bedford.outbox.failed_emails()] == [
            "CODE-" + time.strftime("%Y", time.localtime(NOW)) + "-0002"
        ]
        assert [h.reference for h in await bedford.handoffs.handoffs("open")] == ["Q-2026-0001"]
        assert await bedford.signin.linked_email("telegram:1") == "alex.example@example.org"
        assert (await storage.sessions.load_session("telegram:1")).flow is None
        assert await storage.notifications.notifications_for("telegram:1") == []
        assert await storage.questions.unanswered() == []
        assert await storage.outbox.failed_emails() == []
        assert await storage.signin.linked_email("telegram:1") is None
        # New rows of either partnership go on from there, each with its own numbers.
        await storage.sessions.save_session(Session("telegram:1", "threshold", "q", {}))
        assert (await bedford.sessions.load_session("telegram:1")).flow == "notify"
    finally:
        await storage.close()
