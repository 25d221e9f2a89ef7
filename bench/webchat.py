"""Load benchmark of the web chat: 200 conversations at once, 20 messages each, on one instance,
with the Telegram path measured the same way in the same run.

    .venv/bin/python bench/webchat.py                        # 200 x 20, both paths, twice
    .venv/bin/python bench/webchat.py --conversations 50 --messages 10 --repeat 1

Each path runs `python main.py serve` as its own process, as deployed, on a SQLite file:

- web: no Telegram token, the web chat alone. Each conversation is a page over a real
  WebSocket (tests/web_support.Page, the protocol panel.js speaks): it is greeted, then sends a
  message, waits for the last reply of that turn, and sends the next. Every tenth conversation
  loses its socket once, straight after sending its 10th message, reconnects with the number
  of the last message it had shown, and sends that message again with the same client id, as
  panel.js does with one not yet confirmed. Limits are raised (every page comes from 127.0.0.1).
- telegram: a token, polling the Bot API emulator (tests/telegram_support.FakeBotApi), web chat
  off. Each chat sends its next message when the reply to the last has reached the emulator.

Latency is from sending a message to its (last) reply arriving; throughput is messages
answered per second of wall clock, over the whole run; CPU is the server process's own, per
message ("bench side": this process's, the pages' sockets or the Bot API emulator, which share
the machine's cores with the server). Both paths ask the same one-reply questions. Lost: a
message with no reply within a minute; duplicated: a message numbered twice on a page, a turn
answered twice, or (in the database afterwards) a message handled twice. Results go to
docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import httpx  # noqa: E402

from bench.throughput import QUESTIONS, cpu_seconds, percentile  # noqa: E402
from tests.telegram_support import TOKEN, FakeBotApi  # noqa: E402
from tests.web_support import Page, new_page  # noqa: E402

TURN_TIMEOUT = 60.0
RECONNECT_EVERY = 10  # every tenth conversation loses its socket once


@dataclass
class Run:
    path: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu_ms: float = 0.0
    client_cpu_ms: float = 0.0  # this process: the pages' sockets, or the Bot API emulator
    lost: int = 0
    duplicated: int = 0
    reconnects: int = 0

    @property
    def answered(self) -> int:
        return len(self.latencies)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(settings: str, folder: Path, token: bool) -> asyncio.subprocess.Process:
    path = folder / "settings.yaml"
    path.write_text(settings, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["ASSISTANT_SETTINGS"] = str(path)
    if token:
        env["TELEGRAM_BOT_TOKEN"] = TOKEN
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "serve", env=env, cwd=folder
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- the web chat ------------------------------------------------------------------------


async def web_conversation(base: str, number: int, messages: int, run: Run) -> Page:
    page = new_page(base)
    await page.connect()
    await page.until(lambda: page.messages, TURN_TIMEOUT)  # the greeting
    for n in range(messages):
        text = QUESTIONS[(number + n) % len(QUESTIONS)]
        started = time.perf_counter()
        client_id = await page.send(text)
        if n == messages // 2 and number % RECONNECT_EVERY == 0:
            # The connection drops before the page hears anything back.
            await page.close()
            await page.connect()
            await page.send(text, client_id=client_id)
            run.reconnects += 1
        try:
            await page.until(
                lambda c=client_id: any(r["last"] for r in page.replies_to(c)),  # type: ignore[misc]
                TURN_TIMEOUT,
            )
        except AssertionError:
            run.lost += 1
            continue
        run.latencies.append(time.perf_counter() - started)
        turns = [r for r in page.replies_to(client_id) if r["last"]]
        run.duplicated += len(turns) - 1
    await asyncio.sleep(0.2)  # anything sent twice would arrive now
    await page.close()
    run.duplicated += page.duplicates
    return page


def handled_twice(database: Path, conversations: int, messages: int) -> int:
    """From the database: conversations whose messages were not each handled exactly once."""
    with sqlite3.connect(database) as db:
        users = dict(
            db.execute(
                "SELECT chat, COUNT(*) FROM web_messages WHERE role = 'user' GROUP BY chat"
            ).fetchall()
        )
        pending = db.execute("SELECT COUNT(*) FROM web_inbound WHERE status != 'done'").fetchone()
    wrong = sum(count != messages for count in users.values())
    return wrong + (conversations - len(users)) + int(pending[0])


async def web_run(conversations: int, messages: int) -> Run:
    run = Run("web")
    with tempfile.TemporaryDirectory() as tmp:
        folder, port = Path(tmp), free_port()
        settings = (
            f"database: {folder / 'assistant.db'}\n"
            "log_level: WARNING\n"
            f"telegram:\n  listen_port: {port}\n"
            f"mail:\n  outbox_dir: {folder / 'outbox'}\n"
            "web:\n"
            "  demo_page: false\n"
            f"  messages_per_minute: {messages * 10}\n"
            f"  ip_messages_per_minute: {conversations * messages * 10}\n"
            f"  ip_new_conversations_per_hour: {conversations * 10}\n"
        )
        process = await start(settings, folder, token=False)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(
                *(web_conversation(base, n, messages, run) for n in range(conversations))
            )
            run.elapsed = time.perf_counter() - started
            run.cpu_ms = (cpu_seconds(process.pid) - cpu) * 1000 / max(1, run.answered)
            run.client_cpu_ms = (time.process_time() - client_cpu) * 1000 / max(1, run.answered)
        finally:
            await stop(process)
        run.duplicated += handled_twice(folder / "assistant.db", conversations, messages)
    return run


# --- Telegram ----------------------------------------------------------------------------


class ReplyingApi(FakeBotApi):
    """The emulator, telling each chat's sender when its reply has arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.sent_to: dict[int, int] = {}

    def _answer(self, method: str, headers: dict[str, str], body: bytes) -> Any:
        result = super()._answer(method, headers, body)
        if method == "sendMessage":
            chat = int(result["chat"]["id"])
            self.sent_to[chat] = self.sent_to.get(chat, 0) + 1
            future = self.waiting.pop(chat, None)
            if future is not None and not future.done():
                future.set_result(None)
        return result


async def telegram_chat(api: ReplyingApi, number: int, messages: int, run: Run) -> None:
    chat = 200_000 + number
    loop = asyncio.get_running_loop()
    for n in range(messages):
        reply: asyncio.Future[None] = loop.create_future()
        api.waiting[chat] = reply
        started = time.perf_counter()
        api.queue_update(
            {
                "message": {
                    "message_id": n + 1,
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Sam"},
                    "text": QUESTIONS[(number + n) % len(QUESTIONS)],
                }
            }
        )
        try:
            await asyncio.wait_for(reply, TURN_TIMEOUT)
        except TimeoutError:
            run.lost += 1
            continue
        run.latencies.append(time.perf_counter() - started)


async def telegram_run(conversations: int, messages: int) -> Run:
    run = Run("telegram")
    api = ReplyingApi()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = (
            f"database: {folder / 'assistant.db'}\n"
            "log_level: WARNING\n"
            "telegram:\n"
            f"  base_url: {api.base_url}\n"
            f"  base_file_url: http://127.0.0.1:{api.port}/file/bot\n"
            "  rate_limit: false\n"
            f"  listen_port: {free_port()}\n"
            f"mail:\n  outbox_dir: {folder / 'outbox'}\n"
            "web:\n  enabled: false\n"
        )
        process = await start(settings, folder, token=True)
        try:
            while not api.method_calls("getUpdates"):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # past start-up (menu registration, the first poll)
            cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(
                *(telegram_chat(api, n, messages, run) for n in range(conversations))
            )
            run.elapsed = time.perf_counter() - started
            run.cpu_ms = (cpu_seconds(process.pid) - cpu) * 1000 / max(1, run.answered)
            run.client_cpu_ms = (time.process_time() - client_cpu) * 1000 / max(1, run.answered)
            await asyncio.sleep(0.5)  # anything sent twice would arrive now
        finally:
            await stop(process)
            await api.stop()
    run.duplicated = sum(max(0, count - messages) for count in api.sent_to.values())
    return run


# --- the report --------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


async def main_async(args: argparse.Namespace) -> None:
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s)")
    print(f"{args.conversations} conversations x {args.messages} messages, on one instance")
    runs: list[Run] = []
    for round_ in range(args.repeat):
        order = ("web", "telegram") if round_ % 2 == 0 else ("telegram", "web")
        for path in order:
            if path == "web":
                run = await web_run(args.conversations, args.messages)
            else:
                run = await telegram_run(args.conversations, args.messages)
            runs.append(run)
            print(
                f"  round {round_ + 1}: {path} {run.answered / run.elapsed:.0f} messages/s, "
                f"p50 {ms(percentile(run.latencies, 50))} ms, "
                f"p99 {ms(percentile(run.latencies, 99))} ms, "
                f"CPU {run.cpu_ms:.2f} ms/message (bench side {run.client_cpu_ms:.2f}), "
                f"lost {run.lost}, duplicated {run.duplicated}",
                flush=True,
            )
    print(
        "| path | messages answered | messages/s (median) | p50 ms | p99 ms | CPU ms/message "
        "(median) | bench side | lost | duplicated | reconnects |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in ("web", "telegram"):
        mine = [r for r in runs if r.path == path]
        latencies = [latency for r in mine for latency in r.latencies]
        rate = statistics.median(r.answered / r.elapsed for r in mine)
        cpu = statistics.median(r.cpu_ms for r in mine)
        client = statistics.median(r.client_cpu_ms for r in mine)
        print(
            f"| {path} | {sum(r.answered for r in mine)} | {rate:.0f} | "
            f"{ms(percentile(latencies, 50))} | {ms(percentile(latencies, 99))} | {cpu:.2f} | "
            f"{client:.2f} | "
            f"{sum(r.lost for r in mine)} | {sum(r.duplicated for r in mine)} | "
            f"{sum(r.reconnects for r in mine)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each path, alternating")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
