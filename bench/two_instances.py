"""Two instances, one PostgreSQL, at full scale: 200 question chats and 50 notifications.

    .venv/bin/python bench/two_instances.py                 # starts a throw-away cluster
    TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/two_instances.py

Two `main.py serve --webhook` processes share one PostgreSQL database, one fake Bot API on
loopback and one real aiosmtpd (tests/two_instances.py, which tests/test_two_instances.py runs
scaled down). 200 chats each ask three questions, one after the other, their updates spread
over both processes; 50 signed-in chats each fill in the notification form and press Submit
on both processes at once. Prints one JSON line: the checks (answers once and in order, one
email per notification) and the wall-clock time. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import httpx  # noqa: E402

from tests.postgres_support import Cluster, create_database  # noqa: E402
from tests.telegram_support import FakeBotApi  # noqa: E402
from tests.test_mailer import Recorder, smtp_server  # noqa: E402
from tests.two_instances import (  # noqa: E402
    World,
    answers_in_order,
    ask_questions,
    load_form,
    sign_in_chats,
    start_instances,
    stop_instances,
    submit_notification,
)


async def run(server_url: str, questions: int, notifications: int) -> dict[str, object]:
    database = await create_database(server_url)
    questioners = list(range(1000, 1000 + questions))
    notifiers = list(range(50_000, 50_000 + notifications))
    await sign_in_chats(database, notifiers)
    api = FakeBotApi()
    await api.start()
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as folder, smtp_server(recorder) as smtp_port:
        instances = await start_instances(Path(folder), api, database, smtp_port)
        try:
            async with httpx.AsyncClient(timeout=60) as http:
                world = World(api, recorder, instances, http, load_form())
                started = time.perf_counter()
                await asyncio.gather(
                    *(ask_questions(world, chat) for chat in questioners),
                    *(submit_notification(world, chat) for chat in notifiers),
                )
                seconds = time.perf_counter() - started
                deadline = time.monotonic() + 60
                while len(recorder.received) < notifications and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2.0)  # time for a duplicate to show, if there were one
        finally:
            logs = await stop_instances(instances)
        await api.stop()
    references = Counter(
        m.group(0)
        for r in recorder.received
        if (m := re.search(r"SIN-\d{4}-\d{4}", r.message["Subject"] or ""))
    )
    return {
        "question_chats": questions,
        "answers_once_in_order": sum(answers_in_order(world, c) for c in questioners),
        "notification_chats": notifications,
        "emails_received": len(recorder.received),
        "distinct_references": len(references),
        "duplicated_emails": sum(n - 1 for n in references.values()),
        "seconds": round(seconds, 1),
        "tracebacks_in_logs": sum("Traceback" in log for log in logs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=50)
    args = parser.parse_args()
    given = os.environ.get("TEST_POSTGRES_URL")
    cluster = None if given else Cluster()
    try:
        server_url = given or (cluster.url if cluster else "")
        print(json.dumps(asyncio.run(run(server_url, args.questions, args.notifications))))
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()
