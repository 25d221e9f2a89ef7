"""Scoring a message by meaning with one BLAS thread against OpenBLAS's default (a thread per
core), each in a fresh process in the same run, alternating.

    .venv/bin/python bench/blas_threads.py              # 3 rounds, 400 questions each

The semantic index scores each message with one matrix-vector product (topics' names x 256).
With a thread per core, OpenBLAS wakes threads for a product that takes a fraction of a
millisecond, and on a machine whose cores are busy they wait for each other. Prints the median
and 90th percentile of `Knowledge.semantic.scores` per message, and the process's CPU time per
message, for each setting. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, time, resource
sys.path.insert(0, {root!r})
from config.settings import load_settings
from bot.core.loading import load_all
knowledge = load_all(load_settings()).knowledge
knowledge.semantic.wait()
questions = json.loads(sys.stdin.read())
for q in questions[:20]:
    knowledge.semantic.scores(q)  # warm
times = []
cpu = time.process_time()
for q in questions:
    start = time.perf_counter()
    knowledge.semantic.scores(q)
    times.append(time.perf_counter() - start)
cpu = time.process_time() - cpu
print(json.dumps({{"times": times, "cpu": cpu}}))
"""


def questions(count: int) -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / "tests" / "eval").glob("*.yaml")):
        found += re.findall(r'q: "([^"]+)"', path.read_text(encoding="utf-8"))
    return found[:count]


def run(threads: str | None, asked: list[str]) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = threads
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        input=json.dumps(asked),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    times = sorted(result["times"])
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * times[int(0.9 * len(times))],
        "cpu_ms": 1000 * result["cpu"] / len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args()
    asked = questions(args.questions)
    print(f"{len(asked)} questions, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for n in range(args.rounds):
        for label, threads in (("default", None), ("one thread", "1")):
            r = run(threads, asked)
            print(
                f"round {n + 1} {label:>10}: p50 {r['p50_ms']:.3f} ms, p90 {r['p90_ms']:.3f} ms,"
                f" CPU {r['cpu_ms']:.3f} ms a message"
            )


if __name__ == "__main__":
    main()
