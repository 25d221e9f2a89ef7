"""How long the sign-in reply to an address takes, registered or not (issue 9 found 5.6 ms
against 3.3 ms: the reply told registered addresses apart).

    .venv/bin/python bench/signin_timing.py --requests 300

Through the conversation core on a SQLite file; requests alternate between a registered and an
unregistered address, each from a new chat (the per-chat hourly limit stays out of the way).
Prints the median and 90th percentile of each in milliseconds. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bot.app import build_assistant  # noqa: E402
from bot.core.replies import Incoming  # noqa: E402
from config.settings import default_settings  # noqa: E402

REGISTERED = "alex.example@example.org"  # in the shipped pack's liaison_officers.yaml
UNREGISTERED = "nobody.here@example.org"


async def measure(folder: Path, requests: int) -> dict[str, float]:
    base = default_settings()
    settings = dataclasses.replace(
        base,
        database=str(folder / "bench.db"),
        mail=dataclasses.replace(base.mail, outbox_dir=str(folder / "outbox")),
    )
    assistant = await build_assistant(settings)
    times: dict[str, list[float]] = {REGISTERED: [], UNREGISTERED: []}
    try:
        for number in range(2 * requests):
            address = REGISTERED if number % 2 else UNREGISTERED
            chat = f"bench:{number}"
            await assistant.conversation.handle(Incoming(chat, "/signin"))
            started = time.perf_counter()
            await assistant.conversation.handle(Incoming(chat, address))
            times[address].append((time.perf_counter() - started) * 1000)
    finally:
        await assistant.close()
    result = {}
    for name, address in (("registered", REGISTERED), ("unregistered", UNREGISTERED)):
        samples = sorted(times[address][10:])  # the first few warm caches up
        result[f"{name}_median_ms"] = round(statistics.median(samples), 2)
        result[f"{name}_p90_ms"] = round(samples[int(len(samples) * 0.9)], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(measure(Path(tmp), args.requests))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
