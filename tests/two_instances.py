"""Two assistant processes, one PostgreSQL database (tests/test_two_instances.py, and at full
scale bench/two_instances.py).

Each process is `python main.py serve --webhook`, talking to one fake Bot API on loopback and
delivering email to one real aiosmtpd. Updates are posted to either process, as a load
balancer in front of them would. Question chats ask three questions, one after the other;
notification chats (signed in beforehand) fill in the form, one step at a time, and their
Submit is posted to BOTH processes at once (a double tap reaching each instance): one email
must arrive, under one reference.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.server import SECRET_HEADER
from bot.storage import Storage
from knowledge.form import Form
from knowledge.loader import load_knowledge
from tests.cli import ROOT, main_env
from tests.signin_support import REGISTRY, SLO, fill_form
from tests.telegram_support import TOKEN, FakeBotApi, buttons_of
from tests.test_mailer import Recorder
from tests.test_serve import free_port, serve_settings

SECRET = "two-instances-secret"
# Each question and how its answer begins: the order of answers must follow the questions.
QUESTIONS = [
    ("what is an SCR?", "<b>Serious case review"),
    ("what is a rapid review?", "<b>Rapid review"),
    ("what is a child safeguarding practice review?", "<b>Local child safeguarding"),
]
QUIET_SECONDS = 0.4  # a turn is over when no new message came for this long


@dataclass
class Instance:
    process: asyncio.subprocess.Process
    port: int
    log: Path


@dataclass
class World:
    api: FakeBotApi
    recorder: Recorder
    instances: list[Instance]
    http: httpx.AsyncClient
    form: Form
    quiet: float = QUIET_SECONDS
    update_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [p for p in self.api.method_calls("sendMessage") if p["chat_id"] == chat_id]

    async def post(self, instance: int, update: dict[str, Any]) -> None:
        update["update_id"] = next(self.update_ids)
        port = self.instances[instance].port
        response = await self.http.post(
            f"http://127.0.0.1:{port}/telegram", json=update, headers={SECRET_HEADER: SECRET}
        )
        assert response.status_code == 200, response.text

    async def turn(
        self,
        chat_id: int,
        update: dict[str, Any],
        *instances: int,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        """Post `update` (to each of `instances`) and wait until the bot has answered: a new
        message, `ready()` true (the message the driver needs next has come), and then no
        further message for `quiet` seconds."""
        before = len(self.sent_to(chat_id))
        await asyncio.gather(*(self.post(i, dict(update)) for i in instances))
        deadline = time.monotonic() + 60
        while len(self.sent_to(chat_id)) == before or not ready():
            assert time.monotonic() < deadline, f"no answer in chat {chat_id}"
            await asyncio.sleep(0.02)
        count = len(self.sent_to(chat_id))
        while True:  # wait for the rest of a turn's messages
            await asyncio.sleep(self.quiet)
            if len(self.sent_to(chat_id)) == count:
                return
            count = len(self.sent_to(chat_id))


def text_update(chat_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"message": message}


def press_update(chat_id: int, data: str) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": f"{chat_id}-{time.monotonic_ns()}",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": "earlier message",
            },
        }
    }


def settings_yaml(tmp_path: Path, api: FakeBotApi, port: int, smtp_port: int) -> str:
    """`serve`'s test settings (tests/test_serve.py), with the registry and the SMTP server."""
    return (
        f"registry_file: {tmp_path / 'registry.yaml'}\n"
        + serve_settings(tmp_path, api, port)
        + f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, timeout_seconds: 10}}\n"
    )


async def start_instances(
    tmp_path: Path, api: FakeBotApi, database_url: str, smtp_port: int, count: int = 2
) -> list[Instance]:
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    instances = []
    for n in range(count):
        folder = tmp_path / f"instance-{n}"
        folder.mkdir()
        port = free_port()
        env = main_env(folder, settings_yaml(tmp_path, api, port, smtp_port))
        env |= {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "ASSISTANT_DATABASE": database_url,
        }
        log = folder / "stderr.log"
        with log.open("wb") as stderr:  # the child has its own copy of the file
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "main.py"),
                "serve",
                "--webhook",
                env=env,
                cwd=folder,
                stderr=stderr,
            )
        instances.append(Instance(process, port, log))
    async with httpx.AsyncClient() as http:
        for instance in instances:
            deadline = time.monotonic() + 90
            while True:
                assert instance.process.returncode is None, instance.log.read_text()[-2000:]
                assert time.monotonic() < deadline, "serve did not start"
                try:
                    url = f"http://127.0.0.1:{instance.port}/readyz"
                    if (await http.get(url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
    return instances


async def stop_instances(instances: list[Instance]) -> list[str]:
    """SIGTERM each (as a service manager does); returns their logs."""
    for instance in instances:
        if instance.process.returncode is None:
            instance.process.send_signal(signal.SIGTERM)
    for instance in instances:
        try:
            await asyncio.wait_for(instance.process.wait(), 60)
        except TimeoutError:
            instance.process.kill()
            await instance.process.wait()
    return [instance.log.read_text(errors="replace") for instance in instances]


async def ask_questions(world: World, chat_id: int) -> None:
    for n, (question, _) in enumerate(QUESTIONS):
        await world.turn(chat_id, text_update(chat_id, question), (chat_id + n) % 2)


def answers_in_order(world: World, chat_id: int) -> bool:
    texts = [p["text"] for p in world.sent_to(chat_id)]
    return len(texts) == len(QUESTIONS) and all(
        text.startswith(start) for text, (_, start) in zip(texts, QUESTIONS, strict=True)
    )


async def submit_notification(world: World, chat_id: int) -> None:
    """Fill the form in through the webhooks, steps alternating between the instances, and
    post Submit to both."""
    step = itertools.count()

    def last() -> tuple[str, dict[str, str]]:
        message = world.sent_to(chat_id)[-1]
        return message["text"], {b["text"]: b.get("callback_data", "") for b in buttons_of(message)}

    def actionable() -> bool:
        """The last message is one `fill_form` acts on (a question, a check, the summary)."""
        text, buttons = last()
        return (
            bool({"Submit", "Start"} & set(buttons))
            or "Is this right?" in text
            or any(f.prompt in text for f in world.form.fields)
        )

    async def say(text: str) -> None:
        await world.turn(chat_id, text_update(chat_id, text), next(step) % 2, ready=actionable)

    async def press(data: str) -> None:
        await world.turn(chat_id, press_update(chat_id, data), next(step) % 2, ready=actionable)

    await say("/notify")
    await fill_form(world.form, last, say, press, {})
    _, buttons = last()
    await world.turn(chat_id, press_update(chat_id, buttons["Submit"]), 0, 1)


async def sign_in_chats(database_url: str, chat_ids: list[int]) -> None:
    """Link the notification chats to a registered SLO (sign-in itself is tested elsewhere)."""
    storage = await Storage.open(database_url)
    try:
        for chat_id in chat_ids:
            await storage.signin.link_chat(f"telegram:{chat_id}", SLO, time.time())
    finally:
        await storage.close()


def load_form() -> Form:
    return load_knowledge(ROOT / "knowledge").form
