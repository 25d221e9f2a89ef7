"""Privacy: which replies carry form content (`private_turn`, THE rule), and /privacy.

The core decides what is private; a channel only acts on it. `private_turn` is the one rule,
wired into the conversation core (bot/app.py), which applies it to every turn: what is said while
the notification form or sign-in is open is private, and so, by the channel's rule, is the
user's message it answers. After a submission Telegram deletes those messages from the chat (see
bot/channels/private_messages.py), leaving the "submitted" reply with the reference.
"""

from __future__ import annotations

import dataclasses

from bot.core.conversation import Context
from bot.core.lifetimes import (
    CODE_MINUTES,
    INBOX_KEEP_SECONDS,
    NOTIFY_FLOW,
    SHORT_FLOW_HOURS,
    SIGNIN_FLOW,
)
from bot.core.numbers import counted
from bot.core.replies import SUBMITTED, Reply
from config.settings import Settings
from handlers.notification.answers import show_days

# The flows whose messages carry an incident's details, or a sign-in's address and code.
PRIVATE_FLOWS = frozenset((NOTIFY_FLOW, SIGNIN_FLOW))


def private_turn(before: str | None, after: str | None, replies: list[Reply]) -> list[Reply]:
    """The replies of a turn, marked private when the message came while the form or sign-in
    was open (`before`), or opened the form (`after`: the draft's resume offer and pre-filled
    details show in it). Opening sign-in is not: it only explains, and the address typed next
    is private by the first half of the rule. The submit turn is the exception: its reply, with
    the reference, is the one that stays in the chat."""
    if before not in PRIVATE_FLOWS and after != NOTIFY_FLOW:
        return replies
    if any(r.kind == SUBMITTED for r in replies):
        return replies
    return [r if r.private else dataclasses.replace(r, private=True) for r in replies]


def _child_data(settings: Settings) -> str:
    """What the form collects about the child, and why, by settings form.identify_child."""
    if settings.form.identify_child == "full":
        return (
            "the child's full name, date of birth and home address, because the partnership has "
            "chosen to receive them, and the facts of the incident."
        )
    return (
        "only the child's initials, date of birth and, if known, a local authority case number "
        "or NHS number: enough for the partnership to find the records. The full name and home "
        "address are not asked, so they never travel through the chat or by ordinary email. "
        "Please leave names out of the summary too."
    )


async def privacy(ctx: Context, arg: str) -> list[Reply]:
    """/privacy: what is stored, where, for how long, and who receives it."""
    settings = ctx.settings
    retention, board = settings.retention, settings.board
    arrivals = counted(round(settings.incoming.keep_hours), "hour")
    receivers = ", ".join(settings.mail.board_addresses)
    deletion = (
        "In Telegram, once a notification is submitted I delete the form's questions and your "
        "answers from the chat (where Telegram allows it), leaving the reference. "
        if settings.telegram.delete_form_messages
        else ""
    )
    return [
        Reply(
            f"What I keep, where, and for how long ({board.name}):\n\n"
            "- Questions: anyone can ask without signing in. Questions I can't answer are kept "
            f"for {show_days(retention.unanswered_days)} for the partnership to improve my "
            "answers, "
            "with what looks like names and personal details (dates of birth, addresses, phone "
            "numbers, emails) removed first; a message about a child at risk is never kept. "
            "Please leave personal details out all the same.\n"
            "- Every chat message reaches my database as it arrives, so that a crash cannot lose "
            "it, and its text is erased as soon as it has been handled (usually within a "
            "second), my replies as soon as they are sent. A record that a message arrived, "
            f"without its text, is kept for {arrivals}.\n"
            f"{_email_data(settings)}"
            f"{_web_data(settings)}"
            "- Sign-in (Liaison Officers and partnership staff only): your work email address, "
            "linked to this chat until you type /signout or the partnership removes you from "
            "its list. The one-time code is stored only in scrambled (hashed) form, works once and "
            "expires "
            f"after {counted(CODE_MINUTES, 'minute')}. A sign-in, threshold check or question "
            f"to the partnership left half-way is forgotten after "
            f"{counted(SHORT_FLOW_HOURS, 'hour')}.\n"
            f"- About the child, the notification form asks {_child_data(settings)}\n"
            "- A notification you are filling in (a draft) is saved as you go, so nothing is "
            f"lost. A draft left untouched for {show_days(retention.draft_days)} is deleted, and "
            "so is a draft of someone who signs out.\n"
            "- A submitted notification is emailed to the partnership "
            f"({receivers}), with the notification attached as a Word document, and a copy "
            "goes to the address you signed in with (never to an address typed in the form). "
            "Its content is deleted from my database "
            f"{show_days(retention.delivered_content_days)} after it has been delivered. Its "
            "reference, agency, dates and delivery state are kept as a record.\n"
            f"- {_eml_files(settings)}\n"
            f"- {deletion}An audit record of sign-ins, wrong codes, submissions and deliveries "
            "(who, what and when, never the form's content) is kept for the partnership.\n"
            "- My logs hold references and chat numbers only, never names or answers.\n\n"
            f"All of this is held on the partnership's own server, in the assistant's database. "
            f"Questions about your data: {settings.partnership_email}.",
            kind="privacy",
            title="Privacy",
        )
    ]


def _email_data(settings: Settings) -> str:
    """What the email channel keeps, when there is one."""
    if settings.email is None:
        return ""

    return (
        "- By email: the emails I receive are kept for "
        f"{show_days(INBOX_KEEP_SECONDS / 86400)} (to limit how often one address is answered), "
        'then deleted. A question you choose to send to the partnership ("Ask the '
        'partnership") is emailed to its staff with a reference; the question and their answer '
        "are kept with that reference as the partnership's record of the exchange.\n"
    )


def _web_data(settings: Settings) -> str:
    """What the web chat keeps, when it is on."""
    if not settings.web.enabled:
        return ""
    return (
        "- On the website: the chat shows the conversation again after a reload or in another "
        "tab, so its messages are kept for "
        f"{counted(round(settings.web.history_hours), 'hour')} after the last one. The form's "
        "questions and answers are deleted from it once the notification is submitted, and "
        "what a message about a child at risk said is never kept. Your browser holds only a "
        "random key to the conversation, in a cookie that lasts as long.\n"
    )


def _eml_files(settings: Settings) -> str:
    return (
        "Emails that could not go through a mail server (none is set up, or it refused one) "
        "are kept as .eml files on the server and deleted with their record: a "
        f"notification's {show_days(settings.retention.delivered_content_days)} after "
        "delivery, a sign-in email's once its code has expired."
    )
