"""The first start of a bot without its derived files (an empty cache): it builds them, keeps
them, and starts again reading them back, so the long-running process never holds what the
build held (bot/cli/main.py `Restart`); it answers as usual, and the next start reads them at
once."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.cli import ROOT, main_env
from tests.incoming_support import answered, question, until, until_ready
from tests.telegram_support import TOKEN, FakeBotApi
from tests.test_serve import free_port, serve_settings

pytestmark = pytest.mark.slow  # main.py serve as a process, twice, the first one cold

RESTARTING = "starting again to read them back"


async def serve_once(folder: Path, api: FakeBotApi, chat: int) -> str:
    """`main.py serve` (polling) in `folder`, with its own cache there: asked one question,
    answered, stopped. Returns its log."""
    port = free_port()
    env = main_env(folder, serve_settings(folder, api, port), own_cache=True)
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN}
    log = folder / f"serve-{time.time_ns()}.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "main.py"), "serve", env=env, cwd=ROOT, stderr=stderr
        )
    try:
        await until_ready(process, port, log, 120)
        api.queue_update(
            {
                "message": {
                    "message_id": chat,
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Sam"},
                    "text": question(chat),
                }
            }
        )
        await until(lambda: answered(api)[chat] == 1, "the answer")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
    return log.read_text(errors="replace")


async def test_a_first_start_fills_the_cache_then_starts_again_reading_it(
    tmp_path: Path,
) -> None:
    api = FakeBotApi()
    await api.start()
    try:
        first = await serve_once(tmp_path, api, 81)
        cache = tmp_path / "cache"
        kept = sorted(p.name for p in cache.iterdir())
        assert any(name.startswith("vectors-") for name in kept), kept
        assert any(name.startswith("topic-text-") for name in kept), kept
        assert first.count(RESTARTING) == 1, first[-3000:]
        assert "Traceback" not in first

        again = await serve_once(tmp_path, api, 82)
        assert RESTARTING not in again  # everything read back: no second build
        assert sorted(p.name for p in cache.iterdir()) == kept
        assert "Traceback" not in again
    finally:
        await api.stop()
    texts = [call["text"] for call in api.method_calls("sendMessage")]
    assert len(texts) == 2 and texts[0] == texts[1]  # the same answer, built or read back
