"""Replies as an email body: plain text, and an HTML alternative with the same content.

Buttons become a numbered list; the person answers by replying with the number or the words.
A chat command in a reply's text ("type /help") becomes email words ("reply with the word
help"), and that word, replied, is taken as the command (`options_of`, `choose`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bot.core.replies import Button, Reply

CHOOSE = "Reply with the number or the words of your choice:"
CHOOSE_TYPED = "Reply with your answer, or with one of these:"
# "type /help", "Type /urgent": what a chat says; by email, a word to reply with.
_TYPE_COMMAND = re.compile(r"\b([Tt])ype /([a-z]+)\b")
_COMMAND = re.compile(r"(?<![\w/<])/([a-z]+)\b")
WORD = "word"  # the third element of an option that is a command's word, not a numbered button


def email_words(text: str) -> str:
    """`text` with its chat commands put as email words: 'type /help' -> 'reply with the word
    "help"', any other '/help' -> '"help"'."""
    text = _TYPE_COMMAND.sub(
        lambda m: f'{"R" if m[1] == "T" else "r"}eply with the word "{m[2]}"', text
    )
    return _COMMAND.sub(lambda m: f'"{m[1]}"', text)


def mentioned(replies: Sequence[Reply]) -> list[str]:
    """The commands the replies' texts mention ("help" for "/help"), in order."""
    found = (m[1] for r in replies for m in _COMMAND.finditer(f"{r.title or ''} {r.text}"))
    return list(dict.fromkeys(found))


def options_of(replies: Sequence[Reply]) -> list[list[str]]:
    """What a reply to this email may pick: each button [label, data], numbered, then each
    command the text mentions [word, /word, WORD], by its word only."""
    buttons = [[b.label, b.data] for b in buttons_of(replies)]
    return [*buttons, *([word, f"/{word}", WORD] for word in mentioned(replies))]


def buttons_of(replies: Sequence[Reply]) -> list[Button]:
    return [b for r in replies for b in r.buttons]


def by_number(replies: Sequence[Reply]) -> bool:
    """Whether a bare number picks an option: not when the question expects typed text."""
    return not any(r.expects_text for r in replies)


def to_text(replies: Sequence[Reply], footer: str) -> str:
    blocks = []
    for reply in replies:
        lines = [email_words(reply.title).upper()] if reply.title else []
        lines.append(email_words(reply.text))
        lines += [f"{link.label}: {link.url}" for link in reply.links]
        blocks.append("\n".join(lines))
    buttons = buttons_of(replies)
    if buttons:
        numbered = by_number(replies)
        options = [
            f"  {i}. {b.label}" if numbered else f"  - {b.label}" for i, b in enumerate(buttons, 1)
        ]
        blocks.append("\n".join([CHOOSE if numbered else CHOOSE_TYPED, *options]))
    blocks.append(f"-- \n{footer}")
    return "\n\n".join(blocks) + "\n"


def to_html(replies: Sequence[Reply], footer: str) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=True).replace("\n", "<br>\n")

    parts = []
    for reply in replies:
        if reply.title:
            parts.append(f"<h3>{esc(email_words(reply.title))}</h3>")
        parts.append(f"<p>{esc(email_words(reply.text))}</p>")
        if reply.links:
            items = "".join(
                f'<li><a href="{html.escape(link.url, quote=True)}">{esc(link.label)}</a></li>'
                for link in reply.links
            )
            parts.append(f"<ul>{items}</ul>")
    buttons = buttons_of(replies)
    if buttons:
        numbered = by_number(replies)
        tag = "ol" if numbered else "ul"
        items = "".join(f"<li>{esc(b.label)}</li>" for b in buttons)
        parts.append(f"<p>{esc(CHOOSE if numbered else CHOOSE_TYPED)}</p><{tag}>{items}</{tag}>")
    parts.append(f'<hr><p style="color:#555">{esc(footer)}</p>')
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def choose(text: str, options: Sequence[Sequence[str]], numbered: bool) -> str | None:
    """The data of the option picked by `text` (a button's number or label, or a command's
    word, quoted or not), else None.

    Only the first line counts: a reply "2" is often followed by a greeting or a signature
    the stripper missed.
    """
    first = text.strip().splitlines()[0].strip().rstrip(".") if text.strip() else ""
    first = first.strip("\"'“”‘’ ")
    buttons = [option for option in options if len(option) < 3]
    if numbered and first.isdigit() and 1 <= int(first) <= len(buttons):
        return buttons[int(first) - 1][1]
    for option in options:
        if first.casefold() == option[0].casefold():
            return option[1]
    return None
