"""Several partnerships from one process: an assistant for each, over one database.

Every partnership the settings list (config/installation.py) gets its own assistant: its own
settings, knowledge, registry, conversation, outbox worker and retention job, and its own view
of the shared database (bot/storage/scoped.py), so nothing one partnership's people or staff can
reach holds another's data or contacts. Its endpoints (a Telegram bot, a mailbox) are its own.

How the endpoints run depends on the command (bot/cli/main.py): `serve` hands each partnership
to the HTTP service (bot/server.py: its webhook or polling, its workers), the plain run to
`PollingBots` here, the console to `Workers`. Each is a `Runner`. The installation itself runs
each partnership's email channel.

An installation administrator's /reload calls `reload`: the settings file and the packs are
read again; a partnership newly listed is started, one no longer listed is stopped (its data
stays), and the others take their new knowledge, registry and settings. A change to one's
endpoints (its token, its mailbox, the mail server) needs a restart, and /reload says so: a bot
or a mailbox cannot be swapped under the conversations in flight on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.email.channel import EmailChannel, make_email_channel
from bot.channels.telegram import TelegramChannel, build_application
from bot.channels.telegram_polling import Poller, start_updates, stop_updates
from bot.core.loading import load_all
from bot.storage import Storage
from config.settings import InstallationSettings, Settings, SettingsError
from config.validation import KnowledgeError

log = logging.getLogger(__name__)


class Runner(Protocol):
    """Runs a partnership's workers and chat endpoints (the HTTP service, polling, console)."""

    async def add_partnership(self, assistant: Assistant) -> None: ...

    async def remove_partnership(self, partnership: str) -> None: ...


class Workers:
    """The console's runner: each partnership's outbox and retention job; no chat endpoint."""

    def __init__(self) -> None:
        self.assistants: dict[str, Assistant] = {}

    async def add_partnership(self, assistant: Assistant) -> None:
        self.assistants[assistant.settings.partnership] = assistant
        assistant.outbox.start()  # delivers queued email, including any left from the last run
        assistant.retention.start()  # runs now, then hourly

    async def remove_partnership(self, partnership: str) -> None:
        assistant = self.assistants.pop(partnership, None)
        if assistant is not None:
            await assistant.outbox.stop()
            await assistant.retention.stop()


class PollingBots(Workers):
    """The plain run's runner: the workers, and each partnership's Telegram bot by long
    polling, all in this event loop."""

    def __init__(self) -> None:
        super().__init__()
        self.applications: dict[str, Any] = {}
        self.pollers: dict[str, Poller | None] = {}

    async def add_partnership(self, assistant: Assistant) -> None:
        await super().add_partnership(assistant)
        if not assistant.settings.telegram_token:
            return
        application = build_application(assistant)
        channel: TelegramChannel = application.bot_data["channel"]
        await application.initialize()
        await channel.post_init(application)  # Application.post_init runs only under run_*()
        await application.start()
        # What an earlier run left unhandled first, then long polling.
        poller = start_updates(application, assistant, polling=True)
        self.applications[assistant.settings.partnership] = application
        self.pollers[assistant.settings.partnership] = poller

    async def remove_partnership(self, partnership: str) -> None:
        application = self.applications.pop(partnership, None)
        if application is not None:
            channel: TelegramChannel = application.bot_data["channel"]
            await channel.stop()
            # Stops polling; updates being handled get a moment, the rest stay stored.
            await stop_updates(application, self.pollers.pop(partnership, None))
            if application.running:
                await application.stop()
            await application.shutdown()
        await super().remove_partnership(partnership)


def endpoints(settings: Settings) -> tuple[Any, ...]:
    """What cannot change under a running partnership: its bot, its mailbox, its mail server,
    where its files go, its site key and Teams app. The rest a reload puts in use at once."""
    return (
        settings.telegram_token,
        settings.webhook_secret,
        settings.telegram,
        settings.email,
        settings.email_password,
        settings.oauth_client_secret,
        settings.smtp,
        settings.smtp_password,
        settings.endpoints,
        settings.mail.from_address,
        settings.mail.outbox_dir,
        settings.database_target(),
    )


@dataclass
class Installation:
    settings: InstallationSettings
    storage: Storage  # opens and closes the database; each assistant has its own view of it
    assistants: dict[str, Assistant]
    # Reads the settings again (for /reload): the same file and environment as at start.
    reread: Callable[[], InstallationSettings] | None = None
    runner: Runner | None = None

    def __post_init__(self) -> None:
        self.email_channels: dict[str, EmailChannel] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._reloading = asyncio.Lock()  # two administrators' /reload at once: one at a time
        for assistant in self.assistants.values():
            assistant.conversation.reload_installation = self.reload

    @classmethod
    async def open(
        cls,
        settings: InstallationSettings,
        reread: Callable[[], InstallationSettings] | None = None,
        database: str | None = None,
    ) -> Installation:
        """Open the database once and build every partnership's assistant on it. Raises
        KnowledgeError (naming the pack) or DatabaseError; nothing is left open then."""
        first = settings.first
        storage = await Storage.open(
            database or first.database_target(),
            first.partnership,
            default_partnership=settings.default,
        )
        assistants: dict[str, Assistant] = {}
        try:
            for partnership in settings.partnerships:
                assistants[partnership.partnership] = await _build(partnership, storage)
        except BaseException:
            for assistant in assistants.values():
                await assistant.close()
            await storage.close()
            raise
        return cls(settings, storage, assistants, reread)

    @property
    def default(self) -> Assistant:
        """The default partnership's assistant if it is served, else the first's."""
        return self.assistants.get(self.settings.default) or next(iter(self.assistants.values()))

    def by_teams_app(self, app_id: str) -> Assistant | None:
        """The partnership of this Teams (Bot Framework) app id (the Teams channel's lookup)."""
        found = (a for a in self.assistants.values() if a.settings.endpoints.teams_app_id == app_id)
        return next(found, None) if app_id else None

    # --- running ----------------------------------------------------------------------------

    async def start(self, runner: Runner) -> None:
        """Run every partnership: `runner` its workers and chat endpoints, this its mailbox."""
        self.runner = runner
        for assistant in self.assistants.values():
            await self._start(assistant)

    async def _start(self, assistant: Assistant) -> None:
        if self.runner is not None:
            await self.runner.add_partnership(assistant)
        if assistant.settings.email is not None:
            channel = make_email_channel(assistant)
            self.email_channels[assistant.settings.partnership] = channel
            assistant.deliver_news = channel.deliver  # the staff page's hand-off answers
            channel.start()

    async def _stop(self, partnership: str) -> None:
        channel = self.email_channels.pop(partnership, None)
        if channel is not None:
            await channel.stop()
        if self.runner is not None:
            await self.runner.remove_partnership(partnership)

    async def close(self) -> None:
        for task in list(self._background):
            await task
        for partnership in list(self.assistants):
            await self._stop(partnership)
        for assistant in self.assistants.values():
            await assistant.close()
        await self.storage.close()

    # --- /reload of an installation administrator ---------------------------------------------

    async def reload(self) -> list[str]:
        """Read the partnerships again: start the new, stop the removed, put the changes of the
        others in use. Returns a line per partnership; raises SettingsError (nothing changed)."""
        if self.reread is None:
            return ["This installation was not started from a settings file: nothing to re-read."]
        async with self._reloading:
            return await self._reload(self.reread)

    async def _reload(self, reread: Callable[[], InstallationSettings]) -> list[str]:
        settings = await asyncio.to_thread(reread)
        # Everything is loaded and validated before anything changes, as /reload does.
        loaded = {}
        for partnership in settings.partnerships:
            try:
                loaded[partnership.partnership] = await asyncio.to_thread(load_all, partnership)
            except KnowledgeError as exc:
                raise SettingsError(
                    f"{partnership.partnership}: " + "\n".join(exc.problems[:20])
                ) from exc
        lines = []
        for partnership in settings.partnerships:
            pid = partnership.partnership
            current = self.assistants.get(pid)
            if current is None:
                assistant = await _build(partnership, self.storage)
                assistant.conversation.reload_installation = self.reload
                self.assistants[pid] = assistant
                await self._start(assistant)
                lines.append(f"{pid}: started")
                log.info("partnership %s started by reload", pid)
            elif endpoints(current.settings) != endpoints(partnership):
                lines.append(f"{pid}: its endpoints changed; restart to put them in use")
            else:
                changed = current.settings != partnership
                await self._renew(current, partnership, loaded[pid].knowledge, loaded[pid].registry)
                lines.append(
                    f"{pid}: {'settings, ' if changed else ''}knowledge and registry reloaded"
                )
        for pid in [p for p in self.assistants if settings.get(p) is None]:
            assistant = self.assistants.pop(pid)
            # In the background: this /reload may be running in that partnership's own chat,
            # whose bot stops only once the handler has returned.
            task = asyncio.create_task(self._retire(pid, assistant), name=f"stop {pid}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            lines.append(f"{pid}: no longer listed; stopped (its data stays)")
        self.settings = settings
        return lines

    async def _renew(
        self, assistant: Assistant, settings: Settings, knowledge: Any, registry: Any
    ) -> None:
        """Put a partnership's new settings, knowledge and registry in use."""
        if assistant.settings != settings:
            assistant.settings = settings  # the conversation, so every handler
            assistant.outbox.settings = settings
            assistant.retention.settings = settings
            channel = self.email_channels.get(settings.partnership)
            if channel is not None:  # it keeps its settings: a fresh one takes the new
                await channel.stop()
                fresh = make_email_channel(assistant)
                self.email_channels[settings.partnership] = fresh
                assistant.deliver_news = fresh.deliver
                fresh.start()
        assistant.conversation.replace_knowledge(knowledge)
        await assistant.access.use_registry(registry, assistant.storage)

    async def _retire(self, partnership: str, assistant: Assistant) -> None:
        try:
            await self._stop(partnership)
            await assistant.close()
            log.info("partnership %s stopped by reload", partnership)
        except Exception as exc:  # logged; the others carry on
            log.error("partnership %s did not stop cleanly: %s", partnership, type(exc).__name__)


async def _build(settings: Settings, storage: Storage) -> Assistant:
    """The assistant of one partnership, on its own view of the installation's database."""
    return await build_assistant(settings, storage=storage.for_partnership(settings.partnership))
