"""A real PostgreSQL server for the tests: a throw-away cluster, or the one TEST_POSTGRES_URL names.

The cluster lives in a temporary folder, listens on a free port on 127.0.0.1 only, trusts local
connections and syncs nothing to disk (it is thrown away). Run as root, the server runs as the
`postgres` user (PostgreSQL refuses to run as root). When no server can be had, the tests that
need one are skipped with the reason; in CI (CI=true) they fail instead, so CI cannot pass
without running them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

NO_SERVER = "no PostgreSQL server: install PostgreSQL (initdb, pg_ctl) or set TEST_POSTGRES_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_bin(name: str) -> str | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    return shutil.which(name)


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the PostgreSQL tests must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


class Cluster:
    """A throw-away PostgreSQL cluster that can be stopped and started again (/readyz tests)."""

    def __init__(self) -> None:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(NO_SERVER)
        self.pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL will not run as root: run it as postgres
            shutil.chown(self.folder, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        log = str(self.folder / "server.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


async def create_database(server_url: str) -> str:
    """A new, empty place for one test's tables on the server; returns the URL to use.

    It is a schema of its own, named by the URL's `search_path` (asyncpg sends unknown URL
    parameters as server settings), rather than a database of its own: CREATE DATABASE took
    0.2-0.3 s per test, a schema takes milliseconds. Tests never see each other's rows: every
    table is created and read through the search path. Advisory locks (the chat lock, the
    migration lock) are per database, so two tests on one server at once (pytest-xdist workers
    sharing TEST_POSTGRES_URL) may briefly wait for each other, never more.
    """
    import asyncpg

    name = f"test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await connection.close()
    return f"{server_url}{'&' if '?' in server_url else '?'}search_path={name}"


async def drop_database(server_url: str, url: str) -> None:
    import asyncpg

    name = url.rsplit("search_path=", 1)[1]
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()
