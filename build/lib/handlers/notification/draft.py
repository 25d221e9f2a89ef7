"""The notification draft's state: its step names and what `session.data` holds.

    draft        random id made when the draft starts; Submit is idempotent on it
    answers      field id -> stored value (None: skipped)
    prefill      field id -> value known beforehand, offered for confirmation
    picking      the options ticked so far at a multi_choice question
    return_to    the step to go back to if the user declines to cancel
    resume_from  the step to go back to when the user presses Continue at the resume offer
    submitted    draft id -> reference of the drafts this chat submitted, kept after the flow
                 ends so that a stale Submit button is answered with the reference

Steps (`session.step`) are in handlers/notification/flow.py's table; a question's step carries the
field it asks ("ask:child_dob", "confirm:agency").
"""

from __future__ import annotations

import time
from typing import Any

from bot.core.conversation import Context
from bot.core.lifetimes import NOTIFY_FLOW
from bot.storage.records import Session
from knowledge.form import Field, Form

FLOW_NAME = NOTIFY_FLOW
# The form's buttons send "/form <action> [arg]"; the flow claims /form while it runs.
FORM_COMMAND = "/form"
DAY = 86400.0
KEEP_SUBMITTED = 5  # how many submitted drafts a chat remembers for stale Submit buttons
# Someone typing into a draft after this long a break is first told where they were.
RESUME_AFTER_SECONDS = 3600.0

INTRO, SUMMARY, CHOOSE_EDIT, CANCEL, RESUME = "intro", "summary", "edit", "cancel", "resume"
ASK, CONFIRM = "ask:", "confirm:"  # followed by the field's id


def kind_of(step: str) -> str:
    """The step without its field: 'ask:child_dob' -> 'ask:', 'summary' -> 'summary'."""
    head, colon, _ = step.partition(":")
    return head + colon


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


def field_of(ctx: Context, step: str) -> Field | None:
    """The field a question's step asks; None for other steps, or a field the form lost."""
    field_id = step.partition(":")[2]
    return form_of(ctx).field(field_id) if field_id else None


def answers_of(session: Session) -> dict[str, Any]:
    answers: dict[str, Any] = session.data.setdefault("answers", {})
    return answers


def submitted_of(session: Session) -> dict[str, str]:
    submitted = session.data.get("submitted")
    return submitted if isinstance(submitted, dict) else {}


def idle_too_long(ctx: Context) -> bool:
    updated = ctx.session.updated_at
    limit = ctx.settings.retention.draft_days * DAY
    return bool(updated) and time.time() - updated > limit


def back_after_a_break(ctx: Context, step: str) -> bool:
    """Typing into a draft after a break: the user may not remember where they were."""
    updated = ctx.session.updated_at
    return (
        not ctx.incoming.pressed
        and step not in (INTRO, RESUME)
        and bool(ctx.session.data.get("draft"))
        and bool(updated)
        and time.time() - updated > RESUME_AFTER_SECONDS
    )


def drop_draft(session: Session) -> None:
    """End the flow and forget the draft, remembering only which drafts were submitted."""
    submitted = submitted_of(session)
    session.reset()
    if submitted:
        session.data = {"submitted": submitted}


def prune(form: Form, answers: dict[str, Any]) -> None:
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


def first_gap(form: Form, answers: dict[str, Any]) -> Field | None:
    return next((f for f in form.fields if f.id not in answers and form.applies(f, answers)), None)
