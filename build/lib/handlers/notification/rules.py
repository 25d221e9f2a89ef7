"""Rules between answers: dates against each other and today, the age against the date of birth.

One place for every cross-field rule, run wherever an answer is given: on the first answer, on
an edit from the summary (`check_answer`), and again at Submit (`problems`), so no order of
answering or editing can store a contradiction. Also the `age` type and derived answers (the
age worked out from the date of birth), shown in the summary, the email and the document.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.notification.answers import (
    Answer,
    AnswerError,
    parse_answer,
    show_answer,
    show_date,
)
from knowledge.form import Field, Form, Section

# A child, or a care leaver up to and including 24 (Working Together 2023): the oldest person
# a notification can be about.
MAX_AGE_YEARS = 24
AGE_EXAMPLE = 'for example 4, "4 years", "about 15" or "6 months"'
_AGE = re.compile(
    r"^(?:about |around |approximately |approx\.? |roughly |c\.? ?)?(\d{1,3})"
    r"(?: ?(years?|yrs?|y|months?|mths?|m|weeks?|wks?|w|days?|d))?(?: old)?$"
)
_UNITS = {"y": "year", "m": "month", "w": "week", "d": "day"}


@dataclass(frozen=True)
class Problem:
    """A broken rule: the field to change and what is wrong, in words for the user."""

    field_id: str
    message: str


def parse_age(text: str) -> str:
    """'4', '4 years', 'about 15', '6 months' -> '4 years', 'about 15 years', '6 months'."""
    typed = " ".join(text.strip().casefold().rstrip(".").split())
    if re.search(r"\d[/.\-]\d", typed) or re.search(r"[a-z]{3,} \d{4}$", typed):
        raise AnswerError(
            f"That looks like a date. Please give the child's age in years, {AGE_EXAMPLE}."
        )
    match = _AGE.match(typed)
    if match is None:
        raise AnswerError(f"Please give the child's age as a number, {AGE_EXAMPLE}.")
    number, unit = int(match[1]), _UNITS[(match[2] or "y")[0]]
    years = {"year": number, "month": number / 12, "week": number / 52, "day": number / 365}[unit]
    if years > MAX_AGE_YEARS:
        raise AnswerError(
            f"{number} {unit}s is older than this form covers: a child, or a care leaver up to "
            f"{MAX_AGE_YEARS}. Please check the age."
        )
    about = "about " if typed.split()[0] in ("about", "around", "approximately", "roughly") else ""
    return f"{about}{number} {unit}{'' if number == 1 else 's'}"


def parse(field: Field, text: str, form: Form, answers: Mapping[str, Any], today: date) -> Answer:
    """The value to store for `text` as the answer to `field`, after every rule; raises
    AnswerError with a message that names the other answer when two disagree."""
    value = parse_age(text) if field.type == "age" else parse_answer(field, text, form, {}, today)
    check_answer(form, field, value, answers, today)
    return value


def check_answer(
    form: Form, field: Field, value: Answer, answers: Mapping[str, Any], today: date
) -> None:
    """Raise AnswerError if `value` as the answer to `field` breaks a rule with another answer."""
    candidate = {**answers, field.id: value}
    for problem in problems(form, candidate, today, about=field.id):
        raise AnswerError(problem.message)


def _date(answers: Mapping[str, Any], field_id: str | None) -> date | None:
    value = answers.get(field_id) if field_id else None
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _name(field: Field) -> str:
    """'the date of the incident': a label inside a sentence."""
    return "the " + field.label[0].lower() + field.label[1:]


def years_between(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def problems(
    form: Form, answers: Mapping[str, Any], today: date, about: str | None = None
) -> list[Problem]:
    """Every broken rule among the answers that apply (only those involving `about`, if given).

    The problem names the field `about` when given (the one just answered), else the later one.
    """
    found: list[Problem] = []
    asked = {f.id: f for f in form.fields if form.applies(f, answers)}
    for field in asked.values():
        if field.type != "date":
            continue
        value = _date(answers, field.id)
        if value is None:
            continue
        if value > today and about in (None, field.id):
            found.append(
                Problem(
                    field.id,
                    f"{show_date(value)} ({_name(field)}) is in the future. Please give a date "
                    f"no later than today, {show_date(today)}.",
                )
            )
        other = asked.get(field.not_before or "")
        limit = _date(answers, other.id) if other else None
        if other is None or limit is None or value >= limit or about not in (None, *_ids(field)):
            continue
        if about == other.id:
            message = (
                f"{show_date(limit)} is after {_name(field)} ({show_date(value)}). "
                f"{_sentence(_name(other))} cannot be later. Please check the date, or change "
                f"{_name(field)} first from the summary."
            )
            found.append(Problem(other.id, message))
        else:
            message = (
                f"{show_date(value)} is before {_name(other)} ({show_date(limit)}). "
                "Please check the date."
            )
            found.append(Problem(field.id, message))
    for field in form.fields:
        if field.type != "age" or not field.derived_from:
            continue
        source = asked.get(field.derived_from)
        born = _date(answers, field.derived_from)
        on = _date(answers, field.age_on) or today
        if source is None or born is None or born > on or about not in (None, *_ids(field)):
            continue
        age = years_between(born, on)
        if age > MAX_AGE_YEARS:
            when = f"on {_name(form.field(field.age_on) or field)}" if field.age_on else "today"
            found.append(
                Problem(
                    about if about is not None and about != field.id else source.id,
                    f"With a date of birth of {show_date(born)} the child was {age} {when}. "
                    f"This form is for a child, or a care leaver up to {MAX_AGE_YEARS}. "
                    "Please check the dates.",
                )
            )
    return found


def _ids(field: Field) -> tuple[str, ...]:
    """The fields a rule of `field` involves."""
    return tuple(i for i in (field.id, field.not_before, field.derived_from, field.age_on) if i)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def derived(form: Form, field: Field, answers: Mapping[str, Any], today: date) -> str | None:
    """A derived answer in words ('11 years (from the date of birth)'), or None."""
    if field.type != "age" or not field.derived_from:
        return None
    born = _date(answers, field.derived_from)
    if born is None:
        return None
    on = _date(answers, field.age_on) or today
    if born > on:
        return None
    years = years_between(born, on)
    if years == 0:
        months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
        shown = f"{months} month{'' if months == 1 else 's'}"
    else:
        shown = f"{years} year{'' if years == 1 else 's'}"
    source = form.field(field.derived_from)
    return f"{shown} (worked out from {_name(source) if source else 'the date of birth'})"


def shown_by_section(
    form: Form, answers: Mapping[str, Any], today: date
) -> list[tuple[Section, list[tuple[Field, str]]]]:
    """Each field that applies with its answer shown, and each derived answer, by section: what
    the summary, the email and the document show."""
    grouped = []
    for section in form.sections:
        rows = []
        for f in section.fields:
            if form.applies(f, answers):
                rows.append((f, show_answer(f, answers.get(f.id))))
            elif (worked_out := derived(form, f, answers, today)) is not None:
                rows.append((f, worked_out))
        if rows:
            grouped.append((section, rows))
    return grouped
