"""The fault campaign, rerunnable: kill -9 at random moments while messages come in and email goes
out, outages of each server, two processes on one SQLite file, two instances on PostgreSQL.
Every process is the real `main.py serve`, against the fake Bot API (tests/telegram_support.py),
a real aiosmtpd and a real PostgreSQL (a throwaway cluster, or TEST_POSTGRES_URL).

    .venv/bin/python bench/campaign.py                    # everything, 20 kills per part
    .venv/bin/python bench/campaign.py --kills 5 --only webhook,outbox

Parts (kill moments each):
  webhook    bursts of updates posted to `serve --webhook` (SQLite); kill -9 a random 0-1.5 s
             after a burst starts; an update whose POST got no 200 is posted again after the
             restart, as Telegram does.
  polling    bursts queued at the fake Bot API for `serve` (long polling, SQLite); kill -9 the
             same way; what was not confirmed is served again.
  instances  two `serve --webhook` on one PostgreSQL database, each burst spread over both;
             one of them (at random) is killed -9, posts it failed are sent to the other, then
             it is restarted.
  outbox     emails queued in the database, `serve` delivering them to an SMTP server that
             takes 0-60 ms per message; kill -9 at a random moment, restart.
  outages    the SMTP server down for 3 s; answering 451 for 3 s; the Bot API refusing to send
             for 3 s while updates arrive; PostgreSQL stopped for 3 s under two instances.
  shared     two processes answering chats on one SQLite file (bench/shared_database.py).

Each update asks a question no knowledge answers, from a chat of its own: the question is
recorded once per turn (unanswered questions), so "handled" counts turns exactly, and replies
per chat count answers. Lost: acknowledged (200, or confirmed by the next getUpdates) and never
handled. Twice: handled more than once. A reply or an email sent twice is the at-least-once
window (sent, then killed before it was marked sent), counted apart. "In the window": updates
stored and acknowledged but not yet handled, or handled and not yet answered, when the kill
came. Results go to docs/reliability.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import httpx  # noqa: E402

from bench.shared_database import chat_processes  # noqa: E402
from bot.mail.message import OutgoingEmail  # noqa: E402
from bot.storage import Storage  # noqa: E402
from tests.incoming_support import (  # noqa: E402
    Served,
    handled,
    question,
    serve,
    text_update,
)
from tests.postgres_support import Cluster, create_database, drop_database  # noqa: E402
from tests.telegram_support import FakeBotApi  # noqa: E402
from tests.test_mailer import Recorder, free_port, smtp_server  # noqa: E402

BURST = 6  # updates posted (or queued) at each kill moment
SETTLE_SECONDS = 120.0  # the last run's time to handle and answer everything


@dataclass
class Result:
    part: str
    runs: int = 0  # kill moments, or outages
    messages: int = 0  # updates, or emails
    lost: int = 0
    twice: int = 0  # handled twice (updates)
    repeated: int = 0  # replies or emails sent twice: the at-least-once window
    unanswered: int = 0  # handled but no reply ever sent
    in_window: int = 0  # stored/acknowledged, not yet handled or answered, at a kill
    notes: list[str] = field(default_factory=list)


# --- incoming ----------------------------------------------------------------------------------


class Updates:
    """The updates of one part: each from its own chat (chat = BASE + update_id)."""

    BASE = 1_000_000

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.acked: set[int] = set()
        self.unacked: list[int] = []  # posted, no 200: Telegram sends these again
        self.all: set[int] = set()

    def new(self, count: int) -> list[int]:
        fresh = [next(self.ids) for _ in range(count)]
        self.all.update(fresh)
        return fresh

    def update(self, n: int) -> dict[str, Any]:
        return text_update(n, self.BASE + n, question(n))


async def post_all(
    http: httpx.AsyncClient, updates: Updates, targets: list[Served], ids: list[int]
) -> list[asyncio.Task[tuple[int, int | None]]]:
    async def post(n: int, target: Served) -> tuple[int, int | None]:
        try:
            return n, await target.post(http, updates.update(n))
        except httpx.HTTPError:
            return n, None

    return [asyncio.create_task(post(n, targets[i % len(targets)])) for i, n in enumerate(ids)]


async def moment(tasks: list[asyncio.Task[Any]] | None = None) -> None:
    """Wait for the moment of a kill: half the time just after the first acknowledgement
    (0-30 ms: most updates are then stored and acknowledged, few handled), else anywhere in the
    next 1.5 s (handling, sending, idle)."""
    if tasks and random.random() < 0.5:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=10)
        await asyncio.sleep(random.uniform(0, 0.03))
    else:
        await asyncio.sleep(random.uniform(0, 1.5))


async def collect(updates: Updates, tasks: list[asyncio.Task[tuple[int, int | None]]]) -> None:
    for task in tasks:
        n, code = await task
        if code == 200:
            updates.acked.add(n)
        else:
            updates.unacked.append(n)


async def in_window(database: str) -> int:
    storage = await Storage.open(database)
    try:
        counts = await storage.incoming.counts("telegram")
    finally:
        await storage.close()
    return counts.get("pending", 0) + counts.get("handled", 0)


async def resend_until_acked(
    http: httpx.AsyncClient, updates: Updates, targets: list[Served]
) -> None:
    """Telegram sends an unacknowledged update again until it gets its 200."""
    for _ in range(50):
        if not updates.unacked:
            return
        ids, updates.unacked = updates.unacked, []
        await collect(updates, await post_all(http, updates, targets, ids))
        if updates.unacked:
            await asyncio.sleep(0.5)


async def settle(result: Result, updates: Updates, api: FakeBotApi, database: str) -> None:
    """Wait until every update is handled and answered (or SETTLE_SECONDS), then count."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        counts = await handled(database)
        replies = Counter(int(c["chat_id"]) for c in api.delivered)
        if all(counts[question(n)] and replies[Updates.BASE + n] for n in updates.all):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # time for a second copy to show, were there one
    counts = await handled(database)
    replies = Counter(int(c["chat_id"]) for c in api.delivered)
    result.messages = len(updates.all)
    result.lost = sum(1 for n in updates.acked if counts[question(n)] == 0)
    result.twice = sum(1 for n in updates.all if counts[question(n)] > 1)
    result.unanswered = sum(
        1 for n in updates.all if counts[question(n)] and not replies[Updates.BASE + n]
    )
    result.repeated = sum(max(0, replies[Updates.BASE + n] - 1) for n in updates.all)
    never = [n for n in updates.all if counts[question(n)] == 0 and n not in updates.acked]
    if never:
        result.notes.append(f"{len(never)} never acknowledged and never handled")


async def webhook_part(folder: Path, kills: int) -> Result:
    result = Result("webhook (SQLite)")
    api = FakeBotApi()
    await api.start()
    database = str(folder / "assistant.db")
    updates = Updates()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(kills):
                bot = await serve(folder, api, database, webhook=True)
                await resend_until_acked(http, updates, [bot])
                tasks = await post_all(http, updates, [bot], updates.new(BURST))
                await moment(tasks)
                bot.kill()
                await bot.process.wait()
                await collect(updates, tasks)
                result.runs += 1
                result.in_window += await in_window(database)
            bot = await serve(folder, api, database, webhook=True)
            await resend_until_acked(http, updates, [bot])
            await settle(result, updates, api, database)
            await bot.stop()
    finally:
        await api.stop()
    return result


async def polling_part(folder: Path, kills: int) -> Result:
    result = Result("polling (SQLite)")
    api = FakeBotApi()
    await api.start()
    database = str(folder / "assistant.db")
    updates = Updates()
    try:
        for _ in range(kills):
            bot = await serve(folder, api, database, webhook=False)
            for n in updates.new(BURST):
                api.queue_update({"message": updates.update(n)["message"]})
            if random.random() < 0.5:  # just after the poller confirmed the burst
                first = min(updates.all - updates.acked)
                while not any(
                    int(c.get("offset") or 0) > first for c in api.method_calls("getUpdates")
                ):
                    await asyncio.sleep(0.002)
                await asyncio.sleep(random.uniform(0, 0.03))
            else:
                await moment()
            bot.kill()
            await bot.process.wait()
            # Confirmed (Telegram dropped it) = acknowledged; the rest is served again.
            waiting = {u["update_id"] for u in api.pending_updates}
            updates.acked.update(n for n in updates.all if n not in waiting)
            result.runs += 1
            result.in_window += await in_window(database)
        bot = await serve(folder, api, database, webhook=False)
        await settle(result, updates, api, database)
        await bot.stop()
    finally:
        await api.stop()
    return result


async def instances_part(folder: Path, kills: int, server_url: str) -> Result:
    result = Result("two instances (PostgreSQL)")
    api = FakeBotApi()
    await api.start()
    database = await create_database(server_url)
    updates = Updates()
    try:
        bots = list(
            await asyncio.gather(
                serve(folder / "a", api, database, webhook=True, name="a"),
                serve(folder / "b", api, database, webhook=True, name="b"),
            )
        )
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(kills):
                victim = random.randrange(2)
                tasks = await post_all(http, updates, bots, updates.new(BURST))
                await moment(tasks)
                bots[victim].kill()
                await bots[victim].process.wait()
                await collect(updates, tasks)
                # A load balancer sends what failed to the instance still up.
                await resend_until_acked(http, updates, [bots[1 - victim]])
                result.runs += 1
                result.in_window += await in_window(database)
                name = "ab"[victim]
                bots[victim] = await serve(folder / name, api, database, webhook=True, name=name)
            await settle(result, updates, api, database)
        for bot in bots:
            await bot.stop()
    finally:
        await api.stop()
        await drop_database(server_url, database)
    return result


# --- outgoing ------------------------------------------------------------------------------


class SlowRecorder(Recorder):
    """An SMTP server that takes a while over each message (so kills land mid-delivery)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(random.uniform(0, 0.06))
        return await super().handle_DATA(server, session, envelope)


def smtp_settings(port: int, extra: str = "") -> str:
    return (
        f"smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout_seconds: 1}}\n"
        "mail: {retry_initial_seconds: 0.2, retry_max_seconds: 1}\n"
        "incoming: {lease_seconds: 1, reply_lease_seconds: 2, sweep_seconds: 0.2}\n" + extra
    )


async def queue_emails(database: str, ids: list[str]) -> None:
    storage = await Storage.open(database)
    try:
        for message_id in ids:
            email = OutgoingEmail(
                ("board@example.org",), f"Campaign {message_id}", "Body", None, message_id
            )
            await storage.outbox.enqueue_email(email, None, "campaign")
    finally:
        await storage.close()


def delivered(recorder: Recorder) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in recorder.received)


async def count_emails(result: Result, recorder: Recorder, ids: list[str]) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and not all(delivered(recorder)[i] for i in ids):
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    copies = delivered(recorder)
    result.messages += len(ids)
    result.lost += sum(1 for i in ids if copies[i] == 0)
    result.repeated += sum(max(0, copies[i] - 1) for i in ids)


async def outbox_part(folder: Path, kills: int) -> Result:
    result = Result("outbox: email delivery (SQLite)")
    api = FakeBotApi()
    await api.start()
    database = str(folder / "assistant.db")
    recorder = SlowRecorder()
    ids: list[str] = []
    try:
        with smtp_server(recorder) as port:
            settings = smtp_settings(port)
            for moment in range(kills):
                fresh = [f"<campaign.{moment}.{i}@example.org>" for i in range(BURST)]
                ids += fresh
                await queue_emails(database, fresh)
                bot = await serve(folder, api, database, webhook=True, settings=settings)
                await asyncio.sleep(random.uniform(0, 0.6))
                bot.kill()
                await bot.process.wait()
                result.runs += 1
            bot = await serve(folder, api, database, webhook=True, settings=settings)
            await count_emails(result, recorder, ids)
            await bot.stop()
    finally:
        await api.stop()
    return result


# --- outages -------------------------------------------------------------------------------


class RefusingRecorder(Recorder):
    """Answers 451 while `refusing`, then accepts."""

    refusing = True

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refusing:
            return "451 4.3.0 Try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


async def smtp_outage(folder: Path, kind: str) -> Result:
    """The SMTP server down (or answering 451) for 3 s while 10 emails wait."""
    result = Result(f"outage: SMTP {'down' if kind == 'down' else 'answering 451'} for 3 s")
    api = FakeBotApi()
    await api.start()
    database = str(folder / "assistant.db")
    ids = [f"<outage.{kind}.{i}@example.org>" for i in range(10)]
    await queue_emails(database, ids)
    port = free_port()
    recorder = RefusingRecorder() if kind == "451" else Recorder()
    try:
        if kind == "451":
            with smtp_server(recorder, port=port):
                bot = await serve(folder, api, database, webhook=True, settings=smtp_settings(port))
                await asyncio.sleep(3)
                recorder.refusing = False  # type: ignore[attr-defined]
                await count_emails(result, recorder, ids)
        else:
            bot = await serve(folder, api, database, webhook=True, settings=smtp_settings(port))
            await asyncio.sleep(3)
            with smtp_server(recorder, port=port):
                await count_emails(result, recorder, ids)
        await bot.stop()
        result.runs = 1
    finally:
        await api.stop()
    return result


async def bot_api_outage(folder: Path) -> Result:
    """The Bot API refuses every sendMessage for 3 s while 12 updates arrive."""
    result = Result("outage: Bot API refusing to send for 3 s")
    api = FakeBotApi()
    await api.start()
    database = str(folder / "assistant.db")
    updates = Updates()
    try:
        bot = await serve(folder, api, database, webhook=True)
        async with httpx.AsyncClient(timeout=10) as http:
            api.fail_sends = 1_000_000
            await collect(updates, await post_all(http, updates, [bot], updates.new(12)))
            await asyncio.sleep(3)
            api.fail_sends = 0
            await settle(result, updates, api, database)
        await bot.stop()
        result.runs = 1
        refused = len(api.method_calls("sendMessage")) - len(api.delivered)
        result.notes.append(f"{refused} sends refused during the outage, sent again after it")
    finally:
        await api.stop()
    return result


async def postgres_outage(folder: Path, cluster: Cluster) -> Result:
    """PostgreSQL stopped for 3 s under two instances, updates arriving throughout."""
    result = Result("outage: PostgreSQL stopped for 3 s (two instances)")
    api = FakeBotApi()
    await api.start()
    database = await create_database(cluster.url)
    updates = Updates()
    try:
        bots = list(
            await asyncio.gather(
                serve(folder / "a", api, database, webhook=True, name="a"),
                serve(folder / "b", api, database, webhook=True, name="b"),
            )
        )
        async with httpx.AsyncClient(timeout=10) as http:
            await collect(updates, await post_all(http, updates, bots, updates.new(6)))
            await asyncio.to_thread(cluster.stop)
            await collect(updates, await post_all(http, updates, bots, updates.new(6)))
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.start)
            await resend_until_acked(http, updates, bots)
            await collect(updates, await post_all(http, updates, bots, updates.new(6)))
            await settle(result, updates, api, database)
        for bot in bots:
            await bot.stop()
        result.runs = 1
    finally:
        await api.stop()
        await drop_database(cluster.url, database)
    return result


# --- the campaign --------------------------------------------------------------------------

PARTS = ("webhook", "polling", "instances", "outbox", "outages", "shared")


async def campaign(kills: int, only: set[str], folder: Path) -> list[Result]:
    results: list[Result] = []
    cluster: Cluster | None = None
    server_url = os.environ.get("TEST_POSTGRES_URL", "")
    if not server_url and only & {"instances", "outages"}:
        cluster = Cluster()
        server_url = cluster.url
    try:
        for part in PARTS:
            if part not in only:
                continue
            where = folder / part
            where.mkdir(mode=0o700)
            print(f"{part}...", file=sys.stderr, flush=True)
            if part == "webhook":
                results.append(await webhook_part(where, kills))
            elif part == "polling":
                results.append(await polling_part(where, kills))
            elif part == "instances":
                results.append(await instances_part(where, kills, server_url))
            elif part == "outbox":
                results.append(await outbox_part(where, kills))
            elif part == "outages":
                for kind in ("down", "451"):
                    (where / kind).mkdir(mode=0o700)
                    results.append(await smtp_outage(where / kind, kind))
                (where / "api").mkdir(mode=0o700)
                results.append(await bot_api_outage(where / "api"))
                if cluster is not None:
                    (where / "pg").mkdir(mode=0o700)
                    results.append(await postgres_outage(where / "pg", cluster))
            elif part == "shared":
                shared = await asyncio.to_thread(chat_processes, where, 50, 10)
                results.append(
                    Result(
                        "two processes, one SQLite file",
                        runs=1,
                        messages=int(shared["messages"]),
                        notes=[f"{shared['apologies']} apologies, {shared['failed']} failed"],
                    )
                )
            print(json.dumps(asdict(results[-1])), file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.destroy()
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| part | runs | messages | lost | handled twice | sent twice (window) | in the window "
        "at a kill | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.part} | {r.runs} | {r.messages} | {r.lost} | {r.twice} | {r.repeated} | "
            f"{r.in_window} | {'; '.join(r.notes)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="kill -9 moments per part")
    parser.add_argument("--only", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    random.seed(args.seed)
    only = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="campaign-"))
    started = time.time()
    try:
        results = asyncio.run(campaign(args.kills, only, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(table(results))
    print(f"\n{time.time() - started:.0f} s")
    bad = sum(r.lost + r.twice + r.unanswered for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
