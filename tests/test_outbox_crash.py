"""kill -9 with an email in the outbox, on both backends: after a restart the email arrives at a
real SMTP server exactly once, whether the process died before or after claiming it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.mail.outbox import Outbox
from bot.mail.transport import make_transport
from bot.storage import Storage
from config.settings import default_settings
from tests.cli import ROOT
from tests.test_mailer import Recorder, smtp_server

pytestmark = pytest.mark.slow  # main.py killed and restarted


@pytest.mark.parametrize("point", ["queued", "claimed"])
async def test_killed_with_an_email_in_the_outbox_delivers_it_once(
    tmp_path: Path, database_target: str, point: str
) -> None:
    env = {**os.environ, "ASSISTANT_DATABASE": database_target}
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.outbox_crash", point],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    reference = crashed.stdout.decode().strip()
    assert reference.startswith("SIN-")

    recorder = Recorder()
    with smtp_server(recorder) as port:
        base = default_settings()
        settings = dataclasses.replace(
            base,
            smtp=dataclasses.replace(base.smtp, host="127.0.0.1", port=port, security="none"),
            mail=dataclasses.replace(base.mail, outbox_dir=str(tmp_path / "outbox")),
        )
        storage = await Storage.open(database_target)
        try:
            outbox = Outbox(storage, make_transport(settings), settings)
            # A claim by the dead process is left alone for its lease, then taken again.
            later = time.time() + outbox.claim_lease + 1
            outbox.clock = lambda: later
            assert await outbox.run_once() == 1
            assert await outbox.run_once() == 0
        finally:
            await storage.close()
    assert [m.message["Subject"] for m in recorder.received] == [f"Notification {reference}"]
