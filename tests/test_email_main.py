"""`python main.py` with an `email:` section runs the email channel beside the console chat."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import ROOT, main_env
from tests.email_support import (
    ASSISTANT,
    PASSWORD,
    PRACTITIONER,
    USER,
    Mailbox,
    text_of,
    written,
)
from tests.test_mailer import Recorder, smtp_server

pytestmark = pytest.mark.slow  # main.py as a process, with a mail server


def test_main_runs_email_beside_the_console(tmp_path: Path, imap_mailbox: Mailbox) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        settings = (
            f"mail: {{from_address: {ASSISTANT}, outbox_dir: {tmp_path / 'outbox'}}}\n"
            f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}\n"
            f"email: {{imap_host: 127.0.0.1, imap_port: {imap_mailbox.port}, imap_security: none,"
            f" imap_folder: {imap_mailbox.folder},"
            f" imap_username: {USER}, poll_seconds: 1}}\n"
        )
        env = main_env(tmp_path, settings) | {"EMAIL_PASSWORD": PASSWORD}
        imap_mailbox.deliver(written(PRACTITIONER, "What is an SCR?", "By email"))
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not recorder.received and time.monotonic() < deadline:
                time.sleep(0.1)
            out, _ = process.communicate("what is a rapid review\nquit\n", timeout=30)
        finally:
            process.kill()
    assert "Console chat" in out
    assert "Rapid review" in out, "the console still answers"
    [answer] = [r.message for r in recorder.received]
    assert answer["Subject"] == "Re: By email"
    assert "serious case review" in text_of(answer).lower()
