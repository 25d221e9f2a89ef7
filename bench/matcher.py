"""Matcher benchmark: index build time, memory and query latency at 1k, 10k and 100k documents,
by query kind (exact, typo, partial, junk...), against two baselines measured in the same run:
difflib.get_close_matches over the titles, and the matcher's former typo lookup (a rapidfuzz
scan of every vocabulary word of similar length) in place of its deletion index.

    .venv/bin/python bench/matcher.py            # all sizes, prints markdown tables
    .venv/bin/python bench/matcher.py --sizes 10000 100000 --repeat 3

The catalogue is synthetic (bench/catalogue.py, fixed seed) plus the real knowledge base, so
topics such as "what is an SCR" compete with 100,000 documents as they would in a deployment.
Results go to docs/benchmarks.md by hand, with the machine and the date.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.catalogue import SEED, build_catalogue, related  # noqa: E402
from knowledge.loader import build_index, load_knowledge  # noqa: E402
from knowledge.narrowing import narrow_to  # noqa: E402
from knowledge.search import (  # noqa: E402
    MAX_CHOICES,
    SearchEntry,
    SearchIndex,
    _typo_cutoff,
    choices_of,
)

SIZES = (1_000, 10_000, 100_000)
BASELINE_SUBSET = 12  # queries the baseline runs at 100k, where each one takes about a second

MISSES = (
    "the Smith review",
    "the report on bin collections",
    "send me the Jones briefing",
    "council tax review",
    "operation zebedee",
    "child q99 executive summary",
    "parking permit renewal",
    "the quixote inquiry",
)
REAL = ("what is an SCR", "pelka", "briefing for patrick", "child j lessons", "keanu willams")
KINDS = ("exact", "typo", "partial", "junk", "nickname", "real")


@dataclass(frozen=True)
class Query:
    text: str
    category: str  # exact, typo, nickname, partial, miss, real
    target: str | None  # the document id it names, when there is exactly one


def _typo(word: str, rng: random.Random) -> str:
    """One letter swapped for its neighbour, inside the word (a typical slip)."""
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def build_queries(entries: list[SearchEntry], seed: int = SEED) -> list[Query]:
    """The fixed query set, drawn from the first 1,000 synthetic documents (in every size)."""
    rng = random.Random(seed + 1)
    first = entries[:1000]
    named = [e for e in first if e.id.startswith("case-") and len(e.names) >= 6]
    coded = [e for e in first if e.id.startswith("case-") and e.names[1].startswith("child ")]
    # Long enough for a typo inside the word.
    operations = [
        e for e in first if any(n.startswith("operation ") and len(n) >= 15 for n in e.names)
    ]
    named = [e for e in named if len(e.names[3].split()[1]) >= 5]
    queries: list[Query] = []
    for entry in rng.sample(named, 8):
        queries.append(Query(entry.names[3], "exact", entry.id))  # the child's full name
    for entry in rng.sample(operations, 4):
        queries.append(Query(entry.names[-1], "exact", entry.id))  # "operation kestrel"
    for entry in rng.sample(named, 8):
        first_name, surname = entry.names[3].split()
        queries.append(Query(f"{first_name} {_typo(surname, rng)}", "typo", entry.id))
    for entry in rng.sample(operations, 4):
        op = entry.names[-1].split()[1]
        queries.append(Query(f"operation {_typo(op, rng)}", "typo", entry.id))
    for entry in rng.sample(named, 6):
        queries.append(Query(f"the {entry.names[6]} case", "nickname", entry.id))  # area+name
    for entry in rng.sample(named, 6):
        queries.append(Query(f"{entry.names[5]} review", "nickname", entry.id))  # "baby l"
    for entry in rng.sample(named, 6):
        queries.append(Query(f"{entry.names[4]} report", "partial", entry.id))  # surname
    for entry in rng.sample(coded, 6):
        queries.append(Query(entry.names[1], "partial", entry.id))  # "child k7"
    queries += [Query(text, "junk", None) for text in MISSES]
    for _ in range(8):  # keyboard mashes and made-up words, which the typo lookup works hardest on
        made_up = " ".join(
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))
            for _ in range(rng.randint(1, 3))
        )
        queries.append(Query(made_up, "junk", None))
    queries += [Query(text, "real", None) for text in REAL]
    return queries


def scanning_lookup(index: SearchIndex) -> Callable[[str], dict[str, float]]:
    """The matcher's typo lookup before the deletion index: rapidfuzz over every vocabulary
    word within two letters of the query word's length, the best 3 of each length."""
    from rapidfuzz import fuzz, process

    by_length: dict[int, list[str]] = {}
    for word in index._postings:
        by_length.setdefault(len(word), []).append(word)

    def lookup(token: str) -> dict[str, float]:
        if token in index._postings:
            return {token: 1.0}
        cutoff = _typo_cutoff(token)
        if cutoff is None:
            return {}
        found: dict[str, float] = {}
        for length in range(len(token) - 2, len(token) + 3):
            for word, score, _ in process.extract(
                token, by_length.get(length, []), scorer=fuzz.ratio, score_cutoff=cutoff, limit=3
            ):
                found[word] = score / 100.0
        return found

    return lookup


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


CPU_SAMPLES: list[float] = []  # the CPU time of the calls `timed` measured last


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` calls. The garbage collector is paused meanwhile: a
    collection of the 100,000-document index's objects would land on whichever query is
    running (it runs between queries in a real process too, but is not the matcher's cost)."""
    samples = []
    CPU_SAMPLES.clear()
    gc.disable()
    try:
        for _ in range(repeat):
            # CPU time too: on a shared machine the wall clock also counts the time another
            # process had the core (a few ms at a time), which is not the matcher's cost.
            cpu = time.thread_time_ns()
            start = time.perf_counter_ns()
            call()
            samples.append((time.perf_counter_ns() - start) / 1e6)
            CPU_SAMPLES.append((time.thread_time_ns() - cpu) / 1e6)
    finally:
        gc.enable()
    return samples


@dataclass
class Row:
    size: int
    build_s: float
    build_cpu_s: float
    memory_mb: float
    peak_mb: float
    p50: float
    p99: float
    worst: float
    found: str
    found_before: str  # without narrowing, as the matcher did before (the baseline)
    most_questions: int  # the most narrowing questions one query needed
    answered_misses: int
    base_p50: float
    base_p99: float
    base_queries: int
    speedup_p50: float
    speedup_mean: float
    vocabulary: int
    by_kind: dict[str, list[float]]
    cpu_by_kind: dict[str, list[float]]
    scan_by_kind: dict[str, list[float]]


def measure(size: int, base: list[SearchEntry], queries: list[Query], repeat: int) -> Row:
    entries = base + build_catalogue(size)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    index = SearchIndex(entries)
    build_s, build_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    del index
    gc.collect()
    # Memory in a second build: tracemalloc slows Python down, so it must not touch the timing.
    tracemalloc.start()
    index = SearchIndex(entries)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    ours: list[float] = []
    ours_by_query: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu_by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    found = found_before = named = answered_misses = most_questions = via_case = 0
    by_id = {e.id: e for e in entries}
    for query in queries:
        result = index.search(query.text)  # warm-up, and the answer checked below
        samples = timed(lambda q=query.text: index.search(q), repeat)  # type: ignore[misc]
        ours += samples
        by_kind[query.category] += samples
        cpu_by_kind[query.category] += CPU_SAMPLES
        ours_by_query.append(statistics.median(samples))
        offered = {m.id for m in choices_of(result)} if result.decision else set()
        if query.target is not None:
            named += 1
            found_before += query.target in offered
            if result.decision == "answer" and result.best is not None:
                # Its reply offers the documents related to it (the case's others).
                offered |= {e.id for e in entries if related(e.id) == related(result.best.id)}
            if query.target not in offered:
                # More fit than the buttons hold: narrowed by area, year and kind.
                fitting = index.fitting(query.text)
                if any(e.id == query.target for e in fitting):
                    left, asked = narrow_to(fitting, by_id[query.target])
                    most_questions = max(most_questions, asked)
                    if len(left) <= MAX_CHOICES:
                        offered |= {e.id for e in left}
            if query.target in offered:
                found += 1
            elif any(related(o) == related(query.target) for o in offered):
                # A document of its case is on the buttons: its reply offers the case's other
                # documents (reports.yaml's `related`), the one wanted among them, one tap on.
                found += 1
                via_case += 1
        elif query.category == "junk" and result.decision == "answer":
            answered_misses += 1

    # The same queries with the former typo lookup swapped in.
    deletion_lookup = index._vocabulary_matches
    index._vocabulary_matches = scanning_lookup(index)  # type: ignore[method-assign,assignment]
    scan_by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for query in queries:
        index.search(query.text)
        scan_by_kind[query.category] += timed(
            lambda q=query.text: index.search(q),  # type: ignore[misc]
            repeat,
        )
    index._vocabulary_matches = deletion_lookup  # type: ignore[method-assign]

    titles = [e.names[0] for e in entries]
    subset = queries if size <= 10_000 else queries[:: max(1, len(queries) // BASELINE_SUBSET)]
    baseline: list[float] = []
    ours_on_subset: list[float] = []
    for query in subset:
        baseline += timed(
            lambda q=query.text: difflib.get_close_matches(q, titles, n=3, cutoff=0.6),  # type: ignore[misc]
            1,
        )
        ours_on_subset.append(ours_by_query[queries.index(query)])
    return Row(
        size=size,
        build_s=build_s,
        build_cpu_s=build_cpu_s,
        memory_mb=kept / 1e6,
        peak_mb=peak / 1e6,
        p50=percentile(ours, 0.50),
        p99=percentile(ours, 0.99),
        worst=max(ours),
        found=f"{found}/{named}" + (f", {via_case} via its case" if via_case else ""),
        found_before=f"{found_before}/{named}",
        most_questions=most_questions,
        answered_misses=answered_misses,
        base_p50=percentile(baseline, 0.50),
        base_p99=percentile(baseline, 0.99),
        base_queries=len(subset),
        speedup_p50=percentile(baseline, 0.50) / statistics.median(ours_on_subset),
        speedup_mean=statistics.mean(baseline) / statistics.mean(ours_on_subset),
        vocabulary=len(index._postings),
        by_kind=by_kind,
        cpu_by_kind=cpu_by_kind,
        scan_by_kind=scan_by_kind,
    )


def print_table(rows: list[Row], queries: list[Query], repeat: int) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    print(f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"Date: {time.strftime('%Y-%m-%d')}; {len(queries)} queries x {repeat} runs each\n")
    print(
        "| documents | build (s) | build CPU (s) | index MB (peak) | p50 (ms) | p99 (ms) "
        "| max (ms) | named found (before: top 4 only) | most questions | misses answered "
        "| difflib p50 (ms) | difflib p99 (ms) | difflib queries | speed-up p50 | speed-up mean |"
    )
    print("|" + "---:|" * 15)
    for r in rows:
        print(
            f"| {r.size:,} | {r.build_s:.2f} | {r.build_cpu_s:.2f} "
            f"| {r.memory_mb:.0f} ({r.peak_mb:.0f}) | {r.p50:.2f} | {r.p99:.2f} "
            f"| {r.worst:.2f} | {r.found} ({r.found_before}) | {r.most_questions} "
            f"| {r.answered_misses} | {r.base_p50:.1f} "
            f"| {r.base_p99:.1f} | {r.base_queries} | {r.speedup_p50:.0f}x "
            f"| {r.speedup_mean:.0f}x |"
        )
    print()
    print(
        "| documents | words | kind | queries | p50 (ms) | p99 (ms) | max (ms) "
        "| CPU p50 (ms) | CPU p99 (ms) | scan p50 (ms) | scan p99 (ms) |"
    )
    print("|" + "---:|" * 11)
    counts = {kind: sum(q.category == kind for q in queries) for kind in KINDS}
    for r in rows:
        for kind in KINDS:
            ours, cpu_ms, scan = r.by_kind[kind], r.cpu_by_kind[kind], r.scan_by_kind[kind]
            print(
                f"| {r.size:,} | {r.vocabulary:,} | {kind} | {counts[kind]} "
                f"| {percentile(ours, 0.5):.2f} | {percentile(ours, 0.99):.2f} | {max(ours):.2f} "
                f"| {percentile(cpu_ms, 0.5):.2f} | {percentile(cpu_ms, 0.99):.2f} "
                f"| {percentile(scan, 0.5):.2f} | {percentile(scan, 0.99):.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument("--show", action="store_true", help="print each query's decision")
    args = parser.parse_args()
    knowledge = load_knowledge(ROOT / "knowledge", semantic=False)
    base = build_index(knowledge.topics, knowledge.reports, knowledge.actions).entries
    queries = build_queries(build_catalogue(1000))
    if args.show:
        index = SearchIndex(base + build_catalogue(max(args.sizes)))
        for query in queries:
            result = index.search(query.text)
            shown = [(m.id, m.score) for m in result.matches[:3]]
            print(f"{query.category:8} {query.text!r:40} {query.target} {result.decision} {shown}")
    rows = [measure(size, base, queries, args.repeat) for size in args.sizes]
    print_table(rows, queries, args.repeat)


if __name__ == "__main__":
    main()
