"""The notification form's step handlers. Each receives the step the form is at and the message,
and returns a `Turn`: what to say, and the step to wait at next (None: the form ends). None of
them sets `session.step`; the core applies the turn (`Conversation.apply`), in one place.

A handler's `action` is the control a message means ("back", "skip", ("edit", "child_dob")...),
from a button ("/form back") or a typed control word ("back"), or None for an answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core import controls
from bot.core.controls import fold
from bot.core.conversation import Context
from bot.core.flow import Turn
from bot.core.numbers import pick_number
from bot.core.replies import SUBMITTED, Reply
from bot.mail.transport import eml_path
from handlers.notification.answers import UK, AnswerError, uk_today
from handlers.notification.draft import (
    ASK,
    CANCEL,
    CHOOSE_EDIT,
    CONFIRM,
    INTRO,
    KEEP_SUBMITTED,
    RESUME,
    SUMMARY,
    answers_of,
    field_of,
    first_gap,
    form_of,
    prune,
    submitted_of,
)
from handlers.notification.email import compose_email
from handlers.notification.replies import (
    CONTROLS,
    already_submitted,
    cancel_question,
    edit_choices,
    question_reply,
    render,
    restart_question,
    resume_offer,
    say,
)
from handlers.notification.rules import parse, problems
from knowledge.form import CHOICE_TYPES, Field

log = logging.getLogger(__name__)

Action = tuple[str, str]

YES = controls.YES
NO = controls.NO | {"change", "change it"}  # at a pre-filled answer: change it
QUESTION_STARTS = frozenset("what what's whats who how when why is does can".split())
# A long answer that happens to start with "What" is an answer, not a question.
QUESTION_MAX_WORDS = 15


# --- moving through the form ------------------------------------------------------------------


def stay(ctx: Context, step: str, *before: Reply) -> Turn:
    """Say `before`, then ask `step` again, and wait there."""
    return Turn([*before, *render(ctx, step)], step)


def again(ctx: Context, step: str, *before: Reply) -> Turn:
    """Go (back) to `step`; a question the form no longer has moves on to the first gap."""
    if _is_question(step) and field_of(ctx, step) is None:
        return next_question(ctx, before)
    return stay(ctx, step, *before)


def _is_question(step: str) -> bool:
    return step.startswith((ASK, CONFIRM))


def begin(ctx: Context) -> Turn:
    """Start a new draft (keeping any pre-filled values) and ask the first question."""
    session = ctx.session
    session.data = {
        "draft": secrets.token_hex(8),
        "answers": {},
        "prefill": session.data.get("prefill", {}),
        "submitted": submitted_of(session),
    }
    log.info("chat %s: notification draft started", ctx.chat)
    return next_question(ctx)


def ask(ctx: Context, field: Field, before: Sequence[Reply] = ()) -> Turn:
    """Ask `field` (an earlier multi_choice answer is ticked again)."""
    ctx.session.data.pop("picking", None)
    answer = answers_of(ctx.session).get(field.id)
    if field.type == "multi_choice" and isinstance(answer, list):
        ctx.session.data["picking"] = list(answer)
    return Turn([*before, question_reply(form_of(ctx), field, ctx.session)], ASK + field.id)


def next_question(ctx: Context, before: Sequence[Reply] = ()) -> Turn:
    """Ask the first question not answered yet (offer a pre-filled value for confirmation), or
    show the summary when there is none."""
    form, session = form_of(ctx), ctx.session
    field = first_gap(form, answers_of(session))
    if field is None:
        return stay(ctx, SUMMARY, *before)
    if field.id in session.data.get("prefill", {}):
        return stay(ctx, CONFIRM + field.id, *before)
    return ask(ctx, field, before)


def offer_resume(ctx: Context, step: str) -> Turn:
    """Show where the draft got to, with Continue / Start again; wait at RESUME."""
    if step != RESUME:
        ctx.session.data["resume_from"] = step
    return Turn([resume_offer(ctx)], RESUME)


def _back(ctx: Context, step: str, field: Field | None) -> Turn:
    """The question before `field` (before the summary when None)."""
    form = form_of(ctx)
    answers = answers_of(ctx.session)
    asked = [f for f in form.fields if form.applies(f, answers)]
    if field is not None and field in asked:
        asked = asked[: asked.index(field)]
    if not asked:
        return stay(ctx, step, say("This is the first question. To stop, press Cancel.", "info"))
    return ask(ctx, asked[-1])


def _store(ctx: Context, field: Field, value: Any) -> Turn:
    """Store an accepted answer and move on."""
    answers = answers_of(ctx.session)
    answers[field.id] = value
    prune(form_of(ctx), answers)
    ctx.session.data.pop("picking", None)
    return next_question(ctx)


def _edit(ctx: Context, field_id: str) -> Turn:
    form = form_of(ctx)
    field = form.field(field_id)
    if field is None or not form.applies(field, answers_of(ctx.session)):
        return Turn([edit_choices(ctx)], CHOOSE_EDIT)
    return ask(ctx, field)


def _looks_like_question(text: str) -> bool:
    words = text.strip().casefold().split()
    if not words:
        return False
    return text.strip().endswith("?") or (
        words[0] in QUESTION_STARTS and len(words) <= QUESTION_MAX_WORDS
    )


async def _knowledge_answer(ctx: Context, step: str, text: str) -> Turn | None:
    """A knowledge-base answer to a question asked mid-form, followed by the step again."""
    answer = await ctx.answer_question(text)
    if answer is None:
        return None
    return stay(ctx, step, *answer)


# --- the steps (handlers/notification/flow.py's table)
# ---------------------------------------------


async def at_intro(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """Start the draft on Start; otherwise explain, or answer a question."""
    name = action[0] if action else fold(text)
    if name == "start":
        return begin(ctx)
    if name == "help":
        return stay(ctx, step, say("Press Start to begin the form, or Cancel to leave it.", "help"))
    if action is None and (answer := await _knowledge_answer(ctx, step, text)) is not None:
        return answer
    return stay(ctx, step, say("Please press Start to begin the form, or Cancel.", "help"))


async def at_question(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """Store the answer and ask the next question; or act on back, skip, help, a button..."""
    field = field_of(ctx, step)
    if field is None:  # the form changed under a draft: carry on from the first gap
        return next_question(ctx)
    return await _answer(ctx, step, field, text, action)


async def _answer(ctx: Context, step: str, field: Field, text: str, action: Action | None) -> Turn:
    form, session = form_of(ctx), ctx.session
    answers = answers_of(session)
    if action is not None:
        name, arg = action
        if name == "back":
            return _back(ctx, step, field)
        if name == "help":
            return stay(ctx, step, say(f"{field.help}\n\n{CONTROLS}", "help"))
        if name == "skip":
            if field.required:
                required = "This question is required, so it can't be skipped. Type help for help."
                return stay(ctx, step, say(required))
            return _store(ctx, field, None)
        if name == "keep" and field.id in answers:
            return _store(ctx, field, answers[field.id])
        if name == "choose" and field.options:
            return await _choose(ctx, step, field, arg)
        if name == "pick" and field.type == "multi_choice":
            return _toggle(ctx, step, field, arg)
        if name == "done" and field.type == "multi_choice":
            return _done(ctx, step, field)
        if name == "edit" and arg:
            return _edit(ctx, arg)
        if name == "summary":
            return next_question(ctx)
        return stay(ctx, step, say("That button belongs to another question.", "info"))
    if field.type not in (*CHOICE_TYPES, "yes_no") and _looks_like_question(text):
        answer = await _knowledge_answer(ctx, step, text)
        if answer is not None:
            return answer
    try:
        value = parse(field, text, form, answers, uk_today())
    except AnswerError as error:
        if field.options:
            # A choice question: anything that is not an option may be a question.
            answer = await _knowledge_answer(ctx, step, text)
            if answer is not None:
                return answer
        return stay(ctx, step, say(error.message))
    return _store(ctx, field, value)


async def _choose(ctx: Context, step: str, field: Field, arg: str) -> Turn:
    """A choice button ("/form choose 2 child_gender"): the option, as if its text was typed.
    A button of another question (scrolled past) is not used for this one."""
    number, _, field_id = arg.partition(" ")
    chosen = pick_number(number, len(field.options))
    if chosen is None or (field_id and field_id != field.id):
        return stay(ctx, step, say("That button belongs to another question.", "info"))
    return await _answer(ctx, step, field, field.options[chosen - 1], None)


def _toggle(ctx: Context, step: str, field: Field, arg: str) -> Turn:
    """Tick or untick one option of a multi_choice question ("/form pick 2 legal_status"; the
    data of earlier releases had no field)."""
    number_text, _, field_id = arg.partition(" ")
    if field_id and field_id != field.id:
        return stay(ctx, step, say("That button belongs to another question.", "info"))
    number = pick_number(number_text, len(field.options))
    if number is None:
        return stay(ctx, step)
    option = field.options[number - 1]
    picking: list[str] = ctx.session.data.setdefault("picking", [])
    if option in picking:
        picking.remove(option)
    else:
        picking.append(option)
    return stay(ctx, step)


def _done(ctx: Context, step: str, field: Field) -> Turn:
    picking = set(ctx.session.data.get("picking", []))
    if not picking:
        if field.required:
            choose = "Please choose at least one of the options, then press Done."
            return stay(ctx, step, say(choose))
        return _store(ctx, field, None)
    return _store(ctx, field, [o for o in field.options if o in picking])


async def at_confirm(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """A pre-filled answer: Yes stores it, Change asks the question, anything else answers it."""
    field = field_of(ctx, step)
    if field is None:
        return next_question(ctx)
    name = action[0] if action else fold(text)
    if name in ("confirm", *YES):
        value = ctx.session.data.get("prefill", {}).get(field.id, "")
        try:
            checked = parse(field, value, form_of(ctx), answers_of(ctx.session), uk_today())
        except AnswerError as error:
            return ask(ctx, field, [say(error.message)])
        return _store(ctx, field, checked)
    if name in ("change", *NO):
        return ask(ctx, field)
    if name == "help":
        return stay(ctx, step, say(field.help, "help"))
    return await _answer(ctx, step, field, text, action)


async def at_summary(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """The summary, or choosing the answer to edit from it (CHOOSE_EDIT)."""
    form, session = form_of(ctx), ctx.session
    word = fold(text)
    name, arg = action if action is not None else (word, "")
    if name == "submit":
        return await submit(ctx, step, session.data.get("draft", ""))
    if name == "edit":
        if arg:
            return _edit(ctx, arg)
        return Turn([edit_choices(ctx)], CHOOSE_EDIT)
    if name == "summary" or (name == "back" and step == CHOOSE_EDIT):
        return next_question(ctx)
    if name == "back":
        return _back(ctx, step, None)
    if name == "help":
        hint = "Press Submit to send it, or Edit the summary to change an answer."
        return stay(ctx, step, say(hint, "help"))
    if step == CHOOSE_EDIT:
        answers = answers_of(session)
        for field in form.fields:
            if form.applies(field, answers) and field.label.casefold() == word:
                return ask(ctx, field)
    if action is None and (answer := await _knowledge_answer(ctx, step, text)) is not None:
        return answer
    hint = (
        "Please choose the answer to change."
        if step == CHOOSE_EDIT
        else "Please press Submit to send the notification, or Edit the summary to change it."
    )
    return stay(ctx, step, say(hint, "help"))


async def at_resume(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """Only the offer's own buttons act here (handled before the table): a stray "1" or an old
    button cannot answer a question the user cannot see."""
    return Turn(
        [say("Please press Continue to carry on, or Start again.", "help"), resume_offer(ctx)],
        RESUME,
    )


def ask_cancel(ctx: Context, step: str) -> Turn:
    """Cancel: confirm first when there are answers to lose, else stop at once."""
    if not ctx.session.data.get("answers"):
        stopped = "OK, I've stopped. Nothing was saved. Ask me anything, or type /help."
        return Turn([Reply(stopped, kind="cancelled")], None)
    ctx.session.data["return_to"] = step
    return Turn([cancel_question()], CANCEL)


async def at_cancel(ctx: Context, step: str, text: str, action: Action | None) -> Turn:
    """Yes deletes the draft; No goes back to where the user was."""
    name = action[0] if action else fold(text)
    if name in ("discard", *YES):
        log.info("chat %s: notification draft cancelled", ctx.chat)
        deleted = "Your draft notification has been deleted. Type /notify to start again."
        return Turn([Reply(deleted, kind="cancelled")], None)
    if name in ("resume", "continue", *NO):
        return_to = ctx.session.data.pop("return_to", None) or SUMMARY
        return again(ctx, return_to, say("OK, let's carry on.", "info"))
    hint = say("Please press Yes to delete the draft, or No to carry on.", "help")
    return Turn([hint, cancel_question()], CANCEL)


def restart(ctx: Context, step: str, arg: str) -> Turn:
    """Start again: asked first when there are answers, so a stray press cannot delete them."""
    if arg != "yes" and answers_of(ctx.session):
        return Turn([restart_question(ctx)], step)
    return begin(ctx)


def carry_on(ctx: Context, step: str) -> Turn:
    """Continue: from the resume offer, back to where the draft stopped; elsewhere, stay."""
    if step == RESUME:
        return again(ctx, ctx.session.data.pop("resume_from", None) or SUMMARY)
    return again(ctx, step)


# --- submit -----------------------------------------------------------------------------------


async def submit(ctx: Context, step: str, key: str) -> Turn:
    """Store the notification and queue its email (once per draft); the form ends."""
    session, form, settings = ctx.session, form_of(ctx), ctx.settings
    draft = session.data.get("draft")
    if key and key != draft:
        reference = submitted_of(session).get(key)
        if reference:
            return Turn([already_submitted(reference)], step)
        return stay(ctx, step, say("That Submit button belongs to another form.", "info"))
    answers = answers_of(session)
    if not draft or step == INTRO:
        return stay(ctx, step)
    prune(form, answers)
    if first_gap(form, answers) is not None:
        return next_question(ctx, [say("Some questions still need an answer.", "info")])
    # The rules again: the form or today may have changed since the answers were given.
    broken = problems(form, answers, uk_today())
    if broken:
        field = form.field(broken[0].field_id)
        assert field is not None
        check = f"I can't submit this yet: please check {field.label}. {broken[0].message}"
        return ask(ctx, field, [say(check, "refused")])
    # The copy goes to the address the SLO signed in with, never to one typed in the form.
    copy_to = await ctx.storage.signin.linked_email(ctx.chat)
    if copy_to is None:
        signed_out = (
            "You're no longer signed in, so I can't submit this. Type /signin, then /notify "
            "to continue your draft."
        )
        return Turn([say(signed_out, "refused")], step)
    now = datetime.now(UK)
    submitted_answers = dict(answers)
    reference, created = await ctx.storage.notifications.submit_notification(
        ctx.chat,
        draft,
        str(answers.get("agency") or ""),
        submitted_answers,
        lambda ref: compose_email(
            form, settings.template_path, submitted_answers, ref, settings, now, copy_to
        ),
    )
    ctx.conversation.wake_outbox()
    if created:
        log.info("chat %s submitted notification %s", ctx.chat, reference)
    submitted = {**submitted_of(session), draft: reference}
    session.data["submitted"] = dict(list(submitted.items())[-KEEP_SUBMITTED:])
    if not created:
        # The draft ends here all the same: SUBMITTED lets Telegram clear the form's messages.
        return Turn([already_submitted(reference, SUBMITTED)], None)
    text = (
        f"Thank you. Your notification has been submitted. Its reference is {reference}: "
        "please quote it when you contact the partnership. It is queued to be emailed to the "
        f"partnership, with a Word copy attached, and a copy goes to {copy_to}, the address you "
        "signed in with; I'll tell you when the partnership's mail server has it. Type /status "
        "to see where it is."
    )
    path = eml_path(settings, reference)
    if path is not None:
        text += f"\n\nNo mail server is set up, so the email is written to the file {path}"
    return Turn([Reply(text, kind=SUBMITTED, title="Notification submitted", id=reference)], None)
