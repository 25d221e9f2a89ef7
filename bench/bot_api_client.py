"""The Bot API client alone: CPU per `sendMessage` through PTB's default httpx client and through
the assistant's aiohttp client (bot/channels/telegram_http.py), against the same Bot API emulator
(tests/telegram_support.FakeBotApi) in this process, so each figure is client plus emulator.

    .venv/bin/python bench/bot_api_client.py                 # 3,000 sends, 64 at once, 3 rounds
    .venv/bin/python bench/bot_api_client.py --sends 500 --repeat 1

Each send is a typical reply: an HTML text of about 500 characters with an inline keyboard.
Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from telegram.ext import ExtBot  # noqa: E402
from telegram.request import BaseRequest, HTTPXRequest  # noqa: E402

from bot.channels.telegram_http import AiohttpRequest  # noqa: E402
from tests.telegram_support import TOKEN, FakeBotApi  # noqa: E402

CONNECTIONS = 8
TEXT = (
    "<b>Serious case review</b>\n"
    + "A line of the answer, with <a href='https://x'>a link</a>. " * 8
)
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Report a serious incident (GOV.UK)", "url": "https://www.gov.uk/guidance/x"}],
        [{"text": "More", "callback_data": "/topic more serious-case-review"}],
        [{"text": "Rapid review", "callback_data": "/topic rapid-review"}],
    ]
}


class BoundedHTTPXRequest(HTTPXRequest):
    """httpx with at most CONNECTIONS requests in its pool, the others waiting in a semaphore:
    the assistant's client before bot/channels/telegram_http.py (its pool scans grow with what
    waits)."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=CONNECTIONS)
        self._slots = asyncio.Semaphore(CONNECTIONS)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._slots:
            return await super().do_request(*args, **kwargs)


def clients() -> dict[str, BaseRequest]:
    return {
        "httpx (PTB's default)": HTTPXRequest(connection_pool_size=CONNECTIONS),
        "httpx, bounded (the assistant's client before)": BoundedHTTPXRequest(),
        "aiohttp (bot/channels/telegram_http.py)": AiohttpRequest(CONNECTIONS),
    }


async def cpu_per_send(request: BaseRequest, sends: int, at_once: int) -> float:
    """Milliseconds of this process's CPU per sendMessage, client and emulator together."""
    api = FakeBotApi()
    await api.start()
    bot = ExtBot(TOKEN, base_url=api.base_url, request=request)
    await bot.initialize()
    slots = asyncio.Semaphore(at_once)
    extra = {"reply_markup": KEYBOARD, "link_preview_options": {"is_disabled": True}}

    async def send(number: int) -> None:
        async with slots:
            await bot.send_message(100_000 + number % 50, TEXT, parse_mode="HTML", api_kwargs=extra)

    try:
        await asyncio.gather(*(send(n) for n in range(200)))  # warm: connections open
        started = time.process_time()
        await asyncio.gather(*(send(n) for n in range(sends)))
        return (time.process_time() - started) * 1000 / sends
    finally:
        await bot.shutdown()
        await api.stop()


async def main_async(sends: int, at_once: int, repeat: int) -> None:
    results: dict[str, list[float]] = {name: [] for name in clients()}
    for _ in range(repeat):
        for name, request in clients().items():
            results[name].append(await cpu_per_send(request, sends, at_once))
    print(f"{sends} sends, {at_once} at once, {CONNECTIONS} connections; CPU ms per send")
    for name, values in results.items():
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name}: median {statistics.median(values):.2f} ({each})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=3_000)
    parser.add_argument("--at-once", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.sends, args.at_once, args.repeat))


if __name__ == "__main__":
    main()
