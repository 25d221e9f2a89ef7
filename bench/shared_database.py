"""Two processes on one SQLite file (the console beside the bot): do they start and answer together?

    .venv/bin/python bench/shared_database.py start --trials 20
    .venv/bin/python bench/shared_database.py chats --chats 200 --questions 20

`start`: two processes open a new database at the same moment (both wait for a "go" file, then
migrate it), `--trials` times; counts the processes that failed or hung.
`chats`: two processes each answer `--chats` chats at once, `--questions` messages each, through
the real conversation core (every message loads and saves the chat's session, some record an
unanswered question); counts apologies. Each process prints one JSON line; the parent sums them.
Results go to docs/benchmarks.md by hand. tests/test_shared_database.py runs a smaller version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bot.app import build_assistant  # noqa: E402
from bot.core.replies import Incoming  # noqa: E402
from bot.storage import MIGRATIONS, Storage  # noqa: E402
from bot.storage.interface import DatabaseError  # noqa: E402
from config.settings import default_settings  # noqa: E402

# What the chats type, in turn: knowledge questions, a flow with its steps, a question the
# knowledge base cannot answer (stored), and commands.
MESSAGES = (
    "what is an SCR",
    "/threshold",
    "not sure",
    "back",
    "what's a SILP?",
    "/cancel",
    "pelka",
    "how do I fix a pothole on my road",
    "/help",
    "does this meet the threshold?",
)
WORKER_TIMEOUT = 600


def worker_command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


# --- two processes starting on a new database ----------------------------------------------


async def open_when_told(database: str, go: Path) -> None:
    go.with_name(f"{go.name}.ready-{os.getpid()}").touch()
    while not go.exists():  # both processes are ready: start together
        await asyncio.sleep(0.001)
    storage = await Storage.open(database)
    await storage.close()


def start_child(database: str, go: str) -> None:
    """A process's whole start-up on the shared database; the exit code says how it went."""
    try:
        asyncio.run(open_when_told(database, Path(go)))
    except DatabaseError as exc:
        print(f"cannot use the database: {exc}", file=sys.stderr)
        sys.exit(1)


def start_trials(trials: int, folder: Path) -> dict[str, int]:
    # Forked from a fork server that has imported the program once: each child is a real
    # process with its own connection, without the second of imports a fresh interpreter spends
    # before it reaches the race, and without the threads of the process that asks for it.
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload(["bench.shared_database"])
    failures = 0
    for trial in range(trials):
        database, go = folder / f"start-{trial}.db", folder / f"go-{trial}"
        workers = [fork.Process(target=start_child, args=(str(database), str(go))) for _ in "ab"]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while len(list(folder.glob(f"{go.name}.ready-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)  # both are ready and wait for the go
        go.touch()
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():  # hung: the failure the issue saw after a lost race
                worker.kill()
                worker.join()
                failures += 1
            elif worker.exitcode != 0:
                failures += 1
        with contextlib.closing(sqlite3.connect(database)) as check:
            if check.execute("PRAGMA user_version").fetchone()[0] != len(MIGRATIONS):
                failures += 1  # both "succeeded" but the schema is not the latest
    return {"trials": trials, "processes": 2 * trials, "failed": failures}


# --- two processes answering chats ---------------------------------------------------------


async def answer_chats(folder: Path, prefix: str, chats: int, questions: int) -> dict[str, int]:
    base = default_settings()
    settings = dataclasses.replace(
        base,
        database=str(folder / "shared.db"),
        mail=dataclasses.replace(base.mail, outbox_dir=str(folder / "outbox")),
    )
    assistant = await build_assistant(settings)
    apologies = 0

    async def chat(number: int) -> None:
        nonlocal apologies
        for turn in range(questions):
            text = MESSAGES[(number + turn) % len(MESSAGES)]
            replies = await assistant.conversation.handle(Incoming(f"{prefix}:{number}", text))
            apologies += sum(reply.kind == "error" for reply in replies)

    try:
        await asyncio.gather(*(chat(number) for number in range(chats)))
    finally:
        await assistant.close()
    return {"messages": chats * questions, "apologies": apologies}


def chat_processes(folder: Path, chats: int, questions: int) -> dict[str, float]:
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            worker_command("chats-worker", str(folder), prefix, str(chats), str(questions)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("first", "second")
    ]
    totals = {"processes": 2, "messages": 0, "apologies": 0, "failed": 0}
    for worker in workers:
        out, err = worker.communicate(timeout=WORKER_TIMEOUT)
        if worker.returncode != 0:
            totals["failed"] += 1
            print(err, file=sys.stderr)
            continue
        result = json.loads(out.strip().splitlines()[-1])
        totals["messages"] += result["messages"]
        totals["apologies"] += result["apologies"]
    return {**totals, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start")
    start.add_argument("--trials", type=int, default=20)
    chats = sub.add_parser("chats")
    chats.add_argument("--chats", type=int, default=200)
    chats.add_argument("--questions", type=int, default=20)
    chats_worker = sub.add_parser("chats-worker")
    chats_worker.add_argument("folder", type=Path)
    chats_worker.add_argument("prefix")
    chats_worker.add_argument("chats", type=int)
    chats_worker.add_argument("questions", type=int)
    args = parser.parse_args()

    if args.command == "chats-worker":
        result = asyncio.run(answer_chats(args.folder, args.prefix, args.chats, args.questions))
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.command == "start":
            print(json.dumps(start_trials(args.trials, Path(tmp))))
        else:
            print(json.dumps(chat_processes(Path(tmp), args.chats, args.questions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
