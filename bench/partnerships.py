"""What each partnership served adds to one process: start-up time, memory, and the time of a
message (the scoped stores' guard included).

    .venv/bin/python bench/partnerships.py --partnerships 1 2 4 --messages 400

For each count N, in a fresh process: an installation of N partnerships over the shipped
national knowledge (Bedford Borough's pack, then copies of the invented Example Vale's under new
ids) on one SQLite file. It reports the seconds to build it, the resident memory once every
partnership's names are embedded (the semantic index), and the median and 90th percentile of a
question's handling, asked in turn of each partnership. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

QUESTIONS = ("what is an SCR", "pelka", "who do I call out of hours", "what is a rapid review")


def rss_mb() -> float:
    """This process's resident memory now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(count: int, messages: int, folder: Path) -> dict[str, float]:
    from bot.core.replies import Incoming
    from bot.installation import Installation
    from config.settings import load_installation

    packs = folder / "packs"
    shutil.copytree(
        ROOT / "knowledge" / "partnerships" / "bedford-borough", packs / "bedford-borough"
    )
    ids = ["bedford-borough"]
    for n in range(1, count):
        pid = f"example-vale-{n}"
        shutil.copytree(ROOT / "tests" / "fixtures" / "packs" / "example-vale", packs / pid)
        ids.append(pid)
    path = folder / "settings.yaml"
    path.write_text(
        f"partnerships_dir: {packs}\ndatabase: {folder / 'bench.db'}\n"
        f"mail:\n  outbox_dir: {folder / 'outbox'}\npartnerships:\n"
        + "".join(f"  - id: {pid}\n" for pid in ids),
        encoding="utf-8",
    )
    before = rss_mb()
    started = time.perf_counter()
    installation = await Installation.open(load_installation(path, environ={}))
    build_seconds = time.perf_counter() - started
    try:
        for assistant in installation.assistants.values():
            await assistant.conversation.handle(Incoming("bench:warm", "what is an SCR"))
        memory = rss_mb()
        times = []
        assistants = list(installation.assistants.values())
        for number in range(messages):
            assistant = assistants[number % len(assistants)]
            question = QUESTIONS[number % len(QUESTIONS)]
            begun = time.perf_counter()
            await assistant.conversation.handle(Incoming(f"bench:{number}", question))
            times.append((time.perf_counter() - begun) * 1000)
    finally:
        await installation.close()
    samples = sorted(times[len(assistants) * 4 :])
    return {
        "partnerships": count,
        "build_seconds": round(build_seconds, 2),
        "rss_mb": round(memory, 1),
        "rss_added_mb": round(memory - before, 1),
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(samples[int(len(samples) * 0.9)], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partnerships", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's count
    args = parser.parse_args()
    if args.one is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(asyncio.run(measure(args.one, args.messages, Path(tmp)))))
        return
    for count in args.partnerships:  # each in a fresh process: memory is not given back
        command = [sys.executable, __file__, "--one", str(count), "--messages", str(args.messages)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        print(result.stdout.strip())


if __name__ == "__main__":
    main()
