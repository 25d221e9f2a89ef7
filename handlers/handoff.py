"""Hand-off: a question the assistant cannot answer goes to the partnership's staff.

The fallback reply offers "Ask the partnership" (only when the email channel is configured: a
staff reply can only come back through the assistant's mailbox). The person confirms, having
been reminded to leave out a child's details; the question is emailed to the partnership with a
reference Q-<year>-<NNNN> in the subject and the Message-ID, and the staff's reply is relayed
back by bot/email/handoffs.py.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from bot import vocabulary
from bot.conversation import Context, FreeText
from bot.email.handoff_mail import channel_name, partnership_email
from bot.replies import HANDOFF_SENT, Button, Reply
from bot.storage import Handoff
from bot.vocabulary import fold
from config.settings import Settings

FLOW_NAME = "handoff"
COMMAND = "/handoff"
BUTTON = "Ask the partnership"
QUESTION_KEY = "handoff_question"  # session data: the last unanswered question
MAX_QUESTION = 1500
SEND = "send"
SENT_KIND = HANDOFF_SENT  # the reply confirming a hand-off; its id is the reference


def available(settings: Settings) -> bool:
    return settings.email is not None


def with_offer(respond: FreeText) -> FreeText:
    """`respond`, with "Ask the partnership" added to its fallback reply.

    Kept outside handlers/questions.py so the fallback's wording and this offer change apart.
    """

    async def respond_or_offer(ctx: Context, text: str) -> list[Reply]:
        replies = await respond(ctx, text)
        if not available(ctx.settings) or not replies or replies[-1].kind != "fallback":
            return replies
        ctx.session.data[QUESTION_KEY] = text[:MAX_QUESTION]
        last = replies[-1]
        offer = Button(BUTTON, COMMAND)
        return [*replies[:-1], dataclasses.replace(last, buttons=(*last.buttons, offer))]

    return respond_or_offer


def _confirm(ctx: Context, question: str) -> list[Reply]:
    board = ctx.settings.board
    return [
        Reply(
            f"I can send your question to the staff of the {board.short_name}, and pass their "
            "answer back to you here.\n\nBefore I do: please make sure it does not name a child "
            "or include anything that could identify one (names, dates of birth, addresses, "
            "schools). Describe the situation in general terms. If it does, type the question "
            "again without those details.\n\n"
            f'Your question:\n"{question}"\n\nSend it to the partnership?',
            kind="handoff_confirm",
            buttons=(Button("Send to the partnership", SEND), Button("Cancel", "cancel")),
        )
    ]


async def start(ctx: Context, arg: str) -> list[Reply]:
    """/handoff [question]: check the question with the person before it is sent."""
    if not available(ctx.settings):
        return [
            Reply(
                "Questions can't be passed to the partnership from here. Please email "
                f"{ctx.settings.board.contact_email}.",
                kind="handoff_unavailable",
            )
        ]
    question = arg.strip() or str(ctx.session.data.get(QUESTION_KEY) or "")
    ctx.session.flow = FLOW_NAME
    ctx.session.data = {}
    if not question:
        ctx.session.step = "question"
        return [
            Reply(
                "What would you like to ask the partnership's staff? Please leave out anything "
                "that could identify a child.",
                kind="handoff_question",
                expects_text=True,
            )
        ]
    ctx.session.step = "confirm"
    ctx.session.data = {"question": question[:MAX_QUESTION]}
    return _confirm(ctx, question[:MAX_QUESTION])


class HandoffFlow:
    name = FLOW_NAME
    commands = frozenset({"/cancel"})

    async def handle(self, ctx: Context, text: str) -> list[Reply]:
        """Store the question and ask to confirm; on "send", queue the email to the partnership."""
        answer = text.strip()
        if fold(answer).removeprefix("/") in vocabulary.CANCEL:
            ctx.session.reset()
            return [Reply("Not sent. Ask me anything else, or type /help.", kind="cancelled")]
        if ctx.session.step == "confirm" and fold(answer) == SEND:
            question = str(ctx.session.data.get("question", ""))
            ctx.session.reset()
            handoff = await send(ctx, question)
            return [
                Reply(
                    f"Sent to the partnership as {handoff.reference}. When a member of staff "
                    "replies, I'll pass the answer to you here. Meanwhile you can keep asking me "
                    "other questions.",
                    kind=SENT_KIND,
                    id=handoff.reference,
                )
            ]
        if len(answer) < 10:
            return [
                Reply(
                    'Please type your question in a sentence, or "cancel".',
                    kind="handoff_question",
                    expects_text=True,
                )
            ]
        ctx.session.step = "confirm"
        ctx.session.data = {"question": answer[:MAX_QUESTION]}
        return _confirm(ctx, answer[:MAX_QUESTION])


async def send(ctx: Context, question: str) -> Handoff:
    """Store the hand-off and queue its email (the outbox delivers it, retrying as needed)."""
    domain = ctx.settings.mail.from_address.rpartition("@")[2] or "localhost"
    handoff = await ctx.storage.open_handoff(
        ctx.chat, question, secrets.token_hex(8), domain, thread={}
    )
    await ctx.storage.enqueue_email(partnership_email(ctx.settings, handoff), None, "handoff")
    await ctx.storage.audit("handoff_sent", ctx.chat, reference=handoff.reference)
    ctx.conversation.wake_outbox()
    return handoff


async def open_handoffs(ctx: Context) -> list[Reply]:
    """For /unanswered: the questions sent to the partnership and not yet answered."""
    if not available(ctx.settings):
        return []
    handoffs = await ctx.storage.handoffs("open")
    if not handoffs:
        return [Reply("No questions are waiting for the partnership.", kind="handoffs")]
    lines = []
    for handoff in handoffs:
        asked = time.strftime("%d %b %Y %H:%M", time.localtime(handoff.created_at))
        reminded = " (reminded)" if handoff.reminded_at else ""
        lines.append(
            f"- {handoff.reference}, {asked}, by {channel_name(handoff.chat)}{reminded}: "
            f"{handoff.question}"
        )
    return [
        Reply(
            "\n".join(lines),
            kind="handoffs",
            title=f"{len(handoffs)} question(s) waiting for the partnership's answer",
        )
    ]
