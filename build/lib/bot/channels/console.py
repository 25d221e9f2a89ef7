"""The local console chat: the same conversation as Telegram, in a terminal.

Buttons are shown as numbered options and chosen by number or by label; links are printed as
addresses. When a question expects typed text (a date, an age), its buttons are shown by label
only, so that typing "4" answers the question instead of pressing the fourth button.
Used for trying the assistant without Telegram, for demos, and by `ask`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.core.conversation import Conversation
from bot.core.numbers import pick_number
from bot.core.replies import Button, Incoming, Reply

PROMPT = "you> "
FILES_FOLDER = "var/files"  # where documents that come with replies are saved (a briefing)


def render(reply: Reply, number_from: int | None = 1) -> str:
    """One reply as console text; buttons are numbered from `number_from` (None: by label)."""
    parts = []
    if reply.title:
        parts.append(f"== {reply.title} ==")
    parts.append(reply.text)
    for file in reply.files:
        parts.append(f"File: {file.filename}")
    for link in reply.links:
        parts.append(f"Link: {link.label}: {link.url}")
    # One style: a button per line, with its number when it may be chosen by number.
    for i, button in enumerate(reply.buttons, number_from or 1):
        parts.append(f"  [{i}] {button.label}" if number_from else f"  [{button.label}]")
    return "\n".join(parts)


def render_all(replies: Sequence[Reply]) -> tuple[str, list[Button]]:
    """All replies of one turn, with the buttons numbered across them (unless typed text is
    expected: see `numbered`)."""
    blocks: list[str] = []
    buttons: list[Button] = []
    by_number = numbered(replies)
    for reply in replies:
        blocks.append(render(reply, len(buttons) + 1 if by_number else None))
        buttons.extend(reply.buttons)
    return "\n\n".join(blocks), buttons


def numbered(replies: Sequence[Reply]) -> bool:
    """Whether buttons may be chosen by number: not when the turn asks for typed text."""
    return not any(reply.expects_text for reply in replies)


def choose(text: str, buttons: Sequence[Button], by_number: bool = True) -> str | None:
    """The data of the button the user picked by number or label, else None."""
    picked = text.strip()
    number = pick_number(picked, len(buttons)) if by_number else None
    if number is not None:
        return buttons[number - 1].data
    for button in buttons:
        if picked.casefold() == button.label.casefold():
            return button.data
    return None


def save_files(replies: Sequence[Reply], folder: Path) -> list[Path]:
    """Write the documents that came with the replies (a briefing) into `folder`, readable by
    the owner only, and return where; a file of the same name is replaced."""
    saved = []
    for reply in replies:
        for file in reply.files:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / Path(file.filename).name  # never a path the reply chose
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(file.data)
            saved.append(path)
    return saved


async def run_console(
    conversation: Conversation,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    chat: str = "console:local",
    banner: str | None = None,
) -> None:
    """Chat on stdin/stdout (the process's, by default) until end of input or "quit"."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    loop = asyncio.get_running_loop()

    def say(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    async def push(target: str, replies: list[Reply]) -> None:
        # News nobody asked for (a mail failure) arrives while the prompt is shown: print it on
        # its own lines, then show the prompt again. Other chats are not on this console.
        if target == chat:
            say("\n" + render_all(replies)[0])
            stdout.write(PROMPT)
            stdout.flush()

    conversation.push = push
    files_folder = conversation.settings.path(FILES_FOLDER)
    if banner:
        say(banner)
    say('Console chat. Type a question, /help for the commands, or "quit" to leave.')
    replies = await conversation.handle(Incoming(chat, "/start"))
    text, buttons = render_all(replies)
    say(text)
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            say("")
            return
        line = line.strip()
        if line.lower() in ("quit", "exit", "/quit"):
            say("Goodbye.")
            return
        if not line:
            continue
        data = choose(line, buttons, by_number=numbered(replies))
        incoming = Incoming(chat, data if data is not None else line, pressed=data is not None)
        replies = await conversation.handle(incoming)
        text, buttons = render_all(replies)
        say(text)
        for path in save_files(replies, files_folder):
            say(f"Saved: {path}")
