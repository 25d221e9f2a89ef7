"""Running `python main.py ...` as a user does, on a temporary database.

`run_main` calls `main(argv)` in this process, with the environment, standard streams and working
directory a fresh shell would give it: it sees the same exit code and output as a subprocess, in
a fraction of the time, and shares the test run's parsed knowledge base. `run_main_subprocess`
starts a real Python process, for the few tests that check the program as the shell runs it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.cli import main as main_module

ROOT = Path(__file__).resolve().parent.parent

# The derived-files cache (knowledge/cache.py) the programs a test runs share, set for the
# session by tests/conftest.py: a real installation keeps it between starts, and a cold one
# (embedding the knowledge, filling the Word template) cost each subprocess about a second.
# Content-addressed, so nothing one run writes can be stale for another. None: each test's own.
shared_cache: Path | None = None


def main_env(
    tmp_path: Path, settings: str | None = None, own_cache: bool = False
) -> dict[str, str]:
    """The environment of a fresh machine: no bot token, a database under `tmp_path`, and
    `settings` (YAML text) as the settings file when given. The cache is the session's
    (`shared_cache`) unless `own_cache`: then it starts empty, under `tmp_path`."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "ASSISTANT_SETTINGS")
    }
    env["ASSISTANT_DATABASE"] = str(tmp_path / "assistant.db")
    cache = tmp_path / "cache" if own_cache or shared_cache is None else shared_cache
    env["ASSISTANT_CACHE_DIR"] = str(cache)
    if settings is not None:
        path = tmp_path / "settings.yaml"
        path.write_text(settings, encoding="utf-8")
        env["ASSISTANT_SETTINGS"] = str(path)
    return env


@dataclass
class Result:
    """What the shell would see: the same fields as subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """`env` as the environment; main() also sets the umask, which is put back after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.umask(umask)


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """main() points the root logger at its own handler (and maybe a log file): put pytest's back,
    closing the file main() opened."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                stream = getattr(handler, "stream", None)
                if isinstance(stream, io.TextIOWrapper) and stream not in (
                    sys.__stdout__,
                    sys.__stderr__,
                ):
                    stream.close()
        root.handlers, root.level = handlers, level


def run_main(
    tmp_path: Path,
    *args: str,
    stdin: str = "",
    settings: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """Run main.py's `main` with `args`, typing `stdin`, from `tmp_path` (so var/ lands there),
    with `env`'s variables added to main_env's."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin, saved_cwd = sys.stdin, os.getcwd()
    with (
        _environment(main_env(tmp_path, settings) | (env or {})),
        _logging_restored(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        sys.stdin = io.StringIO(stdin)
        os.chdir(tmp_path)
        try:
            code = main_module.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin = saved_stdin
            os.chdir(saved_cwd)
    return Result(code, out.getvalue(), err.getvalue())


def run_main_subprocess(
    tmp_path: Path,
    *args: str,
    stdin: str = "",
    settings: str | None = None,
    own_cache: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run main.py in a new Python process with `args`, typing `stdin`, from `tmp_path` (an
    empty cache of its own with `own_cache`, see main_env)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=main_env(tmp_path, settings, own_cache),
        cwd=tmp_path,
        timeout=60,
    )


def imported_by_two_asks(tmp_path: Path, *modules: str) -> list[list[bool]]:
    """`ask "what is a rapid review"` in two fresh interpreters that share one cache under
    `tmp_path` (the first fills it, the second reads it back): for each run, whether each of
    `modules` was imported. Both runs must succeed with the same reply."""
    code = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "main(['ask', 'what is a rapid review'])\n"
        f"print(*[m in sys.modules for m in {list(modules)!r}], file=sys.stderr)\n"
    )
    env = {"ASSISTANT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    return [[w == "True" for w in r.stderr.split()[-len(modules) :]] for r in runs]
