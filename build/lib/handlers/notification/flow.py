"""The significant incident notification: /notify, the guided form, the summary and Submit, /status.

`start` is the one way into the form (a sign-in gate goes in front of it, and may hand it the
answers it already knows, shown for confirmation rather than asked). Everything after that is
`NotificationFlow`, one step at a time. The steps, and where each goes:

    intro ──Start──> ask:<field> ──answer──> ask:<next field> ... ──last answer──> summary
                     confirm:<field> (a pre-filled answer: Yes stores it, Change asks it)
    summary ──Submit──> (ends: the reference)     summary ──Edit──> edit ──a field──> ask:<field>
    any step ──cancel──> cancel ──Yes──> (ends)  ──No──> back where the user was
    any step, after a break or /notify ──> resume ──Continue──> where the draft stopped
                                                  ──Start again──> ask:<first field>

Each step handler (handlers/notification/steps.py) returns a `Turn`: its replies and the next
step; the core applies it, the one place `session.step` is set (`end` says what an ended form
keeps).
What each step shows is handlers/notification/replies.py; the draft's data,
handlers/notification/draft.py. Every answer goes through handlers/notification/rules.py (its own
checks and the rules between answers), on the first answer, on an edit from the summary, and again
at Submit. The form asked is the knowledge base's form as settings form.identify_child selects it
(`form_of`).

Buttons send "/form <action> [arg]" (FORM_COMMAND), a command the flow owns while it runs:
start, continue, restart [yes], cancel, discard, resume, back, skip, help, keep, confirm, change,
choose <n> [field], pick <n> [field], done, edit [field], summary, submit <draft>. A button pressed
after the form has ended reaches `form_closed` instead, which says so rather than doing
anything (and answers a stale Submit with the reference). Typed control words (back, skip,
help, cancel: bot/core/controls.py) and the bare commands /back, /skip, /help, /cancel mean the
same as the buttons. Buttons of earlier releases still work: the option's text on a choice
button is a typed answer, and "/form pick <n>" ticks option n of the current question.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core.controls import Control, Said, fold
from bot.core.conversation import Context, FreeText
from bot.core.flow import Turn
from bot.core.replies import Reply
from bot.mail.transport import failure_words
from bot.storage.records import Session
from handlers import safety
from handlers.notification.answers import show_days
from handlers.notification.draft import (
    ASK,
    CANCEL,
    CHOOSE_EDIT,
    CONFIRM,
    FLOW_NAME,
    FORM_COMMAND,
    INTRO,
    RESUME,
    SUMMARY,
    back_after_a_break,
    drop_draft,
    idle_too_long,
    kind_of,
    submitted_of,
)
from handlers.notification.replies import already_submitted, intro_reply, when
from handlers.notification.steps import (
    Action,
    again,
    ask_cancel,
    at_cancel,
    at_confirm,
    at_intro,
    at_question,
    at_resume,
    at_summary,
    carry_on,
    offer_resume,
    restart,
    submit,
)

log = logging.getLogger(__name__)

Step = Callable[[Context, str, str, Action | None], Awaitable[Turn]]

# The step the form is at -> what handles the next message there (a question's step is looked
# up without its field: "ask:child_dob" -> ASK).
STEPS: dict[str, Step] = {
    INTRO: at_intro,
    ASK: at_question,
    CONFIRM: at_confirm,
    SUMMARY: at_summary,
    CHOOSE_EDIT: at_summary,
    CANCEL: at_cancel,
    RESUME: at_resume,
}

# Typed at any step, they act as the buttons do (the words are bot/core/controls.py's).
CONTROLS = frozenset((Control.BACK, Control.SKIP, Control.HELP, Control.CANCEL))
# What "submit" typed outside a form means (it is not a question to match: "which one?").
SUBMIT_WORDS = frozenset(
    (
        "submit",
        "submit it",
        "submit form",
        "submit the form",
        "submit notification",
        "submit the notification",
        "submit my notification",
        "send it",
    )
)


# --- the flow ---------------------------------------------------------------------------------


class NotificationFlow:
    """Every message while a notification is open (see the module docstring for the steps)."""

    name = FLOW_NAME
    title = "a notification draft"
    command = FORM_COMMAND
    # /start is claimed so that coming back to the chat (a console restart sends it) shows the
    # draft in progress, not the greeting, whose numbered buttons a stray "1" would press.
    commands = frozenset((FORM_COMMAND, "/back", "/skip", "/cancel", "/help", "/start"))

    async def current(self, ctx: Context) -> list[Reply]:
        return ctx.apply(FLOW_NAME, again(ctx, ctx.session.step or INTRO))

    async def handle(self, ctx: Context, said: Said) -> Turn:
        action = _action(said)
        turn = await _turn(ctx, ctx.session.step or INTRO, said.text, action)
        # Answers here describe an incident, so they are never screened for a live concern;
        # instead every help carries the safety route.
        if action is not None and action[0] == "help":
            return Turn([safety.form_note(ctx.settings), *turn.replies], turn.next_step)
        return turn

    def end(self, session: Session) -> None:
        """The form ends: the draft is forgotten, which drafts were submitted is kept."""
        drop_draft(session)


FLOW = NotificationFlow()


async def _turn(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """The controls that act at any step first, then the step's own handler."""
    if idle_too_long(ctx):
        return Turn([_expired_note(ctx)], None)
    if action is not None and action[0] == "start" and text.strip().startswith("/start"):
        if ctx.session.data.get("draft"):
            return offer_resume(ctx, step)
        return Turn(await ctx.run_command("/start"), None)  # only the intro was shown
    if back_after_a_break(ctx, step):
        return offer_resume(ctx, step)
    if action is not None:
        name, arg = action
        if name == "cancel" and step != CANCEL:
            return ask_cancel(ctx, step)
        if name == "continue":
            return carry_on(ctx, step)
        if name == "restart":
            return restart(ctx, step, arg)
        if name == "submit":
            return await submit(ctx, step, arg)
    handler = STEPS.get(kind_of(step), at_question)
    return await handler(ctx, step, text, action)


def _action(said: Said) -> Action | None:
    """The control a message means ("back", "skip", ("edit", "child_dob")...), or None for an
    answer. "/form back", "/back" and a typed "back" are the same."""
    if said.pressed is not None:
        return said.pressed
    if said.command is not None:
        name, arg = said.command
        return name.lstrip("/"), arg
    return (str(said.control), "") if said.control in CONTROLS else None


# --- entry points: commands -------------------------------------------------------------------


async def start(ctx: Context, prefill: dict[str, str] | None = None) -> list[Reply]:
    """Open the form: the intro, or Continue / Start again when a draft is in progress.

    `prefill` (field id -> value, e.g. agency, slo_name, slo_email from a sign-in) is offered
    for confirmation instead of asking those questions.
    """
    session = ctx.session
    notes: list[Reply] = []
    if session.flow == FLOW_NAME and idle_too_long(ctx):
        notes.append(_expired_note(ctx))
        drop_draft(session)
    if session.flow == FLOW_NAME and prefill:
        session.data["prefill"] = dict(prefill)
    if session.flow == FLOW_NAME and session.data.get("draft"):
        return [*notes, *ctx.apply(FLOW_NAME, offer_resume(ctx, session.step or INTRO))]
    submitted = session.data.get("submitted", {}) if session.flow in (None, FLOW_NAME) else {}
    session.data = {"prefill": dict(prefill or {}), "submitted": submitted}
    return [*notes, *ctx.apply(FLOW_NAME, Turn([intro_reply(ctx)], INTRO))]


async def status(ctx: Context, arg: str) -> list[Reply]:
    """/status: the chat's notifications with reference, date and delivery state."""
    rows = await ctx.storage.notifications.notifications_for(ctx.chat)
    if not rows:
        return [
            Reply(
                "You haven't submitted any notifications from this chat. Type /notify to "
                "start one.",
                kind="status",
            )
        ]
    contact = ctx.settings.partnership_email
    states = {
        "queued": "queued: the partnership's mail server does not have it yet",
        "failed": (
            "The partnership's administrators have been told and can send it again; if it is "
            f"urgent, email the partnership at {contact}"
        ),
    }
    lines = []
    for row in rows:
        state = states.get(row.delivery, row.delivery)
        if row.delivery == "retrying":
            state = f"not sent yet: {failure_words(row.last_error)}; I keep trying"
        elif row.delivery == "failed":
            state = f"not sent: {failure_words(row.last_error)}. {state}"
        elif row.delivery == "sent":
            state = (
                f"sent on {when(row.sent_at or row.created_at)} (the partnership's mail "
                "server has it)"
            )
        lines.append(f"{row.reference}, submitted {when(row.created_at)}: {state}.")
    return [Reply("\n".join(lines), kind="status", title="Your notifications")]


async def form_closed(ctx: Context, arg: str) -> list[Reply]:
    """A form button pressed when no form is open (the flow handles them while it runs)."""
    action, _, rest = arg.partition(" ")
    if action == "submit":
        reference = submitted_of(ctx.session).get(rest.strip())
        if reference:
            return [already_submitted(reference)]
    return [
        Reply(
            "That button belongs to a notification form that is no longer open. Type /notify "
            "to start or continue a notification, or /status to see the ones you've sent.",
            kind="form_closed",
        )
    ]


def with_submitted(respond: FreeText) -> FreeText:
    """`respond`, except that "submit" typed with no form open names the reference of the
    chat's last notification, rather than being matched as a question ("which one?")."""

    async def respond_or_reference(ctx: Context, text: str) -> list[Reply]:
        if fold(text) in SUBMIT_WORDS:
            reference = await _last_reference(ctx)
            if reference is not None:
                return [already_submitted(reference)]
        return await respond(ctx, text)

    return respond_or_reference


async def _last_reference(ctx: Context) -> str | None:
    """The reference of the chat's last submitted notification: remembered in the session
    (the draft just submitted), or, once another flow has replaced that, the stored one."""
    submitted = submitted_of(ctx.session)
    if submitted:
        return list(submitted.values())[-1]
    rows = await ctx.storage.notifications.notifications_for(ctx.chat)
    return rows[0].reference if rows else None  # newest first


# --- replies ----------------------------------------------------------------------------------


def _expired_note(ctx: Context) -> Reply:
    log.info("chat %s: notification draft expired", ctx.chat)
    return Reply(
        "Your unfinished notification was deleted because it had not been changed for "
        f"{show_days(ctx.settings.retention.draft_days)}. Type /notify to start again.",
        kind="expired",
    )
