"""The deterministic repro of issue 9: the outbox worker's claim in a busy loop beside Submits.

    .venv/bin/python bench/claim_beside_submit.py --rounds 5000

One process, one database, the Storage API only: a task claims outbox rows as fast as it can
(with a lease of 0, so nearly every claim returns a row, the statement whose rows were once read
after an await) while another submits notifications one after another. Reports failed Submits,
reused references and Message-IDs, whether the connection was left inside a transaction, and
whether every notification survives reopening the database. tests/test_transactions.py runs 500
rounds; the figure for 5,000 is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bot.mail.message import OutgoingEmail, make_message_id  # noqa: E402
from bot.storage import Storage  # noqa: E402
from bot.storage.sqlite import Database  # noqa: E402

ANSWERS = {"agency": "Example Health Trust", "child_name": "Zebedee Quillfeather"}


def email_for(reference: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=("board@example.org",),
        subject=f"Significant incident notification {reference}",
        text=f"Notification {reference}\n",
        html=None,
        message_id=make_message_id(reference, "example.org"),
    )


async def claim_beside_submit(database: Path, rounds: int) -> dict[str, object]:
    storage = await Storage.open(database)
    stop = asyncio.Event()
    claims = 0

    async def claimer() -> None:
        nonlocal claims
        while not stop.is_set():
            if await storage.outbox.claim_next_email(time.time(), lease=0) is not None:
                claims += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(claimer())
    references: list[str] = []
    failed = 0
    started = time.perf_counter()
    try:
        for number in range(rounds):
            try:
                reference, _created = await storage.notifications.submit_notification(
                    "bench:1", f"draft-{number}", "Example Health Trust", ANSWERS, email_for
                )
            except Exception:
                failed += 1
                continue
            references.append(reference)
    finally:
        stop.set()
        await worker
        assert isinstance(storage.db, Database)  # a SQLite measure
        wedged = storage.db.connection.in_transaction
        await storage.close()
    seconds = time.perf_counter() - started
    reopened = await Storage.open(database)
    try:
        stored = await reopened.notifications.notifications_for("bench:1")
        ids = await reopened.db.fetch("SELECT message_id FROM outbox")
    finally:
        await reopened.close()
    return {
        "rounds": rounds,
        "failed_submits": failed,
        "reused_references": len(references) - len(set(references)),
        "reused_message_ids": len(ids) - len({row[0] for row in ids}),
        "wedged": wedged,
        "stored_after_reopen": len(stored),
        "claims": claims,
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(claim_beside_submit(Path(tmp) / "bench.db", args.rounds))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
