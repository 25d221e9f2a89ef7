"""Checking and showing form answers: pure functions, no I/O, so every rule is easy to test.

`parse_answer` turns what the user typed into the value stored in the draft, or raises
`AnswerError` whose message says exactly what is wrong and how to put it right. Stored values
are plain JSON: text, a date as "YYYY-MM-DD", a choice label, a list of labels (multi_choice),
or None for a skipped question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import controls
from bot.core.controls import fold
from bot.core.numbers import is_ascii_digits, pick_number
from bot.mail.message import BROKEN_TEXT, CONTROL_CHARACTERS
from config.addresses import email_problem, phone_problem
from knowledge.form import Field, Form

Answer = str | list[str] | None

UK = ZoneInfo("Europe/London")
MONTHS = (
    "january february march april may june july august september october november december"
).split()
DATE_EXAMPLE = "for example 03/02/2026 or 3 Feb 2026, or type today or yesterday"
NOT_GIVEN = "Not given"

# [0-9], not \d: \d also matches digits of other scripts, which are not what a date means here.
_NUMERIC = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4}|[0-9]{2})$")
_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_NAMED = re.compile(
    r"^([0-9]{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+([0-9]{4}|[0-9]{2})$"
)


class AnswerError(ValueError):
    """An answer that cannot be accepted; `message` is shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def uk_today() -> date:
    """Today in England: a server on UTC would otherwise call a late-evening date tomorrow's."""
    return datetime.now(UK).date()


def show_date(value: date) -> str:
    return f"{value.day} {MONTHS[value.month - 1].capitalize()} {value.year}"


def show_moment(when: datetime) -> str:
    """'3 February 2026 at 14:05'."""
    return f"{show_date(when.date())} at {when:%H:%M}"


def show_days(value: float) -> str:
    """'1 day', '7 days', '0.5 days'."""
    return f"{value:g} day" + ("" if value == 1 else "s")


def _month(word: str) -> int | None:
    if len(word) < 3:
        return None
    return next((i for i, name in enumerate(MONTHS, 1) if name.startswith(word)), None)


def _full_year(year: str, today: date) -> int:
    """ "26" -> 2026; a two-digit year that would be in the future is last century's ("98")."""
    if len(year) == 4:
        return int(year)
    full = 2000 + int(year)
    return full if full <= today.year else full - 100


def _make_date(year: int, month: int, day: int, typed: str) -> date:
    if not 1 <= month <= 12:
        if 1 <= day <= 12 and 1 <= month <= 31:
            raise AnswerError(
                f"There is no month {month}. Please put the day first: did you mean "
                f"{month:02d}/{day:02d}/{year}?"
            )
        raise AnswerError(f"There is no month {month}. Please check {typed!r} (day first).")
    try:
        return date(year, month, day)
    except ValueError:
        raise AnswerError(
            f"There is no {day} {MONTHS[month - 1].capitalize()} {year}. "
            "Please check the day and month."
        ) from None


def parse_date(text: str, today: date) -> date:
    """A UK-style date, day first: 03/02/2026, 3/2/26, 3 Feb 2026, 2026-02-03, today, yesterday."""
    typed = " ".join(text.strip().casefold().split())
    if typed == "today":
        return today
    if typed == "yesterday":
        return today - timedelta(days=1)
    if typed == "tomorrow":  # parsed so that the answer is "in the future", not "not a date"
        return today + timedelta(days=1)
    if match := _ISO.match(typed):
        year, month, day = (int(g) for g in match.groups())
        return _make_date(year, month, day, text.strip())
    if match := _NUMERIC.match(typed):
        day, month = int(match[1]), int(match[2])
        return _make_date(_full_year(match[3], today), month, day, text.strip())
    if match := _NAMED.match(typed):
        month_number = _month(match[2])
        if month_number is None:
            raise AnswerError(
                f"I don't know the month {match[2]!r}. Please type it like 3 Feb 2026."
            )
        return _make_date(_full_year(match[3], today), month_number, int(match[1]), text.strip())
    raise AnswerError(f"Please give a date as day, month and year, {DATE_EXAMPLE}.")


def check_date(field: Field, text: str, form: Form, answers: Mapping[str, Any], today: date) -> str:
    """A valid date, not in the future and not before the `not_before` field's answer."""
    value = parse_date(text, today)
    if value.year < 1900:
        raise AnswerError(f"The year {value.year} looks wrong. Please check it.")
    if value > today:
        raise AnswerError(
            f"{show_date(value)} is in the future. Please give a date no later than today, "
            f"{show_date(today)}."
        )
    earlier = answers.get(field.not_before) if field.not_before else None
    if isinstance(earlier, str):
        limit = date.fromisoformat(earlier)
        if value < limit:
            other = form.field(field.not_before or "")
            name = other.label[0].lower() + other.label[1:] if other else "earlier date"
            raise AnswerError(
                f"{show_date(value)} is before the {name} ({show_date(limit)}). "
                "Please check the date."
            )
    return value.isoformat()


def check_email(text: str) -> str:
    """One address mail can be sent to (config/addresses.py has the rule)."""
    problem = email_problem(text)
    if problem:
        raise AnswerError(problem)
    return text.strip()


def check_phone(text: str) -> str:
    """A UK number (config/addresses.py has the rule), its spaces tidied."""
    problem = phone_problem(text)
    if problem:
        raise AnswerError(problem)
    return " ".join(text.split())


def check_length(field: Field, value: str) -> str:
    if field.min_length is not None and len(value) < field.min_length:
        raise AnswerError(
            f"That's too short ({len(value)} characters). Please give at least "
            f"{field.min_length} characters."
        )
    if field.max_length is not None and len(value) > field.max_length:
        raise AnswerError(
            f"That's too long: {len(value)} characters, and the limit is {field.max_length}. "
            "Please shorten it."
        )
    return value


def pick_choice(field: Field, text: str) -> str | None:
    """The option meant by `text` (its label, any case, or its number), else None."""
    typed = fold(text)
    options = field.options
    number = pick_number(typed, len(options))
    if number is not None:
        return options[number - 1]
    if field.type == "yes_no":
        if typed in controls.YES:
            return "Yes"
        if typed in controls.NO:
            return "No"
    return next((o for o in options if fold(o) == typed), None)


def pick_choices(field: Field, text: str) -> list[str]:
    """Options typed as "1, 3", "1 3" or "Child in need; Looked after child", in form order."""
    words = text.split()
    if len(words) > 1 and all(is_ascii_digits(w) for w in words):
        parts = words
    else:
        parts = [p for p in re.split(r"[,;]", text) if p.strip()]
    chosen: set[str] = set()
    for part in parts:
        option = pick_choice(field, part)
        if option is None:
            raise AnswerError(
                f"Please choose one of the options: {part.strip()!r} is not one of them. Press "
                "each option that applies, then Done, or type their numbers, for example 1, 3."
            )
        chosen.add(option)
    if not chosen:
        raise AnswerError("Please choose at least one of the options, then press Done.")
    return [o for o in field.options if o in chosen]


def check_sendable(text: str) -> None:
    """Refuse text the board's email could not carry, whatever the channel it came from."""
    if BROKEN_TEXT.search(text):
        raise AnswerError(
            "Part of that answer could not be read: it has a broken character, which can happen "
            "when text is pasted from another program or typed in a terminal set to another "
            "language. Please type the answer again."
        )
    if CONTROL_CHARACTERS.search(text):
        raise AnswerError(
            "That answer has an invisible control character that cannot be emailed. Please "
            "type it again, or paste it as plain text."
        )


def parse_answer(
    field: Field, text: str, form: Form, answers: Mapping[str, Any], today: date
) -> Answer:
    """The value to store for `text` typed in answer to `field`; raises AnswerError."""
    check_sendable(text)
    if field.type == "date":
        return check_date(field, text, form, answers, today)
    if field.type in ("choice", "yes_no"):
        option = pick_choice(field, text)
        if option is None:
            raise AnswerError(f"Please choose one of the options: {', '.join(field.options)}.")
        return option
    if field.type == "multi_choice":
        return pick_choices(field, text)
    if field.type == "long_text":
        # Keep the writer's paragraphs; only trim each line.
        value = "\n".join(line.strip() for line in text.strip().splitlines())
    else:
        value = " ".join(text.split())
    value = check_length(field, value)
    if field.type == "email":
        return check_email(value)
    if field.type == "phone":
        return check_phone(value)
    return value


def show_answer(field: Field, value: Any) -> str:
    """An answer as people read it: dates in words, options joined, "Not given" when skipped."""
    if value is None or value == [] or value == "":
        return NOT_GIVEN
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field.type == "date":
        try:
            return show_date(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)
