"""Throughput benchmark: the assistant against a bare python-telegram-bot echo bot, through the
same Bot API emulator on loopback, in the same run and with the same rate-limit setting; then
the conversation core's latency with 50 chats at once.

    .venv/bin/python bench/throughput.py                  # rate limiter off (an emulator)
    .venv/bin/python bench/throughput.py --rate-limit     # both bots at Telegram's limits
    .venv/bin/python bench/throughput.py --messages 400   # a quicker run
    .venv/bin/python bench/throughput.py --messages 10000 --core-messages 0  # memory after 10k

The emulator is tests/telegram_support.FakeBotApi (getUpdates long polling, sendMessage...),
one instance per bot, in this process. Each bot runs as its own process, started the way a
deployment starts it: the assistant with `main.py run` (long polling), the echo bot with
`bench/throughput.py --echo-bot`. Once a bot is polling, a burst of N messages from C chats is
queued at once; the clock stops at the last reply. The questions are ones whose answer is one
message, so both bots send exactly one message per update.

The core measurement (no Telegram): C chats each send their share of messages one after the
other, all chats at once, straight into `Conversation.handle` on a SQLite file; each call is
timed, and the session load and save inside it too, to show what the database costs.
Results go to docs/benchmarks.md by hand, with the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bot.core.replies import Incoming  # noqa: E402
from tests.telegram_support import TOKEN, FakeBotApi  # noqa: E402

# The bots measured: the assistant as deployed (`main.py run`) and the bare PTB echo bot (the
# issue's comparison); the echo bot on the assistant's Bot API client
# (bot/channels/telegram_http.py), which leaves only the assistant's own work between the two; and,
# with `--bots`, the assistant with its sessions held in memory (what the database costs).
BOTS = ("assistant", "echo", "echo-aiohttp")
LABELS = {
    "echo": "bare PTB echo bot (httpx)",
    "echo-aiohttp": "echo bot on the assistant's client (aiohttp)",
    "assistant": "assistant (main.py run)",
    "memory": "assistant, sessions in memory",
}

# One-message answers (checked before the run): topics, a report, small talk, a miss.

QUESTIONS = (
    "what is an SCR?",
    "what is a rapid review",
    "pelka",
    "what is a SILP",
    "hello",
    "what is CDOP",
    "how do I report a pothole",
    "baby p",
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def burst(messages: int, chats: int) -> list[dict[str, Any]]:
    """`messages` text messages from `chats` private chats, interleaved as a crowd sends them."""
    updates = []
    now = int(time.time())
    for number in range(messages):
        chat = 100_000 + number % chats
        updates.append(
            {
                "message": {
                    "message_id": number + 1,
                    "date": now,
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Sam"},
                    "text": QUESTIONS[number % len(QUESTIONS)],
                }
            }
        )
    return updates


# --- the bots, each in its own process -------------------------------------------------------


def run_echo_bot(base_url: str, rate_limit: bool, concurrent: int, aiohttp: bool) -> None:
    """A bare PTB bot that echoes every text, built like the assistant's Application; with
    `aiohttp`, on the assistant's Bot API client instead of PTB's default httpx."""
    from telegram import Update
    from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler
    from telegram.ext import filters as f

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        text = update.effective_message.text or ""
        await context.bot.send_message(update.effective_chat.id, text)

    builder = ApplicationBuilder().token(TOKEN).base_url(base_url).concurrent_updates(concurrent)
    if aiohttp:
        from bot.channels.telegram_http import AiohttpRequest

        builder = builder.request(AiohttpRequest(8)).get_updates_request(AiohttpRequest(1))
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.add_handler(MessageHandler(f.TEXT, echo))
    application.run_polling(allowed_updates=["message"], stop_signals=(signal.SIGTERM,))


class MemorySessions:
    """Sessions in a dict instead of the database: what the assistant would cost if loading and
    saving a session were free (bench only, to size the storage's share)."""

    def __init__(self) -> None:
        from bot.storage.records import Session

        self.session = Session
        self.saved: dict[str, tuple[Any, ...]] = {}

    async def load_session(self, chat: str) -> Any:
        flow, step, data = self.saved.get(chat, (None, None, {}))
        return self.session(chat, flow, step, dict(data))

    async def save_session(self, session: Any) -> None:
        self.saved[session.chat] = (session.flow, session.step, dict(session.data))


def memory_sessions(storage: Any) -> None:
    sessions = MemorySessions()
    storage.load_session = sessions.load_session
    storage.save_session = sessions.save_session


def run_assistant_in_memory() -> None:
    """`main.py run`, but with sessions kept in memory (settings from ASSISTANT_SETTINGS)."""
    from bot.app import build_assistant
    from bot.channels.telegram_polling import run_polling
    from bot.cli.main import freeze_startup_objects
    from bot.ops.logs import setup_logging
    from config.settings import load_settings

    settings = load_settings()
    # As main.py run does: without it every HTTP request was logged, which cost this variant
    # more than the sessions it saves.
    setup_logging(settings)

    async def run() -> None:
        assistant = await build_assistant(settings)
        freeze_startup_objects()
        memory_sessions(assistant.storage)
        try:
            await run_polling(assistant)
        finally:
            await assistant.close()

    asyncio.run(run())


def assistant_settings(folder: Path, api: FakeBotApi, rate_limit: bool, concurrent: int) -> Path:
    path = folder / "settings.yaml"
    path.write_text(
        "telegram:\n"
        f"  base_url: {api.base_url}\n"
        f"  base_file_url: http://127.0.0.1:{api.port}/file/bot\n"
        f"  rate_limit: {'true' if rate_limit else 'false'}\n"
        f"  concurrent_updates: {concurrent}\n"
        f"database: {folder / 'assistant.db'}\n"
        "log_level: WARNING\n"
        "mail:\n"
        f"  outbox_dir: {folder / 'outbox'}\n",
        encoding="utf-8",
    )
    return path


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its highest (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_bot(
    name: str, command: list[str], env: dict[str, str], api: FakeBotApi, messages: int, chats: int
) -> tuple[float, float, float, float]:
    """Start the bot, wait until it polls, send the burst; returns (replies per second, the
    bot's CPU milliseconds per update, its RSS in MB once polling and after the burst). CPU
    time hardly depends on what else the machine is doing; the wall-clock rate does."""
    process = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
    try:
        await polling(process, api, name)
        await asyncio.sleep(0.5)  # past start-up work (menu registration, first empty poll)
        rss_start = rss_mb(process.pid)
        before = len(api.method_calls("sendMessage"))
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        for update in burst(messages, chats):
            api.queue_update(update)
        while len(api.method_calls("sendMessage")) - before < messages:
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        rss_after = rss_mb(process.pid)
    finally:
        await stop(process)
    return messages / elapsed, cpu * 1000 / messages, rss_start, rss_after


async def polling(process: asyncio.subprocess.Process, api: FakeBotApi, name: str) -> None:
    """Wait until the bot started as `process` polls the fake Bot API."""
    while not api.method_calls("getUpdates"):
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        await asyncio.sleep(0.05)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, as a service manager stops it; killed if it has not ended in 30 s."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


def bot_command(
    bot: str, api: FakeBotApi, folder: Path, rate_limit: bool, concurrent: int
) -> tuple[list[str], dict[str, str]]:
    """How to start `bot` against `api`: its command line and environment."""
    base_env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_SETTINGS"}
    if not bot.startswith("echo"):
        settings = assistant_settings(folder, api, rate_limit, concurrent)
        env = base_env | {"TELEGRAM_BOT_TOKEN": TOKEN, "ASSISTANT_SETTINGS": str(settings)}
        command = [sys.executable, str(ROOT / "main.py"), "run"]
        if bot == "memory":
            command = [sys.executable, str(Path(__file__).resolve()), "--in-memory"]
        return command, env
    command = [sys.executable, str(Path(__file__).resolve()), "--echo-bot"]
    command += [api.base_url, "--concurrent", str(concurrent)]
    command += ["--rate-limit"] if rate_limit else []
    command += ["--aiohttp"] if bot == "echo-aiohttp" else []
    return command, base_env


async def idle_cost(bot: str, seconds: float) -> tuple[float, float]:
    """The bot with no updates, against a Bot API that answers getUpdates at once (an emulator
    or proxy that does not hold long polls): its CPU (% of one core) and getUpdates calls per
    second over `seconds`, after a few seconds to settle."""
    api = FakeBotApi()
    api.instant_polls = True
    await api.start()
    folder = tempfile.TemporaryDirectory()
    command, env = bot_command(bot, api, Path(folder.name), rate_limit=False, concurrent=64)
    process = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
    try:
        await polling(process, api, bot)
        await asyncio.sleep(3.0)
        polls, cpu = len(api.method_calls("getUpdates")), cpu_seconds(process.pid)
        await asyncio.sleep(seconds)
        polls = len(api.method_calls("getUpdates")) - polls
        cpu = cpu_seconds(process.pid) - cpu
    finally:
        await stop(process)
        await api.stop()
        folder.cleanup()
    return 100 * cpu / seconds, polls / seconds


async def throughput(
    bots: tuple[str, ...], messages: int, chats: int, rate_limit: bool, concurrent: int, repeat: int
) -> dict[str, list[tuple[float, float, float, float]]]:
    """(replies per second, CPU ms per update, RSS MB at start and after) of each bot, `repeat`
    times, alternating which goes first (the machine's load changes over a run; alternating
    spreads it over both)."""
    results: dict[str, list[tuple[float, float, float, float]]] = {bot: [] for bot in bots}
    for round_ in range(repeat):
        order = bots if round_ % 2 == 0 else tuple(reversed(bots))
        for bot in order:
            with tempfile.TemporaryDirectory() as tmp:
                api = FakeBotApi()
                await api.start()
                command, env = bot_command(bot, api, Path(tmp), rate_limit, concurrent)
                try:
                    measured = await measure_bot(bot, command, env, api, messages, chats)
                finally:
                    await api.stop()
                results[bot].append(measured)
                rate, cpu, rss_start, rss_after = measured
                print(
                    f"  round {round_ + 1}: {bot} {rate:.0f} updates/s, {cpu:.2f} CPU ms/update,"
                    f" RSS {rss_start:.0f} -> {rss_after:.0f} MB",
                    flush=True,
                )
    return results


# --- the core alone ----------------------------------------------------------------------


def timed(
    method: Callable[..., Awaitable[Any]], into: list[float]
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - started)

    return wrapper


async def core_latency(messages: int, chats: int, rate: float) -> dict[str, dict[str, list[float]]]:
    """Per-message times of the core in three runs: `chats` chats sending as fast as they are
    answered (saturated), the same chats sending `rate` messages a second in all (paced), and
    one chat alone. Each with the session load and save inside it."""
    from bot.app import build_assistant
    from config.settings import default_settings

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        assistant = await build_assistant(default_settings(), database=str(Path(tmp) / "core.db"))
        timings: dict[str, list[float]] = {"handle": [], "load": [], "save": []}
        storage: Any = assistant.storage  # Any: its methods are wrapped with timers below
        storage.load_session = timed(storage.sessions.load_session, timings["load"])
        storage.save_session = timed(storage.sessions.save_session, timings["save"])
        conversation = assistant.conversation
        for question in QUESTIONS:  # each answer is one message of one chunk
            replies = await conversation.handle(Incoming("bench:check", question))
            assert len(replies) == 1 and len(replies[0].text) < 3_500, question

        async def turn(chat: str, number: int) -> None:
            started = time.perf_counter()
            await conversation.handle(Incoming(chat, QUESTIONS[number % len(QUESTIONS)]))
            timings["handle"].append(time.perf_counter() - started)

        async def saturated(number: int) -> None:
            for n in range(number, messages, chats):
                await turn(f"bench:s{number}", n)

        async def paced(number: int, prefix: str = "p") -> None:
            gap = chats / rate  # each chat's pause between its messages
            await asyncio.sleep(gap * number / chats)  # chats start out of step
            for n in range(number, messages, chats):
                await turn(f"bench:{prefix}{number}", n)
                await asyncio.sleep(gap)

        async def alone() -> None:
            for n in range(min(messages, 400)):
                await turn("bench:alone", n)

        async def paced_full_sync() -> None:
            # For comparison: the storage runs WAL with synchronous=NORMAL (a sync at
            # checkpoints); FULL, SQLite's default, syncs the WAL at every commit. Set on the
            # connection itself: the pragma cannot change inside a transaction.
            await storage.db.connection.execute("PRAGMA synchronous=FULL")
            await asyncio.gather(*(paced(n, "n") for n in range(chats)))
            await storage.db.connection.execute("PRAGMA synchronous=NORMAL")

        async def alone_in_memory() -> None:
            memory_sessions(storage)
            await alone()

        runs: tuple[tuple[str, Callable[[], Awaitable[Any]]], ...] = (
            ("saturated", lambda: asyncio.gather(*(saturated(n) for n in range(chats)))),
            ("paced", lambda: asyncio.gather(*(paced(n) for n in range(chats)))),
            ("paced_full", paced_full_sync),
            ("alone", alone),
            ("memory", alone_in_memory),
        )
        for name, run in runs:
            for values in timings.values():
                values.clear()
            await run()
            results[name] = {key: list(values) for key, values in timings.items()}
        await assistant.close()
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def main_async(args: argparse.Namespace) -> None:
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s)")
    print(f"burst: {args.messages} messages from {args.chats} chats, rate limiter", end=" ")
    print("ON" if args.rate_limit else "off", f"concurrent_updates {args.concurrent}")
    bots = tuple(args.bots.split(","))
    runs = await throughput(
        bots, args.messages, args.chats, args.rate_limit, args.concurrent, args.repeat
    )
    rates = {bot: statistics.median(r[0] for r in values) for bot, values in runs.items()}
    cpus = {bot: statistics.median(r[1] for r in values) for bot, values in runs.items()}
    print(
        "| bot | updates/s (median) | each run | CPU ms/update (median) | each run "
        f"| RSS MB polling | RSS MB after {args.messages:,} |"
    )
    print("|---|---|---|---|---|---|---|")
    for bot, label in LABELS.items():
        if bot not in runs:
            continue
        each = ", ".join(f"{r[0]:.0f}" for r in runs[bot])
        each_cpu = ", ".join(f"{r[1]:.2f}" for r in runs[bot])
        start = statistics.median(r[2] for r in runs[bot])
        after = statistics.median(r[3] for r in runs[bot])
        print(
            f"| {label} | {rates[bot]:.0f} | {each} | {cpus[bot]:.2f} | {each_cpu} "
            f"| {start:.0f} | {after:.0f} |"
        )
    for bot in ("assistant", "memory"):
        for echo in ("echo", "echo-aiohttp"):
            if bot in runs and echo in runs:
                print(
                    f"{LABELS[bot]} / {LABELS[echo]}: wall clock {rates[bot] / rates[echo]:.0%},"
                    f" by CPU per update {cpus[echo] / cpus[bot]:.0%} (target >= 90%)"
                )

    if args.idle:
        print(f"\nidle, {args.idle:g} s against a Bot API answering getUpdates at once:")
        print("| bot | CPU % of one core | getUpdates/s |\n|---|---|---|")
        for bot in bots:
            cpu_percent, polls = await idle_cost(bot, args.idle)
            print(f"| {LABELS[bot]} | {cpu_percent:.1f} | {polls:.1f} |", flush=True)

    if not args.core_messages:
        return
    results = await core_latency(args.core_messages, args.chats, args.core_rate)
    print(f"\ncore ({args.core_messages} messages from {args.chats} chats, SQLite file):")
    print("| run | what | p50 ms | p99 ms | mean ms |\n|---|---|---|---|---|")
    core_runs = {
        "saturated": f"{args.chats} chats, each sending as soon as answered",
        "paced": f"{args.chats} chats, {args.core_rate:g} messages/s in all",
        "paced_full": "the same, with PRAGMA synchronous=FULL",
        "alone": "one chat alone",
        "memory": "one chat alone, sessions in memory",
    }
    for run, label in core_runs.items():
        for key, what in (
            ("handle", "Conversation.handle"),
            ("load", "load_session"),
            ("save", "save_session"),
        ):
            values = results[run][key]
            if not values:  # sessions in memory: no database calls to time
                continue
            print(
                f"| {label} | {what} | {ms(percentile(values, 50))} |"
                f" {ms(percentile(values, 99))} | {ms(statistics.fmean(values))} |"
            )
    p99 = percentile(results["paced"]["handle"], 99)
    print(f"core p99, {args.chats} chats paced: {ms(p99)} ms (target < 10 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rate-limit", action="store_true", help="Telegram's limits, both bots")
    parser.add_argument("--concurrent", type=int, default=64, help="concurrent_updates, both")
    parser.add_argument(
        "--core-rate", type=float, default=100.0, help="messages/s of the paced core run"
    )
    parser.add_argument(
        "--core-messages", type=int, default=2_000, help="messages of each core run (0: none)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each bot, alternating")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds of the idle measurement (0: none)"
    )
    parser.add_argument(
        "--bots", default=",".join(BOTS), help=f"which of {', '.join(LABELS)} (comma-separated)"
    )
    parser.add_argument("--echo-bot", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--aiohttp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.bots.split(",")) - set(LABELS):
        parser.error(f"unknown bot(s): {', '.join(sorted(unknown))}")
    if args.in_memory:
        run_assistant_in_memory()
        return
    if args.echo_bot:
        run_echo_bot(args.echo_bot, args.rate_limit, args.concurrent, args.aiohttp)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
