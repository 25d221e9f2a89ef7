"""Shared fixtures: settings on temporary paths, a real assistant on a real SQLite file, and
`Chat`, which talks to the conversation core the way a user would (typing, pressing buttons)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Assistant, build_assistant
from bot.replies import Button, Incoming, Reply
from config.settings import Settings
from knowledge import loader
from tests.telegram_support import FakeBotApi, TelegramHarness, start_harness

# One parsed (and embedded) knowledge base per directory content for the whole run: parsing the
# shipped YAML for each of a thousand tests was most of the suite's time. Knowledge is frozen, so
# no test can change what another reads; a test that edits a copy gets its own (new content).
loader.shared = {}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return dataclasses.replace(
        base,
        database=str(tmp_path / "assistant.db"),
        mail=dataclasses.replace(base.mail, outbox_dir=str(tmp_path / "outbox")),
    )


@pytest.fixture
async def assistant(settings: Settings) -> AsyncIterator[Assistant]:
    assistant = await build_assistant(settings)
    yield assistant
    await assistant.close()


class Chat:
    """One user's chat with the core. `replies` holds the last turn's replies."""

    def __init__(self, assistant: Assistant, chat: str = "test:1") -> None:
        self.assistant = assistant
        self.chat = chat
        self.replies: list[Reply] = []

    async def say(self, text: str) -> list[Reply]:
        self.replies = await self.assistant.conversation.handle(Incoming(self.chat, text))
        return self.replies

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.replies for b in r.buttons]

    @property
    def text(self) -> str:
        """Everything the user sees in the last turn, titles included."""
        return "\n".join(f"{r.title or ''}\n{r.text}" for r in self.replies)

    async def press(self, label: str) -> list[Reply]:
        """Press the button whose label contains `label` (case-insensitive); fails if none."""
        for button in self.buttons:
            if label.casefold() in button.label.casefold():
                incoming = Incoming(self.chat, button.data, pressed=True)
                self.replies = await self.assistant.conversation.handle(incoming)
                return self.replies
        labels = [b.label for b in self.buttons]
        raise AssertionError(f"no button {label!r} among {labels}")


@pytest.fixture
def chat(assistant: Assistant) -> Chat:
    return Chat(assistant)


def new_chat(assistant: Assistant, name: str) -> Chat:
    return Chat(assistant, name)


@pytest.fixture
async def telegram(assistant: Assistant) -> AsyncIterator[TelegramHarness]:
    """The real python-telegram-bot Application talking HTTP to a fake Bot API on loopback."""
    api = FakeBotApi()
    await api.start()
    harness = await start_harness(assistant, api)
    yield harness
    await harness.app.shutdown()
    await api.stop()
