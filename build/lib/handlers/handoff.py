"""Hand-off: a question the assistant cannot answer goes to the partnership's staff.

The fallback reply offers "Ask the partnership" (only when the email channel is configured: a
staff reply can only come back through the assistant's mailbox). The person confirms, having
been reminded to leave out a child's details; the question is emailed to the partnership with a
reference Q-<year>-<NNNN> in the subject and the Message-ID, and the staff's reply is relayed
back by bot/channels/email/handoffs.py.

The flow's steps, each handled by the function `STEPS` names; each returns a `Turn`
(bot/core/flow.py), which the core applies:

    /handoff (the fallback's button) ──> confirm ──Send──> (ends: the reference)
    /handoff, no question to send ──> question ──a sentence──> confirm
    confirm ──another sentence──> confirm (that question instead)
    any step ──cancel──> (ends)

Buttons send "/handoff send" and "/handoff cancel", claimed by the flow while it runs; the
plain "send" and "cancel" of earlier releases still work, as typed words.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from bot.core.controls import Control, Said, fold
from bot.core.conversation import Context, FreeText
from bot.core.flow import Turn, button_data
from bot.core.lifetimes import HANDOFF_FLOW
from bot.core.numbers import counted
from bot.core.replies import HANDOFF_SENT, Button, Reply
from bot.mail.handoff import channel_name, partnership_email
from bot.storage import Handoff
from config.settings import Settings

FLOW_NAME = HANDOFF_FLOW
COMMAND = "/handoff"
BUTTON = "Ask the partnership"
QUESTION_KEY = "handoff_question"  # session data: the last unanswered question
MAX_QUESTION = 1500
SEND = "send"
QUESTION, CONFIRM = "question", "confirm"  # the steps
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


def _confirm(ctx: Context, question: str) -> Turn:
    """Ask to confirm sending `question`; wait at CONFIRM."""
    board = ctx.settings.board
    ctx.session.data = {"question": question[:MAX_QUESTION]}
    confirm = Reply(
        f"I can send your question to the staff of the {board.short_name}, and pass their "
        "answer back to you here.\n\nBefore I do: please make sure it does not name a child "
        "or include anything that could identify one (names, dates of birth, addresses, "
        "schools). Describe the situation in general terms. If it does, type the question "
        "again without those details.\n\n"
        f'Your question:\n"{question[:MAX_QUESTION]}"\n\nSend it to the partnership?',
        kind="handoff_confirm",
        buttons=(
            Button("Send to the partnership", button_data(COMMAND, SEND)),
            Button("Cancel", button_data(COMMAND, "cancel")),
        ),
    )
    return Turn([confirm], CONFIRM)


def _ask_question(ctx: Context) -> Turn:
    ctx.session.data = {}
    ask = Reply(
        "What would you like to ask the partnership's staff? Please leave out anything "
        "that could identify a child.",
        kind="handoff_question",
        expects_text=True,
    )
    return Turn([ask], QUESTION)


def _begin(ctx: Context, arg: str) -> Turn:
    """Confirm the question given (or the last unanswered one), or ask for one."""
    question = arg.strip() or str(ctx.session.data.get(QUESTION_KEY) or "")
    return _confirm(ctx, question) if question else _ask_question(ctx)


async def start(ctx: Context, arg: str) -> list[Reply]:
    """/handoff [question]: check the question with the person before it is sent."""
    if not available(ctx.settings):
        return [
            Reply(
                "Questions can't be passed to the partnership from here. Please email "
                f"{ctx.settings.partnership_email}.",
                kind="handoff_unavailable",
            )
        ]
    if fold(arg) == SEND or fold(arg) == Control.CANCEL:  # a button of a hand-off that has ended
        return [
            Reply(
                "That button belongs to a question that was already sent or cancelled. Ask me "
                "anything, or type /help.",
                kind="handoff_closed",
            )
        ]
    if ctx.session.flow not in (None, FLOW_NAME):
        # Starting would throw away another flow's draft (a notification, say).
        return await ctx.conversation.in_progress(ctx, "ask the partnership again")
    return ctx.apply(FLOW_NAME, _begin(ctx, arg))


async def _at_question(ctx: Context, step: str, answer: str) -> Turn:
    """Store the question and ask to confirm it."""
    if len(answer) < 10:
        again = Reply(
            'Please type your question in a sentence, or "cancel".',
            kind="handoff_question",
            expects_text=True,
        )
        return Turn([again], step)
    return _confirm(ctx, answer)


async def _at_confirm(ctx: Context, step: str, answer: str) -> Turn:
    """On "send", queue the email to the partnership; another sentence replaces the question."""
    if fold(answer) != SEND:
        return await _at_question(ctx, step, answer)
    handoff = await send(ctx, str(ctx.session.data.get("question", "")))
    sent = Reply(
        f"Sent to the partnership as {handoff.reference}. When a member of staff "
        "replies, I'll pass the answer to you here. Meanwhile you can keep asking me "
        "other questions.",
        kind=SENT_KIND,
        id=handoff.reference,
    )
    return Turn([sent], None)


STEPS = {QUESTION: _at_question, CONFIRM: _at_confirm}


class HandoffFlow:
    name = FLOW_NAME
    title = "a question for the partnership"
    command = COMMAND
    commands = frozenset({COMMAND, "/cancel"})

    async def current(self, ctx: Context) -> list[Reply]:
        """The step asked again (for `Conversation.in_progress`)."""
        question = str(ctx.session.data.get("question") or "")
        turn = _confirm(ctx, question) if question else _ask_question(ctx)
        return ctx.apply(FLOW_NAME, turn)

    async def handle(self, ctx: Context, said: Said) -> Turn:
        answer = said.text
        if said.pressed is not None:
            action = said.pressed[0]
            if action != SEND and said.control != Control.CANCEL:  # /handoff again: start over
                return _begin(ctx, said.command[1] if said.command else "")
            answer = action
        if said.control == Control.CANCEL:
            return Turn(
                [Reply("Not sent. Ask me anything else, or type /help.", kind="cancelled")], None
            )
        step = ctx.session.step or QUESTION
        return await STEPS.get(step, _at_question)(ctx, step, answer)


async def send(ctx: Context, question: str) -> Handoff:
    """Store the hand-off and queue its email (the outbox delivers it, retrying as needed)."""
    domain = ctx.settings.mail.from_address.rpartition("@")[2] or "localhost"
    handoff = await ctx.storage.handoffs.open_handoff(
        ctx.chat, question, secrets.token_hex(8), domain, thread={}
    )
    await ctx.storage.outbox.enqueue_email(
        partnership_email(ctx.settings, handoff), None, "handoff"
    )
    await ctx.storage.audit.audit("handoff_sent", ctx.chat, reference=handoff.reference)
    ctx.conversation.wake_outbox()
    return handoff


async def open_handoffs(ctx: Context) -> list[Reply]:
    """For /unanswered: the questions sent to the partnership and not yet answered."""
    if not available(ctx.settings):
        return []
    handoffs = await ctx.storage.handoffs.handoffs("open")
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
            title=f"{counted(len(handoffs), 'question')} waiting for the partnership's answer",
        )
    ]
