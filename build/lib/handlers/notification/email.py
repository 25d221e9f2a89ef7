"""The email a submitted notification becomes: every answer by section, as text and HTML, and
the notification as a Word document filled from the partnership's template.

Pure: it builds an `OutgoingEmail` and sends nothing (the outbox does). The subject names the
reference, the kind of incident and the agency (the form's `subject` fields) and never the
child, because subjects show in inbox lists, phone notifications and mail server logs. Every
user value in the HTML and the document is escaped. The copy goes to the signed-in liaison
officer's registered address, given by the caller, never to an address typed in the form.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.mail.message import Attachment, OutgoingEmail, make_message_id, message_id_domain
from config.settings import Settings
from handlers.notification.answers import show_moment
from handlers.notification.rules import shown_by_section
from knowledge import document
from knowledge.form import Form

log = logging.getLogger(__name__)
SEPARATOR = " · "


def one_line(text: str, limit: int = 120) -> str:
    """User text fit for a subject: no line breaks, bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def email_text(form: Form, answers: Mapping[str, Any], reference: str, when: datetime) -> str:
    lines = [
        f"{form.title} {reference}",
        f"Submitted on {show_moment(when)}.",
    ]
    for section, rows in shown_by_section(form, answers, when.date()):
        lines += ["", section.title.upper(), "-" * len(section.title)]
        for field, shown in rows:
            if "\n" in shown:
                # Long answers keep their paragraphs, indented under the label.
                lines.append(f"{field.label}:")
                lines += [f"    {line}" for line in shown.splitlines()]
            else:
                lines.append(f"{field.label}: {shown}")
    return "\n".join(lines) + "\n"


def email_html(form: Form, answers: Mapping[str, Any], reference: str, when: datetime) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=True).replace("\n", "<br>\n")

    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(form.title)} {esc(reference)}</title></head><body>",
        f"<h1>{esc(form.title)} {esc(reference)}</h1>",
        f"<p>Submitted on {esc(show_moment(when))}.</p>",
    ]
    for section, rows in shown_by_section(form, answers, when.date()):
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts.append('<table cellpadding="4" style="border-collapse:collapse">')
        for field, shown in rows:
            parts.append(
                f'<tr><th align="left" valign="top">{esc(field.label)}</th>'
                f"<td>{esc(shown)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def subject(form: Form, answers: Mapping[str, Any], reference: str) -> str:
    """'SIN-2026-0007 · death · abuse or neglect suspected · Example Borough Council'."""
    parts = [reference]
    for field_id in form.subject:
        field = form.field(field_id)
        value = answers.get(field_id)
        if field is not None and isinstance(value, str) and value.strip():
            parts.append(one_line(field.short_of(value), 60))
    return SEPARATOR.join(parts)


def document_context(
    form: Form, answers: Mapping[str, Any], reference: str, settings: Settings, when: datetime
) -> document.Context:
    sections = shown_by_section(form, answers, when.date())
    return document.Context(
        partnership=settings.board.name,
        title=form.title,
        reference=reference,
        submitted=show_moment(when),
        sections=[
            document.SectionRows(
                title=section.title,
                rows=[
                    document.Row(label=field.label, answer=document.plain(shown))
                    for field, shown in rows
                ],
            )
            for section, rows in sections
        ],
        answers=document.answers_for_template(
            form, {field.id: shown for _, rows in sections for field, shown in rows}
        ),
    )


def word_attachment(
    form: Form,
    template: Path,
    answers: Mapping[str, Any],
    reference: str,
    settings: Settings,
    when: datetime,
) -> Attachment | None:
    """The notification as a .docx, or None when the template cannot be filled (the email is
    sent all the same: the board must get the notification even if the template is broken)."""
    try:
        content = document.render(
            template, document_context(form, answers, reference, settings, when)
        )
    except Exception as error:  # never lose a notification to a template problem
        log.error(
            "BOARD ATTENTION: notification %s sent without its Word document: %s",
            reference,
            type(error).__name__,
        )
        return None
    return Attachment.from_bytes(f"{reference}.docx", document.CONTENT_TYPE, content)


def compose_email(
    form: Form,
    template: Path,
    answers: Mapping[str, Any],
    reference: str,
    settings: Settings,
    when: datetime,
    copy_to: str | None,
) -> OutgoingEmail:
    """The board's copy of notification `reference`, copied and replying to `copy_to`: the
    signed-in liaison officer's registered address."""
    attachment = word_attachment(form, template, answers, reference, settings, when)
    text = email_text(form, answers, reference, when)
    if attachment is None:
        text += "\n(The Word copy of this notification could not be made; see the server log.)\n"
    else:
        text += f"\nThe notification is attached as a Word document, {attachment.filename}.\n"
    return OutgoingEmail(
        to=settings.mail.board_addresses,
        subject=subject(form, answers, reference),
        text=text,
        html=email_html(form, answers, reference, when),
        # The reference plus a random part; stored with the email, so a resend after a crash
        # carries the same id and the receiving side can recognise the duplicate.
        message_id=make_message_id(reference, message_id_domain(settings.mail)),
        cc=(copy_to,) if copy_to else (),
        reply_to=copy_to or None,
        attachments=(attachment,) if attachment else (),
    )
