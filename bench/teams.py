"""Load benchmark of the Teams channel: conversations at once, messages each, through the real
messaging endpoint of `python main.py serve` (its own process, as deployed, on a SQLite file)
and the Microsoft 365 Agents SDK, with Microsoft's side faked on loopback in this process
(tests/teams_support.py: the JWKS, the login endpoint, the Bot Connector receiving replies).

    .venv/bin/python bench/teams.py                          # 50 x 10, twice
    .venv/bin/python bench/teams.py --conversations 20 --messages 5 --repeat 1

Each conversation posts an activity signed as the Bot Connector signs it, waits until its
reply reaches the fake Bot Connector, then posts the next. Latency is from the POST to the
reply arriving; throughput is messages answered per second of wall clock; CPU is the server
process's own per message ("bench side": this process's: signing tokens, posting, the fake
Bot Connector receiving the typing indicator and the reply). Both paths of the web chat and
Telegram bench ask the same questions (bench/throughput.py). Results go to docs/benchmarks.md
by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import QUESTIONS, cpu_seconds
from bench.webchat import free_port
from config.settings import ROOT
from tests.teams_support import APP_ID, TENANT, FakeMicrosoft, fake_microsoft
from tests.teams_support import TeamsUser as User

SETTINGS = """
database: {folder}/assistant.db
mail:
  outbox_dir: {folder}/outbox
web:
  enabled: false
telegram:
  listen_port: {port}
endpoints:
  teams_app_id: {app}
teams:
  tenant_id: {tenant}
  login_url: {fake}/token
  jwks_url: {fake}/keys
  entra_jwks_url: {fake}/entra-keys
"""


async def conversation(user: User, messages: int, latencies: list[float]) -> int:
    counts, key = user.fake.counts, user.conversation
    for i in range(messages):
        before = counts.get(key, 0)
        started = time.perf_counter()
        response = await user.post(user.activity(QUESTIONS[i % len(QUESTIONS)]))
        assert response.status_code == 202, response.status_code
        async with user.fake.news:
            await user.fake.news.wait_for(lambda: counts.get(key, 0) > before)  # noqa: B023
        latencies.append(time.perf_counter() - started)
    return messages


async def serve(folder: Path, fake: FakeMicrosoft) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    path = folder / "settings.yaml"
    path.write_text(
        SETTINGS.format(folder=folder, port=port, app=APP_ID, tenant=TENANT, fake=fake.url),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env |= {"ASSISTANT_SETTINGS": str(path), "TEAMS_APP_PASSWORD": "teams-app-secret"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "serve", env=env, cwd=folder
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


async def run(conversations: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        async with fake_microsoft() as fake:
            process, base = await serve(Path(name), fake)
            try:
                users = [User(None, base, fake) for _ in range(conversations)]  # type: ignore[arg-type]
                await conversation(users[0], 1, [])  # warm: keys and the bot's token fetched
                latencies: list[float] = []
                cpu, bench_cpu = cpu_seconds(process.pid), time.process_time()
                wall = time.perf_counter()
                done = sum(
                    await asyncio.gather(*(conversation(u, messages, latencies) for u in users))
                )
                wall = time.perf_counter() - wall
                cpu = cpu_seconds(process.pid) - cpu
                bench_cpu = time.process_time() - bench_cpu
            finally:
                process.send_signal(signal.SIGTERM)
                await process.wait()
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{conversations} x {messages}: {done} answered, 0 lost; {done / wall:.0f} messages/s; "
        f"p50 {1000 * cuts[49]:.0f} ms, p99 {1000 * cuts[98]:.0f} ms; server CPU "
        f"{1000 * cpu / done:.2f} ms/message (bench side {1000 * bench_cpu / done:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.repeat):
        asyncio.run(run(args.conversations, args.messages))


if __name__ == "__main__":
    main()
