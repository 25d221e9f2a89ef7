"""Private by default: whatever the umask, the assistant's data folder is 0700 and every file it
creates (the database and its WAL, the log, the .eml files) 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.private import private_file, private_folder
from tests.cli import ROOT
from tests.signin_support import REGISTRY, SLO


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow  # main.py as a process
def test_a_fresh_start_under_umask_022_keeps_everything_to_the_owner(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"registry_file: {registry}\n", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TELEGRAM_BOT_TOKEN", "ASSISTANT_DATABASE", "ASSISTANT_SETTINGS")
    }
    env |= {"ASSISTANT_HOME": str(home), "ASSISTANT_SETTINGS": str(settings)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=home,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert process.stdin is not None
    # A sign-in code is emailed: with no SMTP server, an .eml file in var/outbox.
    process.stdin.write(f"what is an SCR?\n/signin\n{SLO}\n")
    process.stdin.flush()
    data = home / "var"
    deadline = time.monotonic() + 90
    while not list(data.glob("outbox/*.eml")) and process.poll() is None:
        assert time.monotonic() < deadline, "no email written"
        time.sleep(0.05)
    _, stderr = process.communicate("quit\n", timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    files = [p for p in data.rglob("*") if p.is_file()]
    folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
    names = {p.name for p in files}
    assert {"assistant.db", "assistant.log"} <= names, names
    assert any(p.suffix == ".eml" for p in files), names
    assert {str(p.relative_to(home)): oct(mode(p)) for p in folders if mode(p) != 0o700} == {}
    assert {str(p.relative_to(home)): oct(mode(p)) for p in files if mode(p) != 0o600} == {}


def test_files_and_the_outbox_folder_left_open_by_an_earlier_release_are_narrowed(
    tmp_path: Path,
) -> None:
    log = tmp_path / "var" / "assistant.log"
    log.parent.mkdir(mode=0o755)
    os.chmod(log.parent, 0o755)
    log.write_text("old\n")
    os.chmod(log, 0o644)
    outbox = tmp_path / "var" / "outbox"
    outbox.mkdir()
    os.chmod(outbox, 0o755)
    private_file(log)
    private_folder(outbox, ours=True)
    assert (mode(log), mode(outbox)) == (0o600, 0o700)
    assert log.read_text() == "old\n", "the content is kept"
    # The database's folder may be one the operator chose for more than our files: warned about
    # (see the log), never changed.
    private_folder(log.parent)
    assert mode(log.parent) == 0o755
