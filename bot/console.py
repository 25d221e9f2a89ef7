"""The local console chat: the same conversation as Telegram, in a terminal.

Buttons are shown as numbered options and chosen by number or by label; links are printed as
addresses. Used for trying the assistant without Telegram, for demos, and by `ask`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.conversation import Conversation
from bot.replies import Button, Incoming, Reply

PROMPT = "you> "


def render(reply: Reply, number_from: int = 1) -> str:
    """One reply as console text; buttons are numbered from `number_from`."""
    parts = []
    if reply.title:
        parts.append(f"== {reply.title} ==")
    parts.append(reply.text)
    for link in reply.links:
        parts.append(f"Link: {link.label}: {link.url}")
    for i, button in enumerate(reply.buttons, number_from):
        parts.append(f"  [{i}] {button.label}")
    return "\n".join(parts)


def render_all(replies: Sequence[Reply]) -> tuple[str, list[Button]]:
    """All replies of one turn, with the buttons numbered across them."""
    blocks: list[str] = []
    buttons: list[Button] = []
    for reply in replies:
        blocks.append(render(reply, len(buttons) + 1))
        buttons.extend(reply.buttons)
    return "\n\n".join(blocks), buttons


def choose(text: str, buttons: Sequence[Button]) -> str | None:
    """The data of the button the user picked by number or label, else None."""
    picked = text.strip()
    if picked.isdigit() and 1 <= int(picked) <= len(buttons):
        return buttons[int(picked) - 1].data
    for button in buttons:
        if picked.casefold() == button.label.casefold():
            return button.data
    return None


async def run_console(
    conversation: Conversation,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    chat: str = "console:local",
    banner: str | None = None,
) -> None:
    """Chat on stdin/stdout until end of input or "quit"."""
    loop = asyncio.get_running_loop()

    def say(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    if banner:
        say(banner)
    say('Console chat. Type a question, /help for the commands, or "quit" to leave.')
    text, buttons = render_all(await conversation.handle(Incoming(chat, "/start")))
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
        data = choose(line, buttons)
        incoming = Incoming(chat, data if data is not None else line, pressed=data is not None)
        text, buttons = render_all(await conversation.handle(incoming))
        say(text)
