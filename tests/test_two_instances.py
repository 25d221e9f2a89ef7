"""Two instances, one database: two `main.py serve --webhook` processes against one real
PostgreSQL server, a fake Bot API and a real aiosmtpd (tests/two_instances.py). Scaled down
from the benchmark (bench/two_instances.py: 200 question chats, 50 notifications) to keep CI
short; it is still two processes on one database, with every chat's updates spread over both."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.telegram_support import FakeBotApi
from tests.test_mailer import Recorder, smtp_server
from tests.two_instances import (
    World,
    answers_in_order,
    ask_questions,
    load_form,
    sign_in_chats,
    start_instances,
    stop_instances,
    submit_notification,
)

pytestmark = pytest.mark.slow  # two instances of main.py

QUESTION_CHATS = 20
NOTIFICATION_CHATS = 4
# Shorter than the benchmark's: a form turn also waits for the message the driver acts on.
QUIET_SECONDS = 0.1


async def test_two_instances_answer_once_in_order_and_send_each_email_once(
    tmp_path: Path, postgres_url: str
) -> None:
    import httpx

    questioners = list(range(1000, 1000 + QUESTION_CHATS))
    notifiers = list(range(5000, 5000 + NOTIFICATION_CHATS))
    await sign_in_chats(postgres_url, notifiers)
    api = FakeBotApi()
    await api.start()
    recorder = Recorder()
    instances = []
    try:
        with smtp_server(recorder) as smtp_port:
            instances = await start_instances(tmp_path, api, postgres_url, smtp_port)
            async with httpx.AsyncClient(timeout=30) as http:
                world = World(api, recorder, instances, http, load_form(), quiet=QUIET_SECONDS)
                await asyncio.gather(
                    *(ask_questions(world, chat) for chat in questioners),
                    *(submit_notification(world, chat) for chat in notifiers),
                )
                for _ in range(200):  # the outbox workers deliver in the background
                    if len(recorder.received) >= NOTIFICATION_CHATS:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # time for a duplicate to show, if there were one
            logs = await stop_instances(instances)
    finally:
        await stop_instances(instances)
        await api.stop()
    for chat in questioners:
        assert answers_in_order(world, chat), [m["text"][:40] for m in world.sent_to(chat)]
    subjects = [m.message["Subject"] for m in recorder.received]
    references = [re.search(r"SIN-\d{4}-\d{4}", s or "") for s in subjects]
    assert all(references), subjects
    counted = Counter(r.group(0) for r in references if r)
    assert len(counted) == NOTIFICATION_CHATS and set(counted.values()) == {1}, subjects
    for chat in notifiers:
        said = " ".join(m["text"] for m in world.sent_to(chat))
        assert "SIN-" in said, f"chat {chat} was not given its reference"
    for log in logs:
        assert "Traceback" not in log, log[-3000:]
