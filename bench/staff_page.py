"""How long the staff page takes to draw its pages with a busy year behind it (docs/benchmarks.md).

    .venv/bin/python bench/staff_page.py [--notifications 2000] [--questions 500] [--repeat 20]

A SQLite file is filled through the stores: a year of usage counts (4 channels, every outcome,
40 topics a day), `--notifications` notifications with their emails, `--questions` unanswered
questions (varied, so they group as real ones would); then each page is asked `--repeat` times
over the ASGI app (httpx, no network) by a signed-in member of staff, and the median and the
slowest are printed. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette

from bot.app import build_assistant
from bot.channels.staff import guard
from bot.channels.staff.pages import StaffRoutes
from bot.mail.message import OutgoingEmail
from config.settings import default_settings

CHANNELS = ("telegram", "web", "email", "console")
OUTCOMES = ("answered", "choices", "declined", "unanswered", "urgent")
WORDS = "when where who how what does the a our my can I is are library pool parking form".split()


async def fill(assistant: object, notifications: int, questions: int) -> None:
    storage = assistant.storage  # type: ignore[attr-defined]
    topics = list(assistant.knowledge.topics)[:40]  # type: ignore[attr-defined]
    now = time.time()
    counts: dict[tuple[str, str, str, str], int] = {}
    for day in range(365):
        stamp = time.strftime("%Y-%m-%d", time.gmtime(now - day * 86400))
        for channel in CHANNELS:
            for outcome in OUTCOMES:
                items = topics if outcome == "answered" else [""]
                for item in items:
                    counts[(stamp, channel, outcome, item)] = random.randint(1, 9)
    await storage.staff.add_usage(counts)
    for n in range(notifications):

        def email(reference: str, n: int = n) -> OutgoingEmail:
            return OutgoingEmail(
                ("board@example.org",), reference, "text " * 200, None, f"<{reference}.{n}@x>"
            )

        await storage.notifications.submit_notification(
            f"console:{n}", f"draft-{n}", "An agency", {"summary": "x"}, email
        )
    rng = random.Random(7)
    for n in range(questions):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))
        await storage.questions.record_unanswered(f"console:{n}", text)


async def main(notifications: int, questions: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = default_settings()
        settings = type(settings)(**{**vars(settings), "database": str(Path(tmp) / "a.db")})
        assistant = await build_assistant(settings)
        try:
            started = time.perf_counter()
            await fill(assistant, notifications, questions)
            print(f"filled in {time.perf_counter() - started:.1f} s")
            token = guard.new_token()
            await assistant.storage.staff.start_session(
                guard.token_hash(token), "board.admin@example.org", "csrf", time.time(), 1e12
            )
            app = Starlette(routes=StaffRoutes(assistant).routes())
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://staff.test"
            ) as client:
                client.cookies.set(guard.SESSION_COOKIE, token, domain="staff.test", path="/staff")
                for path in ("/staff", "/staff/notifications", "/staff/unanswered"):
                    times = []
                    for _ in range(repeat):
                        begun = time.perf_counter()
                        answer = await client.get(path)
                        times.append(time.perf_counter() - begun)
                        assert answer.status_code == 200, (path, answer.status_code)
                    print(
                        f"{path:24} median {statistics.median(times) * 1000:7.1f} ms, "
                        f"slowest {max(times) * 1000:7.1f} ms, {len(answer.content) // 1024} KiB"
                    )
        finally:
            await assistant.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main(args.notifications, args.questions, args.repeat))
