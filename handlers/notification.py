"""The significant incident notification: /notify, the guided form, the summary and Submit, /status.

`start` is the one way into the form (a sign-in gate goes in front of it, and may hand it the
answers it already knows, shown for confirmation rather than asked). Everything after the
intro is `NotificationFlow`: one question at a time, each answer checked by bot/answers.py,
the draft in `session.data` (saved by the core after every message):

    draft      random id made when the draft starts; Submit is idempotent on it
    answers    field id -> stored value (None: skipped)
    prefill    field id -> value known beforehand, offered for confirmation
    picking    the options ticked so far at a multi_choice question
    return_to  the step to go back to if the user declines to cancel
    submitted  draft id -> reference of the drafts this chat submitted, kept after the flow
               ends so that a stale Submit button is answered with the reference

    resume_from  the step to go back to when the user presses Continue at the resume offer

Steps (`session.step`): "intro", "ask:<field>", "confirm:<field>" (a pre-filled answer),
"summary", "edit" (choosing the answer to change), "cancel" (confirming the cancel), "resume"
(the offer to continue or start again, shown when someone comes back to an open draft: after
/start, /notify, or a break of RESUME_AFTER_SECONDS; only its own buttons act there, so a
stray "1" or an old button cannot answer a question the user cannot see).

Every answer goes through bot/form_rules.py (its own checks and the rules between
answers), on the first answer, on an edit from the summary, and again at Submit. The form asked
is the knowledge base's form as settings form.identify_child selects it (`form_of`).

The form's buttons send "/form <action>", a command the flow owns while it runs; a button
pressed after the form has ended reaches `form_closed` instead, which says so rather than
doing anything (and answers a stale Submit with the reference).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from datetime import datetime
from typing import Any

from bot import vocabulary
from bot.answers import (
    UK,
    AnswerError,
    show_answer,
    show_days,
    show_moment,
    uk_today,
)
from bot.conversation import Context, FreeText, split_command
from bot.form_rules import parse, problems, shown_by_section
from bot.lifetimes import NOTIFY_FLOW
from bot.mailer import eml_path
from bot.notification_email import compose_email
from bot.numbers import pick_number
from bot.replies import BUTTON_DATA_LIMIT, SUBMITTED, Button, Reply
from bot.storage import Session
from handlers import safety
from knowledge.form import CHOICE_TYPES, Field, Form

log = logging.getLogger(__name__)

FLOW_NAME = NOTIFY_FLOW
FORM_COMMAND = "/form"
DAY = 86400.0
KEEP_SUBMITTED = 5  # how many submitted drafts a chat remembers for stale Submit buttons

INTRO, SUMMARY, CHOOSE_EDIT, CANCEL, RESUME = "intro", "summary", "edit", "cancel", "resume"
# Someone typing into a draft after this long a break is first told where they were.
RESUME_AFTER_SECONDS = 3600.0
ASK, CONFIRM = "ask:", "confirm:"

# Typed at any question: the words themselves are bot/vocabulary.py's.
CONTROL_WORDS = {
    **dict.fromkeys(vocabulary.BACK, "back"),
    **dict.fromkeys(vocabulary.SKIP, "skip"),
    **dict.fromkeys(vocabulary.HELP, "help"),
    **dict.fromkeys(vocabulary.CANCEL, "cancel"),
}
YES = vocabulary.YES
NO = vocabulary.NO | {"change", "change it"}  # at a pre-filled answer: change it
QUESTION_STARTS = frozenset("what what's whats who how when why is does can".split())
# A long answer that happens to start with "What" is an answer, not a question.
QUESTION_MAX_WORDS = 15

CONTROLS = (
    "You can also type back (the previous question), skip (optional questions only) or "
    "cancel, or ask me a question."
)
CANCEL_BUTTON = Button("Cancel", "/form cancel")
BACK_BUTTON = Button("Back", "/form back")
HELP_BUTTON = Button("Help", "/form help")


# --- entry points: commands -------------------------------------------------------------------


# The last form asked and its filtered copy. The original is held, so `is` cannot be fooled by
# a new form (after /reload) that happens to reuse a freed object's id.
_CACHED: list[tuple[Form, str, Form]] = []


def form_of(ctx: Context) -> Form:
    """The form as asked here: the child identified as settings form.identify_child says."""
    form, identity = ctx.knowledge.form, ctx.settings.form.identify_child
    for original, mode, filtered in _CACHED:
        if original is form and mode == identity:
            return filtered
    _CACHED[:] = [(form, identity, form.with_identity(identity))]
    return _CACHED[0][2]


async def start(ctx: Context, prefill: dict[str, str] | None = None) -> list[Reply]:
    """Open the form: the intro, or Continue / Start again when a draft is in progress.

    `prefill` (field id -> value, e.g. agency, slo_name, slo_email from a sign-in) is offered
    for confirmation instead of asking those questions.
    """
    session = ctx.session
    notes: list[Reply] = []
    if session.flow == FLOW_NAME and _idle_too_long(ctx):
        notes.append(_expired_note(ctx))
        _drop_draft(session)
    if session.flow == FLOW_NAME and prefill:
        session.data["prefill"] = dict(prefill)
    if session.flow == FLOW_NAME and session.data.get("draft"):
        return [*notes, _resume_offer(ctx)]
    submitted = session.data.get("submitted", {}) if session.flow in (None, FLOW_NAME) else {}
    session.flow, session.step = FLOW_NAME, INTRO
    session.data = {"prefill": dict(prefill or {}), "submitted": submitted}
    return [*notes, intro_reply(ctx)]


async def status(ctx: Context, arg: str) -> list[Reply]:
    """/status: the chat's notifications with reference, date and delivery state."""
    rows = await ctx.storage.notifications_for(ctx.chat)
    if not rows:
        return [
            Reply(
                "You haven't submitted any notifications from this chat. Type /notify to "
                "start one.",
                kind="status",
            )
        ]
    contact = ctx.settings.board.contact_email
    states = {
        "queued": "queued: the partnership's mail server does not have it yet",
        "retrying": "not sent yet: the mail server could not be reached, I keep trying",
        "failed": (
            "refused by the mail server: the partnership's administrators have been told and can "
            f"send it again; if it is urgent, email the partnership at {contact}"
        ),
    }
    lines = []
    for row in rows:
        state = states.get(row.delivery, row.delivery)
        if row.delivery == "sent":
            state = (
                f"sent on {_when(row.sent_at or row.created_at)} (the partnership's mail "
                "server has it)"
            )
        lines.append(f"{row.reference}, submitted {_when(row.created_at)}: {state}.")
    return [Reply("\n".join(lines), kind="status", title="Your notifications")]


async def form_closed(ctx: Context, arg: str) -> list[Reply]:
    """A form button pressed when no form is open (the flow handles them while it runs)."""
    action, _, rest = arg.partition(" ")
    if action == "submit":
        reference = _submitted(ctx.session).get(rest.strip())
        if reference:
            return [_already_submitted(reference)]
    return [
        Reply(
            "That button belongs to a notification form that is no longer open. Type /notify "
            "to start or continue a notification, or /status to see the ones you've sent.",
            kind="form_closed",
        )
    ]


def with_submitted(respond: FreeText) -> FreeText:
    """`respond`, except that "submit" typed after a Submit names the reference it got, rather
    than being matched as a question ("which one?")."""

    async def respond_or_reference(ctx: Context, text: str) -> list[Reply]:
        submitted = _submitted(ctx.session)
        if submitted and vocabulary.fold(text) == "submit":
            return [_already_submitted(list(submitted.values())[-1])]
        return await respond(ctx, text)

    return respond_or_reference


# --- the flow ---------------------------------------------------------------------------------


class NotificationFlow:
    """Every message while a notification is open (see the module docstring for the steps)."""

    name = FLOW_NAME
    title = "a notification draft"
    # /start is claimed so that coming back to the chat (a console restart sends it) shows the
    # draft in progress, not the greeting, whose numbered buttons a stray "1" would press.
    commands = frozenset((FORM_COMMAND, "/back", "/skip", "/cancel", "/help", "/start"))

    async def current(self, ctx: Context) -> list[Reply]:
        return _render(ctx)

    async def handle(self, ctx: Context, text: str) -> list[Reply]:
        replies = await self._handle(ctx, text)
        # Answers here describe an incident, so they are never screened for a live concern;
        # instead every help carries the safety route.
        if (_action(text) or ("",))[0] == "help":
            replies.insert(0, safety.form_note(ctx.settings))
        return replies

    async def _handle(self, ctx: Context, text: str) -> list[Reply]:
        if _idle_too_long(ctx):
            note = _expired_note(ctx)
            _drop_draft(ctx.session)
            return [note]
        action = _action(text)
        step = ctx.session.step or INTRO
        if action is not None and action[0] == "start" and text.strip().startswith("/start"):
            if ctx.session.data.get("draft"):
                return [_resume_offer(ctx)]
            _drop_draft(ctx.session)  # only the intro was shown: nothing to keep
            return await ctx.run_command("/start")
        if _back_after_a_break(ctx, step):
            return [_resume_offer(ctx)]
        if action is not None:
            name, arg = action
            if name == "cancel" and step != CANCEL:
                return _ask_cancel(ctx)
            if name == "continue":
                if step == RESUME:
                    ctx.session.step = ctx.session.data.pop("resume_from", None) or SUMMARY
                return _render(ctx)
            if name == "restart":
                if arg != "yes" and _answers(ctx.session):
                    return [_restart_question(ctx)]
                return _begin(ctx)
            if name == "submit":
                return await _submit(ctx, arg)
        if step == INTRO:
            return await _at_intro(ctx, text, action)
        if step == RESUME:
            return [
                _say("Please press Continue to carry on, or Start again.", "help"),
                _resume_offer(ctx),
            ]
        if step == CANCEL:
            return _at_cancel(ctx, text, action)
        if step in (SUMMARY, CHOOSE_EDIT):
            return await _at_summary(ctx, text, action)
        field = _current_field(ctx)
        if field is None:  # the form changed under a draft: carry on from the first gap
            return _next(ctx)
        if step.startswith(CONFIRM):
            return await _at_confirm(ctx, field, text, action)
        return await _at_question(ctx, field, text, action)


FLOW = NotificationFlow()


def _action(text: str) -> tuple[str, str] | None:
    """The control a message means ("back", "skip", "edit child_dob"...), or None for an answer."""
    stripped = text.strip()
    if stripped.startswith("/"):
        name, arg = split_command(stripped)
        if name == FORM_COMMAND:
            action, _, rest = arg.partition(" ")
            return action.lower(), rest.strip()
        return name.lstrip("/"), arg
    word = vocabulary.fold(stripped)
    return (CONTROL_WORDS[word], "") if word in CONTROL_WORDS else None


# --- state helpers ----------------------------------------------------------------------------


def _answers(session: Session) -> dict[str, Any]:
    answers: dict[str, Any] = session.data.setdefault("answers", {})
    return answers


def _submitted(session: Session) -> dict[str, str]:
    submitted = session.data.get("submitted")
    return submitted if isinstance(submitted, dict) else {}


def _back_after_a_break(ctx: Context, step: str) -> bool:
    """Typing into a draft after a break: the user may not remember where they were."""
    updated = ctx.session.updated_at
    return (
        not ctx.incoming.pressed
        and step not in (INTRO, RESUME)
        and bool(ctx.session.data.get("draft"))
        and bool(updated)
        and time.time() - updated > RESUME_AFTER_SECONDS
    )


def _idle_too_long(ctx: Context) -> bool:
    updated = ctx.session.updated_at
    limit = ctx.settings.retention.draft_days * DAY
    return bool(updated) and time.time() - updated > limit


def _expired_note(ctx: Context) -> Reply:
    log.info("chat %s: notification draft expired", ctx.chat)
    return Reply(
        "Your unfinished notification was deleted because it had not been changed for "
        f"{show_days(ctx.settings.retention.draft_days)}. Type /notify to start again.",
        kind="expired",
    )


def _drop_draft(session: Session) -> None:
    """End the flow and forget the draft, remembering only which drafts were submitted."""
    submitted = _submitted(session)
    session.reset()
    if submitted:
        session.data = {"submitted": submitted}


def _current_field(ctx: Context) -> Field | None:
    step = ctx.session.step or ""
    field_id = step.partition(":")[2]
    return form_of(ctx).field(field_id) if field_id else None


def _prune(form: Form, answers: dict[str, Any]) -> None:
    """Drop answers to questions that no longer apply (an edit changed a `when`), and so on."""
    known = {f.id for f in form.fields}
    for field_id in [k for k in answers if k not in known]:
        del answers[field_id]
    changed = True
    while changed:
        changed = False
        for field in form.fields:
            if field.id in answers and not form.applies(field, answers):
                del answers[field.id]
                changed = True


def _first_gap(form: Form, answers: dict[str, Any]) -> Field | None:
    return next((f for f in form.fields if f.id not in answers and form.applies(f, answers)), None)


# --- replies ----------------------------------------------------------------------------------


def _when(timestamp: float) -> str:
    return show_moment(datetime.fromtimestamp(timestamp, UK))


def _minutes(form: Form) -> int:
    """A rough time to complete: half a minute a question, three for each long answer."""
    seconds = sum(180 if f.type == "long_text" else 30 for f in form.fields)
    return max(5, 5 * math.ceil(seconds / 300))


def intro_reply(ctx: Context) -> Reply:
    form, retention = form_of(ctx), ctx.settings.retention
    always = [f for f in form.fields if not f.when and not f.derived_from]
    text = (
        f"{form.intro}\n\n"
        "Only your agency's Liaison Officer (SLO) should submit this form. It has "
        f"{len(always)} to {len(form.fields)} questions (some are asked only when they apply) "
        f"in {len(form.sections)} sections and takes about {_minutes(form)} minutes.\n\n"
        f"{identity_note(ctx)}\n\n"
        "What I keep: your answers are saved as you go, so you can stop and carry on later; an "
        f"unfinished draft is deleted after {show_days(retention.draft_days)} without changes. "
        "When you submit, the notification is emailed to the partnership, with a Word copy "
        "attached, and a copy goes to the address you signed in with. I keep its answers for "
        f"{show_days(retention.delivered_content_days)} after delivery; after that only the "
        "reference, date and delivery state.\n\n"
        "At any question you can type back, skip, help or cancel, or ask me a question."
    )
    return Reply(
        text,
        kind="intro",
        title=form.title,
        buttons=(Button("Start", "/form start"), CANCEL_BUTTON),
    )


def identity_note(ctx: Context) -> str:
    """What the form asks about the child, by settings form.identify_child (also /privacy)."""
    if ctx.settings.form.identify_child == "full":
        return (
            "About the child I ask the full name, date of birth and home address, as the "
            "partnership has chosen."
        )
    return (
        "About the child I ask only the initials, the date of birth and, if you have it, a "
        "local authority case number or NHS number: enough for the partnership to find the "
        "records. I don't ask the child's full name or address, so they never travel through "
        "the chat or by ordinary email."
    )


def _where(ctx: Context) -> str:
    """'section 3 of 6 (The child)', or 'the summary', for the step a draft stopped at."""
    session, form = ctx.session, form_of(ctx)
    step = session.data.get("resume_from") if session.step == RESUME else session.step
    step = str(step or "")
    if step in (SUMMARY, CHOOSE_EDIT):
        return "the summary, ready to submit"
    field = (
        form.field(step.partition(":")[2]) if ":" in step else _first_gap(form, _answers(session))
    )
    if field is None:
        return "the summary, ready to submit"
    number, section = form.section_of(field.id)
    return f"section {number} of {len(form.sections)} ({section.title})"


def _resume_offer(ctx: Context) -> Reply:
    """Where the draft got to, with Continue / Start again; the flow waits at the RESUME step."""
    session, form = ctx.session, form_of(ctx)
    if session.step != RESUME:
        session.data["resume_from"] = session.step
        session.step = RESUME
    answers = _answers(session)
    count = len([f for f in form.fields if f.id in answers and form.applies(f, answers)])
    total = len([f for f in form.fields if form.may_apply(f, answers)])
    changed = _when(session.updated_at) if session.updated_at else "earlier"
    return Reply(
        f"You have a {form.title} in progress: {count} of about {total} questions answered, "
        f"and you stopped at {_where(ctx)}. Last changed {changed}.\n\n"
        "Continue where you stopped, or start again? Starting again deletes your answers.",
        kind="resume",
        buttons=(
            Button("Continue", "/form continue"),
            Button("Start again", "/form restart"),
            CANCEL_BUTTON,
        ),
        private=True,
    )


def _progress(form: Form, field: Field, answers: dict[str, Any]) -> str:
    number, section = form.section_of(field.id)
    shown = [f for f in section.fields if form.may_apply(f, answers) or f == field]
    return (
        f"Section {number} of {len(form.sections)}, "
        f"question {shown.index(field) + 1} of {len(shown)}"
    )


def _choice_data(option: str, number: int) -> str:
    # Longer button data is not carried (Telegram); the option's number is accepted too.
    return option if len(option.encode()) <= BUTTON_DATA_LIMIT else str(number)


def question_reply(form: Form, field: Field, session: Session) -> Reply:
    """Ask `field`, with its progress, hints, any earlier answer, and its buttons."""
    answers = _answers(session)
    lines = [_progress(form, field, answers), "", field.prompt]
    buttons: list[Button] = []
    if field.type == "multi_choice":
        picking = set(session.data.get("picking", []))
        lines += [f"{i}. {option}" for i, option in enumerate(field.options, 1)]
        lines.append(
            "Press each option that applies, then Done. Or type their numbers, for example 1, 3."
        )
        buttons += [
            Button(("✓ " if option in picking else "") + option, f"/form pick {i}")
            for i, option in enumerate(field.options, 1)
        ]
        buttons.append(Button("Done", "/form done"))
    elif field.options:
        buttons += [Button(o, _choice_data(o, i)) for i, o in enumerate(field.options, 1)]
    elif field.type == "date":
        lines.append("Type the date, for example 03/02/2026 or 3 Feb 2026, or today or yesterday.")
    elif field.type == "long_text" and field.max_length:
        least = f"at least {field.min_length} and " if field.min_length else ""
        lines.append(f"Please write {least}up to {field.max_length} characters.")
    if not field.required:
        lines.append("This question is optional: press Skip if you have nothing to add.")
    if field.id in answers:
        lines.append(f"Your answer so far: {show_answer(field, answers[field.id])}")
        buttons.append(Button("Keep this answer", "/form keep"))
    if not field.required:
        buttons.append(Button("Skip", "/form skip"))
    buttons += [BACK_BUTTON, HELP_BUTTON, CANCEL_BUTTON]
    section = form.section_of(field.id)[1]
    return Reply(
        "\n".join(lines),
        kind="question",
        title=section.title,
        id=field.id,
        buttons=tuple(buttons),
        private=True,
        expects_text=not field.options,
    )


def confirm_reply(form: Form, field: Field, session: Session) -> Reply:
    """Offer a value known beforehand (from sign-in) for confirmation."""
    value = session.data.get("prefill", {}).get(field.id, "")
    section = form.section_of(field.id)[1]
    return Reply(
        f"{_progress(form, field, _answers(session))}\n\n{field.label}: {value}\nIs this right?",
        kind="confirm",
        title=section.title,
        id=field.id,
        buttons=(
            Button("Yes", "/form confirm"),
            Button("Change", "/form change"),
            BACK_BUTTON,
            CANCEL_BUTTON,
        ),
        private=True,
    )


def summary_reply(ctx: Context) -> Reply:
    """Every answer by section, with Submit and a way to change any answer."""
    form, session = form_of(ctx), ctx.session
    lines = [
        "Please check your answers. Press Submit to send the notification to the partnership, or "
        "Edit the summary to change an answer."
    ]
    for section, rows in shown_by_section(form, _answers(session), uk_today()):
        lines += ["", section.title.upper()]
        for field, shown in rows:
            separator = "\n" if "\n" in shown else " "
            lines.append(f"{field.label}:{separator}{shown}")
    return Reply(
        "\n".join(lines),
        kind="summary",
        title="Check your answers",
        buttons=(
            Button("Submit", f"/form submit {session.data.get('draft', '')}"),
            Button("Edit the summary", "/form edit"),
            BACK_BUTTON,
            CANCEL_BUTTON,
        ),
        private=True,
    )


def _edit_choices(ctx: Context) -> Reply:
    form = form_of(ctx)
    answers = _answers(ctx.session)
    buttons = [
        Button(f.label, f"/form edit {f.id}") for f in form.fields if form.applies(f, answers)
    ]
    buttons.append(Button("Back to the summary", "/form summary"))
    return Reply(
        "Which answer would you like to change?",
        kind="choices",
        buttons=tuple(buttons),
        private=True,
    )


def _render(ctx: Context) -> list[Reply]:
    """The current step asked again (after help, a question, a refused answer...)."""
    form, session = form_of(ctx), ctx.session
    step = session.step or INTRO
    if step == INTRO:
        return [intro_reply(ctx)]
    if step == CANCEL:
        return [_cancel_question()]
    if step == RESUME:
        return [_resume_offer(ctx)]
    if step == SUMMARY:
        return [summary_reply(ctx)]
    if step == CHOOSE_EDIT:
        return [_edit_choices(ctx)]
    field = _current_field(ctx)
    if field is None:
        return _next(ctx)
    if step.startswith(CONFIRM):
        return [confirm_reply(form, field, session)]
    return [question_reply(form, field, session)]


def _say(text: str, kind: str = "invalid") -> Reply:
    return Reply(text, kind=kind, private=True)


# --- moving through the form ------------------------------------------------------------------


def _begin(ctx: Context) -> list[Reply]:
    """Start a new draft (keeping any pre-filled values) and ask the first question."""
    session = ctx.session
    session.data = {
        "draft": secrets.token_hex(8),
        "answers": {},
        "prefill": session.data.get("prefill", {}),
        "submitted": _submitted(session),
    }
    log.info("chat %s: notification draft started", ctx.chat)
    return _next(ctx)


def _ask(ctx: Context, field: Field) -> list[Reply]:
    ctx.session.step = ASK + field.id
    ctx.session.data.pop("picking", None)
    answer = _answers(ctx.session).get(field.id)
    if field.type == "multi_choice" and isinstance(answer, list):
        ctx.session.data["picking"] = list(answer)
    return [question_reply(form_of(ctx), field, ctx.session)]


def _next(ctx: Context, before: list[Reply] | None = None) -> list[Reply]:
    """Ask the first question not answered yet, or show the summary when there is none."""
    form, session = form_of(ctx), ctx.session
    field = _first_gap(form, _answers(session))
    replies = list(before or [])
    if field is None:
        session.step = SUMMARY
        return [*replies, summary_reply(ctx)]
    if field.id in session.data.get("prefill", {}):
        session.step = CONFIRM + field.id
        return [*replies, confirm_reply(form, field, session)]
    return [*replies, *_ask(ctx, field)]


def _back(ctx: Context, field: Field | None) -> list[Reply]:
    """The question before `field` (before the summary when None)."""
    form = form_of(ctx)
    answers = _answers(ctx.session)
    asked = [f for f in form.fields if form.applies(f, answers)]
    if field is not None and field in asked:
        asked = asked[: asked.index(field)]
    if not asked:
        return [_say("This is the first question. To stop, press Cancel.", "info"), *_render(ctx)]
    return _ask(ctx, asked[-1])


def _store(ctx: Context, field: Field, value: Any) -> list[Reply]:
    """Store an accepted answer and move on."""
    answers = _answers(ctx.session)
    answers[field.id] = value
    _prune(form_of(ctx), answers)
    ctx.session.data.pop("picking", None)
    return _next(ctx)


def _looks_like_question(text: str) -> bool:
    words = text.strip().casefold().split()
    if not words:
        return False
    return text.strip().endswith("?") or (
        words[0] in QUESTION_STARTS and len(words) <= QUESTION_MAX_WORDS
    )


async def _knowledge_answer(ctx: Context, text: str) -> list[Reply] | None:
    """A knowledge-base answer to a question asked mid-form, followed by the step again."""
    answer = await ctx.answer_question(text)
    if answer is None:
        return None
    return [*answer, *_render(ctx)]


async def _at_intro(ctx: Context, text: str, action: tuple[str, str] | None) -> list[Reply]:
    name = action[0] if action else vocabulary.fold(text)
    if name == "start":
        return _begin(ctx)
    if name == "help":
        return [
            _say("Press Start to begin the form, or Cancel to leave it.", "help"),
            *_render(ctx),
        ]
    if action is None and (answer := await _knowledge_answer(ctx, text)) is not None:
        return answer
    return [_say("Please press Start to begin the form, or Cancel.", "help"), *_render(ctx)]


async def _at_question(
    ctx: Context, field: Field, text: str, action: tuple[str, str] | None
) -> list[Reply]:
    """Store the answer to `field` and ask the next question; or act on back, skip, help..."""
    form, session = form_of(ctx), ctx.session
    answers = _answers(session)
    if action is not None:
        name, arg = action
        if name == "back":
            return _back(ctx, field)
        if name == "help":
            return [_say(f"{field.help}\n\n{CONTROLS}", "help"), *_render(ctx)]
        if name == "skip":
            if field.required:
                return [
                    _say("This question is required, so it can't be skipped. Type help for help."),
                    *_render(ctx),
                ]
            return _store(ctx, field, None)
        if name == "keep" and field.id in answers:
            return _store(ctx, field, answers[field.id])
        if name == "pick" and field.type == "multi_choice":
            return _toggle(ctx, field, arg)
        if name == "done" and field.type == "multi_choice":
            return _done(ctx, field)
        if name == "edit" and arg:
            return _edit(ctx, arg)
        if name == "summary":
            return _next(ctx)
        return [_say("That button belongs to another question.", "info"), *_render(ctx)]
    if field.type not in (*CHOICE_TYPES, "yes_no") and _looks_like_question(text):
        answer = await _knowledge_answer(ctx, text)
        if answer is not None:
            return answer
    try:
        value = parse(field, text, form, answers, uk_today())
    except AnswerError as error:
        if field.options:
            # A choice question: anything that is not an option may be a question.
            answer = await _knowledge_answer(ctx, text)
            if answer is not None:
                return answer
        return [_say(error.message), *_render(ctx)]
    return _store(ctx, field, value)


def _toggle(ctx: Context, field: Field, arg: str) -> list[Reply]:
    """Tick or untick one option of a multi_choice question."""
    number = pick_number(arg, len(field.options))
    if number is None:
        return _render(ctx)
    option = field.options[number - 1]
    picking: list[str] = ctx.session.data.setdefault("picking", [])
    if option in picking:
        picking.remove(option)
    else:
        picking.append(option)
    return _render(ctx)


def _done(ctx: Context, field: Field) -> list[Reply]:
    picking = set(ctx.session.data.get("picking", []))
    if not picking:
        if field.required:
            return [
                _say("Please choose at least one of the options, then press Done."),
                *_render(ctx),
            ]
        return _store(ctx, field, None)
    return _store(ctx, field, [o for o in field.options if o in picking])


async def _at_confirm(
    ctx: Context, field: Field, text: str, action: tuple[str, str] | None
) -> list[Reply]:
    """A pre-filled answer: Yes stores it, Change asks the question, anything else answers it."""
    name = action[0] if action else vocabulary.fold(text)
    if name in ("confirm", *YES):
        value = ctx.session.data.get("prefill", {}).get(field.id, "")
        try:
            checked = parse(field, value, form_of(ctx), _answers(ctx.session), uk_today())
        except AnswerError as error:
            return [_say(error.message), *_ask(ctx, field)]
        return _store(ctx, field, checked)
    if name in ("change", *NO):
        return _ask(ctx, field)
    if name == "help":
        return [_say(field.help, "help"), *_render(ctx)]
    return await _at_question(ctx, field, text, action)


def _edit(ctx: Context, field_id: str) -> list[Reply]:
    form = form_of(ctx)
    field = form.field(field_id)
    if field is None or not form.applies(field, _answers(ctx.session)):
        ctx.session.step = CHOOSE_EDIT
        return [_edit_choices(ctx)]
    return _ask(ctx, field)


async def _at_summary(ctx: Context, text: str, action: tuple[str, str] | None) -> list[Reply]:
    """The summary, or choosing the answer to edit from it."""
    form, session = form_of(ctx), ctx.session
    word = vocabulary.fold(text)
    name, arg = action if action is not None else (word, "")
    if name == "submit":
        return await _submit(ctx, session.data.get("draft", ""))
    if name == "edit":
        if arg:
            return _edit(ctx, arg)
        session.step = CHOOSE_EDIT
        return [_edit_choices(ctx)]
    if name == "summary" or (name == "back" and session.step == CHOOSE_EDIT):
        return _next(ctx)
    if name == "back":
        return _back(ctx, None)
    if name == "help":
        return [
            _say("Press Submit to send it, or Edit the summary to change an answer.", "help"),
            *_render(ctx),
        ]
    if session.step == CHOOSE_EDIT:
        answers = _answers(session)
        for field in form.fields:
            if form.applies(field, answers) and field.label.casefold() == word:
                return _ask(ctx, field)
    if action is None and (answer := await _knowledge_answer(ctx, text)) is not None:
        return answer
    hint = (
        "Please choose the answer to change."
        if session.step == CHOOSE_EDIT
        else "Please press Submit to send the notification, or Edit the summary to change it."
    )
    return [_say(hint, "help"), *_render(ctx)]


# --- cancel -----------------------------------------------------------------------------------


def _restart_question(ctx: Context) -> Reply:
    """Starting again deletes the answers: asked first, so a stray press cannot do it."""
    count = len([v for v in _answers(ctx.session).values() if v is not None])
    return Reply(
        f"Start again? Your {count} saved answers will be deleted.",
        kind="confirm_restart",
        buttons=(
            Button("Yes, start again", "/form restart yes"),
            Button("No, continue", "/form continue"),
        ),
        private=True,
    )


def _cancel_question() -> Reply:
    return Reply(
        "Do you want to stop and delete this notification? Your answers so far will be deleted.",
        kind="confirm_cancel",
        buttons=(Button("Yes, delete it", "/form discard"), Button("No, carry on", "/form resume")),
        private=True,
    )


def _ask_cancel(ctx: Context) -> list[Reply]:
    session = ctx.session
    if not session.data.get("answers"):
        _drop_draft(session)
        return [
            Reply(
                "OK, I've stopped. Nothing was saved. Ask me anything, or type /help.",
                kind="cancelled",
            )
        ]
    session.data["return_to"] = session.step
    session.step = CANCEL
    return [_cancel_question()]


def _at_cancel(ctx: Context, text: str, action: tuple[str, str] | None) -> list[Reply]:
    session = ctx.session
    name = action[0] if action else vocabulary.fold(text)
    if name in ("discard", *YES):
        _drop_draft(session)
        log.info("chat %s: notification draft cancelled", ctx.chat)
        return [
            Reply(
                "Your draft notification has been deleted. Type /notify to start again.",
                kind="cancelled",
            )
        ]
    if name in ("resume", "continue", *NO):
        session.step = session.data.pop("return_to", None) or SUMMARY
        return [_say("OK, let's carry on.", "info"), *_render(ctx)]
    return [
        _say("Please press Yes to delete the draft, or No to carry on.", "help"),
        _cancel_question(),
    ]


# --- submit -----------------------------------------------------------------------------------


def _already_submitted(reference: str, kind: str = "already_submitted") -> Reply:
    return Reply(
        f"This notification was already submitted. Its reference is {reference}. "
        "Type /status to see whether it has been delivered.",
        kind=kind,
        id=reference,
    )


async def _submit(ctx: Context, key: str) -> list[Reply]:
    """Store the notification and queue its email (once per draft), then end the flow."""
    session, form, settings = ctx.session, form_of(ctx), ctx.settings
    draft = session.data.get("draft")
    if key and key != draft:
        reference = _submitted(session).get(key)
        if reference:
            return [_already_submitted(reference)]
        return [_say("That Submit button belongs to another form.", "info"), *_render(ctx)]
    answers = _answers(session)
    if not draft or session.step == INTRO:
        return _render(ctx)
    _prune(form, answers)
    if _first_gap(form, answers) is not None:
        return _next(ctx, [_say("Some questions still need an answer.", "info")])
    # The rules again: the form or today may have changed since the answers were given.
    broken = problems(form, answers, uk_today())
    if broken:
        field = form.field(broken[0].field_id)
        assert field is not None
        return [
            _say(
                f"I can't submit this yet: please check {field.label}. {broken[0].message}",
                "refused",
            ),
            *_ask(ctx, field),
        ]
    # The copy goes to the address the SLO signed in with, never to one typed in the form.
    copy_to = await ctx.storage.linked_email(ctx.chat)
    if copy_to is None:
        return [
            _say(
                "You're no longer signed in, so I can't submit this. Type /signin, then /notify "
                "to continue your draft.",
                "refused",
            )
        ]
    when = datetime.now(UK)
    submitted_answers = dict(answers)
    reference, created = await ctx.storage.submit_notification(
        ctx.chat,
        draft,
        str(answers.get("agency") or ""),
        submitted_answers,
        lambda ref: compose_email(form, submitted_answers, ref, settings, when, copy_to),
    )
    ctx.conversation.wake_outbox()
    if created:
        log.info("chat %s submitted notification %s", ctx.chat, reference)
    submitted = {**_submitted(session), draft: reference}
    session.reset()
    session.data = {"submitted": dict(list(submitted.items())[-KEEP_SUBMITTED:])}
    if not created:
        # The draft ends here all the same: SUBMITTED lets Telegram clear the form's messages.
        return [_already_submitted(reference, SUBMITTED)]
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
    return [Reply(text, kind=SUBMITTED, title="Notification submitted", id=reference)]
