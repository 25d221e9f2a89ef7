"""Shared fixtures: settings on temporary paths, a real assistant on a real SQLite file, and
`Chat`, which talks to the conversation core the way a user would (typing, pressing buttons)."""

from __future__ import annotations

import os
import sys
import tempfile

# Compiled modules are kept (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is
# set, as on the development machines (main.py does the same for its own import): otherwise
# every worker compiles the project and pytest rewrites every test module again at each run,
# half of a worker's start (5.6 s -> 2.7 s of CPU each, measured), and the programs the tests
# start compile what they import. Safe: a compiled file is used only while its source's size
# and time match, and each is written under a temporary name and renamed, so two workers never
# read half of one. What was imported before this line (pytest, this file) is not affected.
if sys.dont_write_bytecode:
    sys.dont_write_bytecode = False

# One BLAS thread per process, set before numpy loads OpenBLAS (the test processes and the
# programs they start inherit it). The semantic index's scoring is a small matrix-vector product:
# with OpenBLAS's default of a thread per core, each of the suite's workers had two threads
# spinning for it on the same two cores, and waiting on each other under load. Measured on
# tests/test_eval_holdout.py: 37 s of CPU with the default, 10 s with one thread; the results
# are the same product computed on one core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Temporary files in memory (tmpfs), where the machine has one and TMPDIR names no other place:
# the test databases, outboxes and caches, the PostgreSQL cluster and Chromium's profiles. Every
# SQLite commit and close waits for the disk on ext4 (a WAL checkpoint at close), a wait that
# grew to 10 ms a test on a busy machine; on tmpfs the same calls return at once. What the
# tests check is unchanged: no test crashes the machine, only processes, and the page cache
# survives those. The programs tests start inherit TMPDIR.
if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK | os.X_OK):
    os.environ["TMPDIR"] = "/dev/shm"
    tempfile.tempdir = None  # computed again from TMPDIR on first use

import dataclasses
import shutil
import subprocess
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from bot.app import build_assistant, open_storage
from bot.assistant import Assistant
from bot.core.replies import Button, Incoming, Reply
from config.partnership import shipped_packs
from config.settings import DEFAULT_PARTNERSHIP, Settings, default_settings, is_database_url
from knowledge import loader
from tests import cli
from tests.email_support import ImapServer, Mailbox, pymap_server
from tests.postgres_support import (
    NO_SERVER,
    Cluster,
    create_database,
    drop_database,
    unavailable,
)
from tests.telegram_support import FakeBotApi, TelegramHarness, start_harness
from tests.test_mailer import Recorder, smtp_server

# One parsed (and embedded) knowledge base per directory content for the whole run: parsing the
# shipped YAML for each of a thousand tests was most of the suite's time. Knowledge is frozen, so
# no test can change what another reads; a test that edits a copy gets its own (new content).
loader.shared = {}


# For a test of SQLite's own mechanics (its trace, its file, its locks): skipped when
# TEST_DATABASE=postgresql runs the suite on PostgreSQL, where tests of their own cover the same.
sqlite_only = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE") == "postgresql", reason="a test of SQLite's own mechanics"
)


# A pack's knowledge files add to, or extend, the shipped national entries, which fixture
# knowledge does not have; a test on fixture knowledge keeps only the pack's own settings.
PACK_KNOWLEDGE = ("topics.yaml", "reports.yaml", "learning.yaml", "threshold.yaml", "urgent.yaml")


def fixture_packs(tmp_path: Path) -> Path:
    """The partnerships folder for a test on fixture national knowledge: the shipped pack
    without its knowledge files (PACK_KNOWLEDGE)."""
    packs = tmp_path / "fixture_packs"
    pack = packs / DEFAULT_PARTNERSHIP
    if not pack.exists():
        ignore = shutil.ignore_patterns(*PACK_KNOWLEDGE)
        shutil.copytree(shipped_packs() / DEFAULT_PARTNERSHIP, pack, ignore=ignore)
    return packs


def on_fixture_knowledge(settings: Settings, directory: Path, tmp_path: Path) -> Settings:
    """`settings` on the fixture national knowledge in `directory` (see fixture_packs)."""
    packs = fixture_packs(tmp_path)
    return dataclasses.replace(settings, knowledge_dir=str(directory), partnerships_dir=str(packs))


def fixture_settings_file(directory: Path, tmp_path: Path) -> str:
    """The settings file's lines for the same, for `main.py` (tests/cli.py run_main)."""
    return f"knowledge_dir: {directory}\npartnerships_dir: {fixture_packs(tmp_path)}\n"


def uses_postgresql(item: pytest.Item) -> bool:
    """Whether the test needs the PostgreSQL server: it asks for it, or it is the
    PostgreSQL run of a test on either database (`database_target`)."""
    callspec = getattr(item, "callspec", None)
    on_target = callspec is not None and callspec.params.get("database_target") == "postgresql"
    return on_target or "postgres_server" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tier (pyproject.toml's markers): every PostgreSQL test is in it, by the rule
    above; the other slow tests are marked where they are written. Slow tests then run first,
    so that no long test starts last while the other workers wait: pytest-xdist's work
    stealing (pyproject.toml) gives the first worker the first run of tests, and the others
    take from the end of its queue when theirs is done. The browser tests come first of all:
    what is at the front of a queue is never taken, so each browser module runs whole on one
    worker, with one Chromium, one server and one Playwright driver (the module's fixtures).
    Taken from the end, a module's last tests started a second of each on the other worker,
    as the run's last tests: 4 Chromiums a run instead of 2."""
    for item in items:
        if uses_postgresql(item):
            item.add_marker(pytest.mark.slow)

    def order(item: pytest.Item) -> tuple[bool, bool]:
        slow = item.get_closest_marker("slow") is not None
        return (not slow, "browser" not in getattr(item, "fixturenames", ()))

    items.sort(key=order)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each phase's report on the test (`item.rep_call`...), for fixtures that act on a failure
    (the browser tests keep a screenshot)."""
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One derived-files cache (knowledge/cache.py) for the session's assistants and the programs
    its tests run, as an installation keeps one between starts: filling the Word template to
    check it was a quarter of building an assistant, once per test. It is content-addressed,
    so a test that edits knowledge or the template gets its own entries; the tests of the cache
    itself give it a folder of their own (tests/test_embedding.py)."""
    folder = tmp_path_factory.mktemp("cache")
    cli.shared_cache = folder
    yield folder
    cli.shared_cache = None


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest, shared_cache: Path) -> Settings:
    """Settings on temporary paths (the cache is the session's: `shared_cache`).
    TEST_DATABASE=postgresql runs every test that uses them on a fresh PostgreSQL database
    instead of a SQLite file (the whole suite on the other backend)."""
    base = default_settings()
    database = str(tmp_path / "assistant.db")
    if os.environ.get("TEST_DATABASE") == "postgresql":
        database = str(request.getfixturevalue("postgres_url"))
    return dataclasses.replace(
        base,
        database=database,
        cache_dir=str(shared_cache),
        mail=dataclasses.replace(base.mail, outbox_dir=str(tmp_path / "outbox")),
    )


class EmptyDatabase:
    """A new, empty SQLite database, created once per test process by the real code (the
    schema's creation is 25 ms of CPU, three times the rest of building an assistant) and
    copied for each test's assistant: the file a first start leaves, which the assistant then
    opens as any later start does. Creating a database from nothing keeps tests of its own
    (tests/test_storage.py, test_shared_database.py and every test that builds an assistant
    itself)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "empty.db"
        self.made = False

    async def copy_for(self, settings: Settings) -> None:
        """Put a copy where `settings` keep their SQLite database, unless one is there already
        (or the database is PostgreSQL)."""
        target = settings.database_target()
        if is_database_url(target) or Path(target).exists():
            return
        if not self.made:
            empty = dataclasses.replace(settings, database=str(self.path))
            await (await open_storage(empty)).close()
            self.made = True
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.path, target)  # with its mode: readable by the owner only


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> EmptyDatabase:
    return EmptyDatabase(tmp_path_factory.mktemp("empty-database"))


@pytest.fixture
async def assistant(settings: Settings, empty_database: EmptyDatabase) -> AsyncIterator[Assistant]:
    await empty_database.copy_for(settings)
    assistant = await build_assistant(settings)
    yield assistant
    await assistant.close()


class Chat:
    """One user's chat with the core. `replies` holds the last turn's replies."""

    def __init__(self, assistant: Assistant, chat: str = "test:1") -> None:
        self.assistant = assistant
        self.chat = chat
        self.replies: list[Reply] = []

    async def say(self, text: str) -> list[Reply]:
        self.replies = await self.assistant.conversation.handle(Incoming(self.chat, text))
        return self.replies

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.replies for b in r.buttons]

    @property
    def text(self) -> str:
        """Everything the user sees in the last turn, titles included."""
        return "\n".join(f"{r.title or ''}\n{r.text}" for r in self.replies)

    async def press(self, label: str) -> list[Reply]:
        """Press the button whose label contains `label` (case-insensitive); fails if none."""
        for button in self.buttons:
            if label.casefold() in button.label.casefold():
                incoming = Incoming(self.chat, button.data, pressed=True)
                self.replies = await self.assistant.conversation.handle(incoming)
                return self.replies
        labels = [b.label for b in self.buttons]
        raise AssertionError(f"no button {label!r} among {labels}")


@pytest.fixture
def chat(assistant: Assistant) -> Chat:
    return Chat(assistant)


def new_chat(assistant: Assistant, name: str) -> Chat:
    return Chat(assistant, name)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A fake Bot API on loopback, for tests that start the program against it."""
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram(assistant: Assistant) -> AsyncIterator[TelegramHarness]:
    """The real python-telegram-bot Application talking HTTP to a fake Bot API on loopback."""
    api = FakeBotApi()
    await api.start()
    harness = await start_harness(assistant, api)
    yield harness
    await harness.app.shutdown()
    await api.stop()


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    """One pymap IMAP server for the session (started on first use); see tests/email_support.py."""
    yield from pymap_server()


@pytest.fixture
def imap_mailbox(imap_server: ImapServer) -> Mailbox:
    """A mailbox of its own for one test, on the session's IMAP server."""
    return imap_server.new_mailbox()


@pytest.fixture
def smtp_recorder() -> Iterator[Recorder]:
    """A real SMTP server on 127.0.0.1 for one test; `.port` is where it listens."""
    recorder = Recorder()
    with smtp_server(recorder) as port:
        recorder.port = port  # type: ignore[attr-defined]
        yield recorder


# --- PostgreSQL (tests/postgres_support.py) ------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, Cluster | None]]:
    """(server URL, the cluster when this run started one), for the whole test session."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        yield given, None
        return
    try:
        cluster = Cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"{NO_SERVER} ({exc})")
        return
    yield cluster.url, cluster
    cluster.destroy()


@pytest.fixture
async def postgres_url(postgres_server: tuple[str, Cluster | None]) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    server_url = postgres_server[0]
    url = await create_database(server_url)
    yield url
    await drop_database(server_url, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on a SQLite file, and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "assistant.db")
    return str(request.getfixturevalue("postgres_url"))
