"""The email a submitted notification becomes: every answer by section, as text and HTML.

Pure: it builds an `OutgoingEmail` and sends nothing (the outbox does). The subject names the
reference and the agency and never the child, because subjects show in inbox lists, phone
notifications and mail server logs. Every user value in the HTML is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.mailer import OutgoingEmail, make_message_id, message_id_domain
from config.settings import Settings
from handlers.answers import answers_by_section, show_moment
from knowledge.form import Form


def one_line(text: str, limit: int = 120) -> str:
    """User text fit for a subject: no line breaks, bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def email_text(form: Form, answers: Mapping[str, Any], reference: str, when: datetime) -> str:
    lines = [
        f"{form.title} {reference}",
        f"Submitted on {show_moment(when)}.",
    ]
    for section, rows in answers_by_section(form, answers):
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
    for section, rows in answers_by_section(form, answers):
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


def compose_email(
    form: Form,
    answers: Mapping[str, Any],
    reference: str,
    settings: Settings,
    when: datetime,
) -> OutgoingEmail:
    """The board's copy of notification `reference`, copied and replying to the SLO."""
    slo_email = str(answers.get("slo_email") or "").strip()
    agency = one_line(str(answers.get("agency") or "an agency"))
    return OutgoingEmail(
        to=settings.mail.board_addresses,
        subject=f"Significant incident notification {reference} from {agency}",
        text=email_text(form, answers, reference, when),
        html=email_html(form, answers, reference, when),
        # The reference plus a random part; stored with the email, so a resend after a crash
        # carries the same id and the receiving side can recognise the duplicate.
        message_id=make_message_id(reference, message_id_domain(settings.mail)),
        cc=(slo_email,) if slo_email else (),
        reply_to=slo_email or None,
    )
