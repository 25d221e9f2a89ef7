"""Cold start: `main.py ask "what is a rapid review"` as board staff run it after an edit,
against the same command at a baseline commit (by default the commit before the cold-start
work), in the same run, alternating, each a fresh process.

    .venv/bin/python bench/cold_start.py                   # 7 runs each, baseline 889b375
    .venv/bin/python bench/cold_start.py --runs 11 --baseline HEAD~3

For each: the wall time and peak RSS of the whole process (medians of the runs), its CPU time
(user + system, all threads: less sensitive to the machine's load than the wall clock) and its
main thread's (what the answer waits for while the model loads on the other core), the
Python heap's peak under tracemalloc, and the modules imported (`-X importtime`, the packages
that take longest). The baseline is unpacked into a temporary folder (`git archive`) and run with
this checkout's virtualenv. Both use the cache their settings give (`cache_dir`); one run
first fills it, as `check` would. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "what is a rapid review"
BASELINE = "889b375"  # the commit before issue 27's work

# tracemalloc's peak, printed when the program exits: the Python heap, not the whole process.
TRACED = (
    "import atexit, runpy, sys, tracemalloc\n"
    "tracemalloc.start()\n"
    "atexit.register(lambda: print('traced-peak', tracemalloc.get_traced_memory()[1],"
    " file=sys.stderr))\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def run(folder: Path, env: dict[str, str], *python_args: str) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stderr) of one `main.py ask` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *python_args, str(folder / "main.py"), "ask", QUESTION],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert "rapid review" in done.stdout.lower(), done.stdout
    # ru_maxrss of the children is the largest of any child so far: measured apart below.
    return wall, cpu, after.ru_maxrss / 1024, done.stderr


def peak_rss(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """The peak RSS (MB) of one run, from /proc while it runs (VmHWM at its end), and the CPU
    time (s) of its main thread: with the model loading beside it on a second core, the main
    thread is what the answer waits for."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import atexit, runpy, sys, time\n"
            "def hwm():\n"
            "    print('main-cpu', time.thread_time(), file=sys.stderr)\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM'):\n"
            "            print('hwm', line.split()[1], file=sys.stderr)\n"
            "atexit.register(hwm)\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n",
            str(folder / "main.py"),
            "ask",
            QUESTION,
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = process.communicate()
    said = dict(line.split()[:2] for line in err.splitlines() if line.startswith(("hwm", "main")))
    return int(said["hwm"]) / 1024, float(said["main-cpu"])


def imports(folder: Path, env: dict[str, str]) -> tuple[Counter[str], int]:
    """Self time (ms) by top-level package from `-X importtime`, and the module count."""
    err = run(folder, env, "-X", "importtime")[3]
    by_package: Counter[str] = Counter()
    count = 0
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:") :].split("|")
        by_package[name.strip().split(".")[0]] += int(self_us) // 1000
        count += 1
    return by_package, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE, help="a commit to compare with")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        # The baseline's files from `git archive`: no worktree registered in the repository.
        base.mkdir()
        tree = subprocess.run(
            ["git", "archive", "--format=tar", args.baseline],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=tree, check=True)
        env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_SETTINGS"}
        env["ASSISTANT_CACHE_DIR"] = str(Path(tmp) / "cache")
        folders = {"baseline": base, "now": ROOT}
        for folder in folders.values():
            run(folder, env)  # fills the cache and the bytecode, as `check` would
        results: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in folders}
        for _ in range(args.runs):
            for name, folder in folders.items():
                wall, cpu, _, _ = run(folder, env)
                results[name].append((wall, cpu, *peak_rss(folder, env)))
        traced = {}
        for name, folder in folders.items():
            err = run(folder, env, "-c", TRACED)[3]
            traced[name] = next(
                int(line.split()[1]) / 1e6
                for line in err.splitlines()
                if line.startswith("traced-peak")
            )
        print(f"`main.py ask {QUESTION!r}`, {args.runs} runs each, alternating")
        print(
            "| commit | wall s (median) | each | CPU s (median) | main thread's CPU s (median) "
            "| peak RSS MB (median) | tracemalloc peak MB |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, rows in results.items():
            label = f"{name} ({args.baseline})" if name == "baseline" else "now"
            walls = ", ".join(f"{w:.2f}" for w, _, _, _ in rows)
            print(
                f"| {label} | {statistics.median(w for w, _, _, _ in rows):.2f} | {walls} "
                f"| {statistics.median(c for _, c, _, _ in rows):.2f} "
                f"| {statistics.median(m for _, _, _, m in rows):.2f} "
                f"| {statistics.median(r for _, _, r, _ in rows):.0f} | {traced[name]:.0f} |"
            )
        print("\nImport time by package (ms, self, one run; `-X importtime`):")
        for name, folder in folders.items():
            packages, count = imports(folder, env)
            top = ", ".join(f"{p} {ms}" for p, ms in packages.most_common(12))
            print(f"- {name}: {count} modules, {sum(packages.values())} ms; {top}")
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
