"""A long-running job of the assistant (the outbox worker, the retention job) as an asyncio task
that the channel runner starts and `Assistant.close()` stops."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundTask:
    name = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Run `run()` as a task of the current event loop until `stop()`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
