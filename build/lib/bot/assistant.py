"""What a running assistant is made of, as `bot/app.py` builds it and the channels and the command
line use it: storage, the wired conversation, the outbox, the registry in use, retention."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.conversation import Conversation
from bot.core.replies import Reply
from bot.mail.outbox import Outbox
from bot.ops.retention import RetentionJob
from bot.storage import Storage
from config.registry import Registry
from config.settings import Settings
from knowledge.loader import Knowledge


class Registered(Protocol):
    """The registry of liaison officers in use (handlers/signin.py `Access` is the one)."""

    registry: Registry
    clock: Callable[[], float]

    async def use_registry(
        self, registry: Registry, storage: Storage, who: str = ...
    ) -> list[str]: ...

    # The staff page's sign-in, by the chat sign-in's rules (bot/channels/staff/).
    async def staff_code(
        self, storage: Storage, settings: Settings, chat: str, email: str
    ) -> str | None: ...

    async def staff_signin(
        self, storage: Storage, chat: str, code: str
    ) -> tuple[str | None, str | None]: ...


@dataclass
class Assistant:
    storage: Storage
    conversation: Conversation
    # Built and wired here, started by the channel runner (main.py serve) with outbox.start().
    outbox: Outbox
    # The registry in use and the clock of sign-in (tests move it): handlers.signin.Access.
    access: Registered
    # Started with the outbox by main.py serve(): deletes data past its retention period.
    retention: RetentionJob
    # News for any chat of the partnership, by email for an email chat (the email channel's
    # `deliver`, set by the installation when it runs one): a hand-off answered on the staff
    # page reaches the asker where they asked.
    deliver_news: Callable[[str, list[Reply]], Awaitable[bool]] | None = None

    # One source of truth: the conversation holds the knowledge and settings in use (/reload
    # replaces its knowledge), and these read them there, so they can never be a stale copy.
    @property
    def knowledge(self) -> Knowledge:
        return self.conversation.knowledge

    @property
    def settings(self) -> Settings:
        return self.conversation.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        # Tests change a setting on a built assistant: channel and core must both see it.
        self.conversation.settings = settings

    async def close(self) -> None:
        await self.conversation.usage.flush(self.storage)  # the last minute's counts
        await self.outbox.stop()  # before the database it writes to is closed
        await self.retention.stop()
        await self.storage.close()
