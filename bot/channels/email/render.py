"""Replies as an email body: plain text, and an HTML alternative with the same content.

Buttons become a numbered list; the person answers by replying with the number or the words.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.core.replies import Button, Reply

CHOOSE = "Reply with the number or the words of your choice:"
CHOOSE_TYPED = "Reply with your answer, or with one of these:"


def buttons_of(replies: Sequence[Reply]) -> list[Button]:
    return [b for r in replies for b in r.buttons]


def by_number(replies: Sequence[Reply]) -> bool:
    """Whether a bare number picks an option: not when the question expects typed text."""
    return not any(r.expects_text for r in replies)


def to_text(replies: Sequence[Reply], footer: str) -> str:
    blocks = []
    for reply in replies:
        lines = [reply.title.upper()] if reply.title else []
        lines.append(reply.text)
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
            parts.append(f"<h3>{esc(reply.title)}</h3>")
        parts.append(f"<p>{esc(reply.text)}</p>")
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
    """The data of the option picked by `text` (its number or its label), else None.

    Only the first line counts: a reply "2" is often followed by a greeting or a signature
    the stripper missed.
    """
    first = text.strip().splitlines()[0].strip().rstrip(".") if text.strip() else ""
    if numbered and first.isdigit() and 1 <= int(first) <= len(options):
        return options[int(first) - 1][1]
    for label, data in options:
        if first.casefold() == label.casefold():
            return data
    return None
