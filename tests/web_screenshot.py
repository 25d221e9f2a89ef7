"""The picture of the web chat in docs/: the demo page with a question answered, taken with the
same headless Chromium as the browser tests.

    .venv/bin/python -m tests.web_screenshot docs/web-demo.png
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from config.settings import default_settings
from tests.test_webchat_browser import CHROMIUM, LAUNCH_ARGS, Panel
from tests.web_support import ThreadedServer

QUESTION = "what is an SCR"


def screenshot(path: Path, question: str = QUESTION) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = default_settings()
        settings = dataclasses.replace(
            base,
            database=str(Path(tmp) / "assistant.db"),
            mail=dataclasses.replace(base.mail, outbox_dir=str(Path(tmp) / "outbox")),
        )
        server = ThreadedServer(settings).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=LAUNCH_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                panel = Panel(page, server.base).open()
                panel.say(question)
                page.wait_for_timeout(500)  # the scroll to the answer's first line
                page.screenshot(path=str(path))
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/web-demo.png"))
