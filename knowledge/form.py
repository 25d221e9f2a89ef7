"""The notification form (knowledge/notification_form.yaml) -> a validated, frozen `Form`.

A board edits the form without touching code, so everything the /notify conversation relies on
is checked here, once, at start-up: known field types, choices exactly where they make sense,
`when` and `not_before` pointing at EARLIER fields (the conversation asks in order, so a later
field's answer cannot exist yet), sane length limits and unique ids. Each problem is recorded in
the shared `Problems` as `notification_form.yaml: <field id>: <key>: <what is wrong>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.validation import EntryReader, Problems, check_unique_ids, load_yaml

FILE = "notification_form.yaml"

TEXT_TYPES = ("text", "long_text", "email", "phone")
CHOICE_TYPES = ("choice", "multi_choice")
FIELD_TYPES = (*TEXT_TYPES, "date", *CHOICE_TYPES, "yes_no")
YES_NO = ("Yes", "No")

# Without an explicit max_length a text answer is still bounded, so nobody pastes a whole case
# file into a chat. 254 is the longest valid email address; a phone number never needs 30.
DEFAULT_MAX_LENGTH = {"text": 200, "long_text": 3000, "email": 254, "phone": 30}
# One answer must fit a Telegram message (4096) with its label.
LENGTH_CEILING = 4000
# Choice labels are button labels and, when short enough, button data: Telegram accepts at most
# 64 bytes of data, and a longer label is unreadable on a phone anyway.
CHOICE_LABEL_MAX = 60
# Words the conversation reads as commands at every question, so no option may be one of them.
RESERVED_WORDS = frozenset(("back", "skip", "help", "cancel", "done", "keep"))
# Fields the conversation itself relies on: the subject names the agency, and the email is
# copied to the SLO. A board may reword them, but not remove them or make them optional.
REQUIRED_FIELDS = {"agency": "text", "slo_email": "email"}

FIELD_KEYS = {
    "id",
    "label",
    "prompt",
    "help",
    "type",
    "required",
    "choices",
    "when",
    "not_before",
    "min_length",
    "max_length",
}


@dataclass(frozen=True)
class Field:
    """One question of the form. `when` holds (earlier field id, value) pairs that must all hold."""

    id: str
    label: str  # short name for the summary and the email
    prompt: str
    help: str
    type: str
    required: bool
    choices: tuple[str, ...] = ()
    when: tuple[tuple[str, str], ...] = ()
    not_before: str | None = None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """What the user can choose from: the choices, Yes/No, or nothing for typed answers."""
        return YES_NO if self.type == "yes_no" else self.choices


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Form:
    title: str
    intro: str
    sections: tuple[Section, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field, in the order they are asked."""
        return tuple(f for s in self.sections for f in s.fields)

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def section_of(self, field_id: str) -> tuple[int, Section]:
        """The 1-based number and the section holding `field_id` (which must exist)."""
        for number, section in enumerate(self.sections, 1):
            if any(f.id == field_id for f in section.fields):
                return number, section
        raise KeyError(field_id)

    def applies(self, field: Field, answers: Mapping[str, Any]) -> bool:
        """Whether `field` is asked, given the answers so far (every `when` pair must hold)."""
        return all(_matches(answers.get(other), value) for other, value in field.when)

    def may_apply(self, field: Field, answers: Mapping[str, Any]) -> bool:
        """Like `applies`, but an unanswered condition counts as possible (for progress counts)."""
        return all(
            other not in answers or _matches(answers[other], value) for other, value in field.when
        )


def _matches(answer: Any, value: str) -> bool:
    if isinstance(answer, list):
        return value in answer
    return bool(answer == value)


def _read_when(r: EntryReader, earlier: Mapping[str, Field]) -> tuple[tuple[str, str], ...]:
    raw = r.raw.get("when")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        r.add("when", 'expected a mapping such as {dsl_consulted: "Yes"}')
        return ()
    pairs = []
    for other, value in raw.items():
        target = earlier.get(str(other))
        if target is None:
            r.add("when", f"refers to {other!r}, which is not an earlier field")
        elif not target.options:
            r.add("when", f"refers to {other!r}, a {target.type} field: use a choice or yes_no")
        elif value not in target.options:
            r.add(
                "when",
                f"{value!r} is not a value of {other!r} (one of: {', '.join(target.options)})",
            )
        else:
            pairs.append((str(other), str(value)))
    return tuple(pairs)


def _read_choices(r: EntryReader, field_type: str) -> tuple[str, ...]:
    if field_type not in CHOICE_TYPES:
        if "choices" in r.raw:
            r.add("choices", "only choice and multi_choice fields have choices")
        return ()
    choices = r.texts("choices", required=True)
    if "choices" in r.raw and len(choices) < 2:
        r.add("choices", "give at least two choices")
    seen: set[str] = set()
    for choice in choices:
        folded = choice.casefold()
        if folded in seen:
            r.add("choices", f"{choice!r} is listed twice")
        seen.add(folded)
        if len(choice) > CHOICE_LABEL_MAX:
            r.add("choices", f"{choice!r} is too long for a button (at most {CHOICE_LABEL_MAX})")
        if folded in RESERVED_WORDS or choice.isdigit():
            r.add("choices", f"{choice!r} would be read as a command or a number; reword it")
        if field_type == "multi_choice" and ("," in choice or ";" in choice):
            # Several options can be typed as a comma-separated list.
            r.add("choices", f"{choice!r}: a multi_choice option cannot contain , or ;")
    return choices


def _read_lengths(r: EntryReader, field_type: str) -> tuple[int | None, int | None]:
    min_length, max_length = r.integer("min_length"), r.integer("max_length")
    if field_type not in TEXT_TYPES:
        for key in ("min_length", "max_length"):
            if key in r.raw:
                r.add(key, f"only {', '.join(TEXT_TYPES)} fields have length limits")
        return None, None
    if min_length is not None and min_length < 1:
        r.add("min_length", "must be at least 1")
        min_length = None
    if max_length is not None and not 1 <= max_length <= LENGTH_CEILING:
        r.add("max_length", f"must be between 1 and {LENGTH_CEILING}")
        max_length = None
    if max_length is None:
        max_length = DEFAULT_MAX_LENGTH.get(field_type)
    if min_length is not None and max_length is not None and min_length > max_length:
        r.add("min_length", f"{min_length} is more than max_length {max_length}")
        min_length = None
    return min_length, max_length


def _read_not_before(r: EntryReader, field_type: str, earlier: Mapping[str, Field]) -> str | None:
    other = r.text("not_before", required=False)
    if not other:
        return None
    if field_type != "date":
        r.add("not_before", "only date fields have not_before")
        return None
    target = earlier.get(other)
    if target is None or target.type != "date":
        r.add("not_before", f"{other!r} is not an earlier date field")
        return None
    return other


def _read_field(
    problems: Problems, raw: dict[str, Any], index: int, earlier: Mapping[str, Field]
) -> Field:
    r = EntryReader(problems, FILE, raw, FIELD_KEYS, index)
    field_type = r.text("type")
    if field_type and field_type not in FIELD_TYPES:
        r.add("type", f"unknown type {field_type!r} (one of: {', '.join(FIELD_TYPES)})")
    if "required" not in raw:
        r.add("required", "missing: say true or false")
    prompt = r.text("prompt", max_length=300)
    min_length, max_length = _read_lengths(r, field_type)
    return Field(
        id=r.id,
        label=r.text("label", required=False, max_length=60) or prompt,
        prompt=prompt,
        help=r.text("help", max_length=600),
        type=field_type,
        required=r.flag("required", False),
        choices=_read_choices(r, field_type),
        when=_read_when(r, earlier),
        not_before=_read_not_before(r, field_type, earlier),
        min_length=min_length,
        max_length=max_length,
    )


def _check_required_fields(fields: Mapping[str, Field], problems: Problems) -> None:
    for field_id, field_type in REQUIRED_FIELDS.items():
        field = fields.get(field_id)
        if field is None:
            problems.add(FILE, field_id, "id", f"missing: the form needs a {field_type} field")
        elif field.type != field_type or not field.required or field.when:
            problems.add(
                FILE,
                field_id,
                "type",
                f"must be a required {field_type} field asked every time (the email uses it)",
            )


def load_form(directory: Path, problems: Problems) -> Form:
    """Read and check the form; every problem goes to `problems` and a usable Form comes back."""
    data = load_yaml(directory / FILE, problems)
    if not isinstance(data, dict):
        if data is not None:
            problems.add(FILE, "-", "-", "expected a mapping with title, intro and sections")
        return Form("", "", ())
    for key in data:
        if key not in ("title", "intro", "sections"):
            problems.add(FILE, "-", str(key), "unknown field (allowed: intro, sections, title)")
    top = {"title": data.get("title"), "intro": data.get("intro")}
    for key, value in top.items():
        if not isinstance(value, str) or not value.strip():
            problems.add(FILE, "-", key, "missing")
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        problems.add(FILE, "-", "sections", "expected a list of sections")
        raw_sections = []
    sections: list[Section] = []
    fields: dict[str, Field] = {}  # every field read so far: the "earlier" ones
    field_ids: list[str] = []
    section_ids: list[str] = []
    index = 0
    for s, raw_section in enumerate(raw_sections, 1):
        if not isinstance(raw_section, dict):
            problems.add(FILE, f"section #{s}", "-", "expected a mapping with id, title, fields")
            continue
        r = EntryReader(problems, FILE, raw_section, {"id", "title", "fields"}, s)
        title = r.text("title", max_length=80)
        raw_fields = raw_section.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            r.add("fields", "expected a list of fields")
            raw_fields = []
        section_fields: list[Field] = []
        for raw in raw_fields:
            index += 1
            if not isinstance(raw, dict):
                problems.add(FILE, f"#{index}", "-", "expected a mapping with id, prompt...")
                continue
            field = _read_field(problems, raw, index, fields)
            section_fields.append(field)
            field_ids.append(field.id)
            fields.setdefault(field.id, field)
        sections.append(Section(r.id, title, tuple(section_fields)))
        section_ids.append(r.id)
    # Answers are stored by field id, so two fields with one id would overwrite each other.
    check_unique_ids(field_ids, FILE, problems)
    check_unique_ids(section_ids, FILE, problems)
    _check_required_fields(fields, problems)
    return Form(str(top["title"] or "").strip(), str(top["intro"] or "").strip(), tuple(sections))
