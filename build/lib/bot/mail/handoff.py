"""The email a hand-off sends the partnership: who receives it and what it says.

The hand-off flow (handlers/handoff.py) sends it first; the email channel's hand-off desk
(bot/channels/email/handoffs.py) sends the reminder, so it lives here, below both.
"""

from __future__ import annotations

import time

from bot.mail.message import OutgoingEmail
from bot.storage import Handoff
from config.settings import Settings


def partnership_address(settings: Settings) -> str:
    configured = settings.email.handoff_address if settings.email else ""
    return configured or settings.partnership_email


def channel_name(chat: str) -> str:
    return {
        "telegram": "Telegram",
        "email": "email",
        "console": "the console chat",
        "web": "the web chat",
    }.get(chat.partition(":")[0], "chat")


def partnership_email(
    settings: Settings, handoff: Handoff, reminder: bool = False
) -> OutgoingEmail:
    """The question as the partnership receives it; staff answer by replying."""
    asked = time.strftime("%d %b %Y %H:%M", time.localtime(handoff.created_at))
    lead = "REMINDER: this question has not been answered yet.\n\n" if reminder else ""
    text = (
        f"{lead}A practitioner asked the assistant a question it could not answer, and asked "
        f"for it to be passed to the partnership (through {channel_name(handoff.chat)}, "
        f"{asked}).\n\nQuestion {handoff.reference}:\n\n{handoff.question}\n\n"
        "To answer, reply to this email and keep the reference in the subject. Only the new "
        "text of your reply is passed on (quoted text and signature are removed), marked as "
        "coming from the partnership's staff. The person was asked to leave out any child's "
        "details; if the question holds some, please do not repeat them.\n"
    )
    subject = f"Question for the partnership {handoff.reference}"
    from_address = settings.mail.from_address
    return OutgoingEmail(
        to=(partnership_address(settings),),
        subject=f"Reminder: {subject}" if reminder else subject,
        text=text,
        html=None,
        message_id=(
            handoff.message_id.replace(handoff.reference, f"{handoff.reference}.reminder", 1)
            if reminder
            else handoff.message_id
        ),
        reply_to=from_address,
        in_reply_to=handoff.message_id if reminder else None,
        references=(handoff.message_id,) if reminder else (),
    )
