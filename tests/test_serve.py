"""`python main.py serve --webhook` as a service manager runs it: a real process, stopped with
SIGTERM while it is answering, against the fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.server import SECRET_HEADER
from tests.cli import ROOT, main_env, run_main
from tests.telegram_support import TOKEN, FakeBotApi
from tests.test_web import SECRET, message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_settings(tmp_path: Path, api: FakeBotApi, port: int) -> str:
    return (
        "telegram:\n"
        f"  base_url: {api.base_url}\n"
        f"  base_file_url: http://127.0.0.1:{api.port}/file/bot\n"
        "  rate_limit: false\n"
        f"  listen_port: {port}\n"
        "mail:\n"
        f"  outbox_dir: {tmp_path / 'outbox'}\n"
    )


@pytest.mark.slow  # main.py serve as a process
async def test_sigterm_finishes_the_answer_in_flight_then_exits(tmp_path: Path) -> None:
    api = FakeBotApi()
    await api.start()
    api.send_delay = 1.0  # the reply is still on its way when SIGTERM arrives
    port = free_port()
    env = main_env(tmp_path, serve_settings(tmp_path, api, port))
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "serve",
        "--webhook",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "serve did not start"
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            headers = {SECRET_HEADER: SECRET}
            update = message(55, "what is an SCR?")
            assert (await http.post("/telegram", json=update, headers=headers)).status_code == 200
        while not api.method_calls("sendMessage"):
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await api.stop()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert api.sent.is_set()
    assert "in-flight updates handled" in log
    assert "Traceback" not in log
    assert TOKEN not in log and SECRET not in log


def test_webhook_needs_its_secret(tmp_path: Path) -> None:
    # In this process (it stops before serving); `serve` as a process: the tests below.
    result = run_main(tmp_path, "serve", "--webhook", env={"TELEGRAM_BOT_TOKEN": TOKEN})
    assert result.returncode == 1
    assert "webhook mode needs TELEGRAM_WEBHOOK_SECRET" in result.stderr


def test_serve_needs_a_token_when_the_web_chat_is_off(tmp_path: Path) -> None:
    result = run_main(tmp_path, "serve", settings="web:\n  enabled: false\n")
    assert result.returncode == 1
    assert "serve needs TELEGRAM_BOT_TOKEN or the web chat (web.enabled: true)" in result.stderr


@pytest.mark.slow  # main.py serve as a process
async def test_serve_without_a_token_serves_the_web_chat_and_its_demo_page(
    tmp_path: Path,
) -> None:
    """A fresh clone's `python main.py serve`: no token, the web chat alone, then SIGTERM."""
    port = free_port()
    env = main_env(tmp_path, f"telegram:\n  listen_port: {port}\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "serve",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "serve did not start"
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            demo = await http.get("/")
            assert demo.status_code == 200
            assert '<script src="/widget.js"' in demo.text
            widget = await http.get("/widget.js")
            assert widget.status_code == 200
            assert widget.headers["content-type"].startswith("text/javascript")
            panel = await http.get("/chat")
            assert panel.status_code == 200 and "sa_chat=" in panel.headers["set-cookie"]
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "web chat started (no Telegram token: Telegram is off)" in log
    assert "Traceback" not in log
