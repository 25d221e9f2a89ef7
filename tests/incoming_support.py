"""Serve processes for the kill -9 tests of incoming messages (tests/test_incoming_crash.py) and
the campaign (bench/campaign.py): `main.py serve` (or tests/incoming_crash.py, which
acknowledges and never handles) against the fake Bot API, and the counts that say what became
of each update: how often it was handled (the question it asked is recorded once per turn, as
an unanswered question) and how often it was answered (replies at the fake Bot API)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.server import SECRET_HEADER
from bot.storage import Storage
from tests.cli import ROOT, main_env
from tests.telegram_support import TOKEN, FakeBotApi
from tests.test_serve import free_port, serve_settings

SECRET = "incoming-crash-secret"
# Short leases: another instance takes up what a dead one left within a second or two.
FAST_INCOMING = "incoming: {lease_seconds: 1, reply_lease_seconds: 2, sweep_seconds: 0.2}\n"


@dataclass
class Served:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    async def post(self, http: httpx.AsyncClient, update: dict[str, Any]) -> int:
        response = await http.post(
            f"http://127.0.0.1:{self.port}/telegram",
            json=update,
            headers={SECRET_HEADER: SECRET},
            timeout=30,
        )
        return response.status_code

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> str:
        """SIGTERM (kill -9 after 60 s); returns the log."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.log.read_text(errors="replace")


def question(n: int) -> str:
    """A question no knowledge answers, different for each n: each turn records it once."""
    return f"zorblax quibbit {n}"


def text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "text": text,
        },
    }


async def serve(
    folder: Path,
    api: FakeBotApi,
    database: str,
    *,
    webhook: bool,
    crash: bool = False,
    settings: str = FAST_INCOMING,
    name: str = "serve",
) -> Served:
    """Start `main.py serve` (`crash`: tests/incoming_crash.py) in `folder`; wait until ready."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = free_port()
    env = main_env(folder, serve_settings(folder, api, port) + settings)
    env |= {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "ASSISTANT_DATABASE": database,
        "PYTHONPATH": str(ROOT),
    }
    program = ["-m", "tests.incoming_crash"] if crash else [str(ROOT / "main.py"), "serve"]
    log = folder / f"{name}-{time.time_ns()}.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *program,
            *(["--webhook"] if webhook else []),
            env=env,
            cwd=folder,
            stderr=stderr,
        )
    await until_ready(process, port, log, 90)
    return Served(process, port, log)


async def until_ready(
    process: asyncio.subprocess.Process, port: int, log: Path, seconds: float
) -> None:
    """Wait until the served process on `port` answers /readyz; fail with its log's end if it
    exits or `seconds` go by first."""
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + seconds
        while True:
            assert process.returncode is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "serve did not start"
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def handled(database: str) -> Counter[str]:
    """How many times each question was handled (recorded as unanswered, once per turn)."""
    storage = await Storage.open(database)
    try:
        rows = await storage.db.fetch("SELECT question FROM unanswered")
        return Counter(str(row["question"]) for row in rows)
    finally:
        await storage.close()


async def handled_in_order(database: str) -> list[str]:
    """The questions handled, in the order they were handled."""
    storage = await Storage.open(database)
    try:
        rows = await storage.db.fetch("SELECT question FROM unanswered ORDER BY id")
        return [str(row["question"]) for row in rows]
    finally:
        await storage.close()


def answered(api: FakeBotApi) -> Counter[int]:
    """How many replies each chat got."""
    return Counter(int(call["chat_id"]) for call in api.method_calls("sendMessage"))


async def until(condition: Any, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within:g} s"
        await asyncio.sleep(0.05)
