"""What the notification form shows at each step: the intro, a question, a pre-filled answer to
confirm, the summary, the edit choices, the cancel and restart questions, the resume offer.

Pure rendering from the draft (`session.data`) and the step asked: nothing here moves the form
on; that is the step handlers' job (handlers/notification/steps.py). Every button sends
"/form <action> [arg]" (bot/core/flow.py `button_data`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bot.core.conversation import Context
from bot.core.flow import button_data, fits
from bot.core.replies import Button, Reply
from bot.storage.records import Session
from handlers.notification.answers import UK, show_answer, show_days, show_moment, uk_today
from handlers.notification.draft import (
    CANCEL,
    CHOOSE_EDIT,
    CONFIRM,
    FORM_COMMAND,
    INTRO,
    RESUME,
    SUMMARY,
    answers_of,
    field_of,
    first_gap,
    form_of,
)
from handlers.notification.rules import shown_by_section
from knowledge.form import Field, Form

CONTROLS = (
    "You can also type back (the previous question), skip (optional questions only) or "
    "cancel, or ask me a question."
)


def form_button(label: str, action: str, arg: str = "") -> Button:
    return Button(label, button_data(FORM_COMMAND, action, arg))


CANCEL_BUTTON = form_button("Cancel", "cancel")
BACK_BUTTON = form_button("Back", "back")
HELP_BUTTON = form_button("Help", "help")


def say(text: str, kind: str = "invalid") -> Reply:
    """A line said inside the form (a refusal, a hint) before the step is asked again."""
    return Reply(text, kind=kind)


def when(timestamp: float) -> str:
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
        buttons=(form_button("Start", "start"), CANCEL_BUTTON),
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


def _where(ctx: Context, step: str) -> str:
    """'section 3 of 6 (The child)', or 'the summary', for the step a draft stopped at."""
    form = form_of(ctx)
    if step in (SUMMARY, CHOOSE_EDIT):
        return "the summary, ready to submit"
    field = field_of(ctx, step) if ":" in step else first_gap(form, answers_of(ctx.session))
    if field is None:
        return "the summary, ready to submit"
    number, section = form.section_of(field.id)
    return f"section {number} of {len(form.sections)} ({section.title})"


def resume_offer(ctx: Context) -> Reply:
    """Where the draft got to (`resume_from`), with Continue / Start again."""
    session, form = ctx.session, form_of(ctx)
    answers = answers_of(session)
    count = len([f for f in form.fields if f.id in answers and form.applies(f, answers)])
    total = len([f for f in form.fields if form.may_apply(f, answers)])
    changed = when(session.updated_at) if session.updated_at else "earlier"
    stopped_at = str(session.data.get("resume_from") or "")
    return Reply(
        f"You have a {form.title} in progress: {count} of about {total} questions answered, "
        f"and you stopped at {_where(ctx, stopped_at)}. Last changed {changed}.\n\n"
        "Continue where you stopped, or start again? Starting again deletes your answers.",
        kind="resume",
        buttons=(
            form_button("Continue", "continue"),
            form_button("Start again", "restart"),
            CANCEL_BUTTON,
        ),
    )


def _progress(form: Form, field: Field, answers: dict[str, Any]) -> str:
    number, section = form.section_of(field.id)
    shown = [f for f in section.fields if form.may_apply(f, answers) or f == field]
    return (
        f"Section {number} of {len(form.sections)}, "
        f"question {shown.index(field) + 1} of {len(shown)}"
    )


def _option_button(label: str, action: str, field: Field, number: int) -> Button:
    """A choice or tick button, "/form choose 2 child_gender": the field's id lets a press on an
    earlier question's button be recognised as stale; a long id is left out rather than go
    over the data limit."""
    data = button_data(FORM_COMMAND, action, f"{number} {field.id}")
    return Button(label, data if fits(data) else button_data(FORM_COMMAND, action, str(number)))


def question_reply(form: Form, field: Field, session: Session) -> Reply:
    """Ask `field`, with its progress, hints, any earlier answer, and its buttons."""
    answers = answers_of(session)
    lines = [_progress(form, field, answers), "", field.prompt]
    buttons: list[Button] = []
    if field.type == "multi_choice":
        picking = set(session.data.get("picking", []))
        lines += [f"{i}. {option}" for i, option in enumerate(field.options, 1)]
        lines.append(
            "Press each option that applies, then Done. Or type their numbers, for example 1, 3."
        )
        buttons += [
            _option_button(("✓ " if option in picking else "") + option, "pick", field, i)
            for i, option in enumerate(field.options, 1)
        ]
        buttons.append(form_button("Done", "done"))
    elif field.options:
        buttons += [_option_button(o, "choose", field, i) for i, o in enumerate(field.options, 1)]
    elif field.type == "date":
        lines.append("Type the date, for example 03/02/2026 or 3 Feb 2026, or today or yesterday.")
    elif field.type == "long_text" and field.max_length:
        least = f"at least {field.min_length} and " if field.min_length else ""
        lines.append(f"Please write {least}up to {field.max_length} characters.")
    if not field.required:
        lines.append("This question is optional: press Skip if you have nothing to add.")
    if field.id in answers:
        lines.append(f"Your answer so far: {show_answer(field, answers[field.id])}")
        buttons.append(form_button("Keep this answer", "keep"))
    if not field.required:
        buttons.append(form_button("Skip", "skip"))
    buttons += [BACK_BUTTON, HELP_BUTTON, CANCEL_BUTTON]
    section = form.section_of(field.id)[1]
    return Reply(
        "\n".join(lines),
        kind="question",
        title=section.title,
        id=field.id,
        buttons=tuple(buttons),
        expects_text=not field.options,
    )


def confirm_reply(form: Form, field: Field, session: Session) -> Reply:
    """Offer a value known beforehand (from sign-in) for confirmation."""
    value = session.data.get("prefill", {}).get(field.id, "")
    section = form.section_of(field.id)[1]
    return Reply(
        f"{_progress(form, field, answers_of(session))}\n\n{field.label}: {value}\nIs this right?",
        kind="confirm",
        title=section.title,
        id=field.id,
        buttons=(
            form_button("Yes", "confirm"),
            form_button("Change", "change"),
            BACK_BUTTON,
            CANCEL_BUTTON,
        ),
    )


def summary_reply(ctx: Context) -> Reply:
    """Every answer by section, with Submit and a way to change any answer."""
    form, session = form_of(ctx), ctx.session
    lines = [
        "Please check your answers. Press Submit to send the notification to the partnership, or "
        "Edit the summary to change an answer."
    ]
    for section, rows in shown_by_section(form, answers_of(session), uk_today()):
        lines += ["", section.title.upper()]
        for field, shown in rows:
            separator = "\n" if "\n" in shown else " "
            lines.append(f"{field.label}:{separator}{shown}")
    return Reply(
        "\n".join(lines),
        kind="summary",
        title="Check your answers",
        buttons=(
            form_button("Submit", "submit", str(session.data.get("draft", ""))),
            form_button("Edit the summary", "edit"),
            BACK_BUTTON,
            CANCEL_BUTTON,
        ),
    )


def edit_choices(ctx: Context) -> Reply:
    form = form_of(ctx)
    answers = answers_of(ctx.session)
    buttons = [form_button(f.label, "edit", f.id) for f in form.fields if form.applies(f, answers)]
    buttons.append(form_button("Back to the summary", "summary"))
    return Reply(
        "Which answer would you like to change?",
        kind="choices",
        buttons=tuple(buttons),
    )


def restart_question(ctx: Context) -> Reply:
    """Starting again deletes the answers: asked first, so a stray press cannot do it."""
    count = len([v for v in answers_of(ctx.session).values() if v is not None])
    return Reply(
        f"Start again? Your {count} saved answers will be deleted.",
        kind="confirm_restart",
        buttons=(
            form_button("Yes, start again", "restart", "yes"),
            form_button("No, continue", "continue"),
        ),
    )


def cancel_question() -> Reply:
    return Reply(
        "Do you want to stop and delete this notification? Your answers so far will be deleted.",
        kind="confirm_cancel",
        buttons=(form_button("Yes, delete it", "discard"), form_button("No, carry on", "resume")),
    )


def already_submitted(reference: str, kind: str = "already_submitted") -> Reply:
    return Reply(
        f"This notification was already submitted. Its reference is {reference}. "
        "Type /status to see whether it has been delivered.",
        kind=kind,
        id=reference,
    )


def render(ctx: Context, step: str) -> list[Reply]:
    """`step` asked (again): after help, a question, a refused answer... The step handlers make
    sure a question's field exists (`notification_steps.again`)."""
    form, session = form_of(ctx), ctx.session
    if step == INTRO:
        return [intro_reply(ctx)]
    if step == CANCEL:
        return [cancel_question()]
    if step == RESUME:
        return [resume_offer(ctx)]
    if step == SUMMARY:
        return [summary_reply(ctx)]
    if step == CHOOSE_EDIT:
        return [edit_choices(ctx)]
    field = field_of(ctx, step)
    assert field is not None, "a question's step is checked before it is rendered"
    if step.startswith(CONFIRM):
        return [confirm_reply(form, field, session)]
    return [question_reply(form, field, session)]
