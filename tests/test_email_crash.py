"""A kill -9 between an email's receipt and its reply: after a restart it is answered once
(on SQLite and on PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import build_assistant
from config.settings import load_settings
from tests.cli import ROOT
from tests.email_support import (
    ASSISTANT,
    PASSWORD,
    PRACTITIONER,
    USER,
    EmailWorld,
    Mailbox,
    text_of,
    written,
)
from tests.test_mailer import Recorder, smtp_server

pytestmark = pytest.mark.slow  # main.py killed and restarted


def settings_file(tmp_path: Path, imap_mailbox: Mailbox, smtp_port: int, database: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"database: {database}\n"
        f"mail: {{from_address: {ASSISTANT}, outbox_dir: {tmp_path / 'outbox'}}}\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, timeout_seconds: 5}}\n"
        "email:\n"
        f"  imap_host: 127.0.0.1\n  imap_port: {imap_mailbox.port}\n  imap_security: none\n"
        f"  imap_folder: {imap_mailbox.folder}\n"
        f"  imap_username: {USER}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("point", ["received", "queued"])
async def test_killed_between_receipt_and_reply_answers_once(
    tmp_path: Path, imap_mailbox: Mailbox, point: str, database_target: str
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        path = settings_file(tmp_path, imap_mailbox, smtp_port, database_target)
        env = {"ASSISTANT_SETTINGS": str(path), "EMAIL_PASSWORD": PASSWORD, "PATH": ""}
        imap_mailbox.deliver(written(PRACTITIONER, "What is an SCR?", "Question"))
        crashed = subprocess.run(
            [sys.executable, "-m", "tests.email_crash", point],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
        assert recorder.received == []
        assert imap_mailbox.unseen() == 0, (
            "marked read before the crash: only the inbox table has it"
        )

        settings = load_settings(path, environ={"EMAIL_PASSWORD": PASSWORD})
        assistant = await build_assistant(settings)
        try:
            world = EmailWorld(assistant, imap_mailbox, recorder)
            [answer] = await world.turn()
            assert "serious case review" in text_of(answer).lower()
            assert answer["Subject"] == "Re: Question"
            assert await world.turn() == []
        finally:
            await assistant.close()
