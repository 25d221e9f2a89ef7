"""The notification form (knowledge/notification_form.yaml) -> a validated, frozen `Form`.

A board edits the form without touching code, so everything the /notify conversation relies on
is checked here, once, at start-up: known field types, choices exactly where they make sense,
`when` pointing at EARLIER fields (the conversation asks in order, so a later field's answer
cannot exist yet), `not_before` pointing at another date field (checked whichever of the two
is answered last: handlers/notification/rules.py), sane length limits and unique ids. Each problem
is recorded in the shared `Problems` as `notification_form.yaml: <field id>: <key>: <what is
wrong>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.validation import EntryReader, Problems, check_unique_ids, load_yaml

FILE = "notification_form.yaml"

TEXT_TYPES = ("text", "long_text", "email", "phone")
CHOICE_TYPES = ("choice", "multi_choice")
# "age": how old the child is, typed as "4", "4 years" or "6 months" (never a date).
FIELD_TYPES = (*TEXT_TYPES, "date", "age", *CHOICE_TYPES, "yes_no")
# How the child is identified (setting form.identify_child). A field with `identity: full` is
# asked only when the partnership has chosen to collect the full name and address.
IDENTITIES = ("initials", "full")
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
# Fields the conversation itself relies on: the notification is stored under the agency. A
# board may reword it, but not remove it or make it optional. (The copy of the email goes to the
# signed-in SLO's registered address, never to an address typed in the form.)
REQUIRED_FIELDS = {"agency": "text"}
# Subjects show in inbox lists and phone notifications: they may name what kind of incident it
# is, never the child, so these types (free text about the child or events) are refused there.
SUBJECT_TYPES = ("text", "choice", "yes_no")
SUBJECT_TEXT_MAX = 60

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
    "identity",
    "short",
    "derived_from",
    "age_on",
}


@dataclass(frozen=True)
class Field:
    """One question of the form. `when` holds (earlier field id, values) pairs that must all
    hold: the earlier answer is one of the values (None among them: the question was skipped)."""

    id: str
    label: str  # short name for the summary and the email
    prompt: str
    help: str
    type: str
    required: bool
    choices: tuple[str, ...] = ()
    when: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    not_before: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    identity: str | None = None  # asked only when form.identify_child is this
    short: tuple[tuple[str, str], ...] = ()  # choice -> its words in the email's subject
    # An age field: worked out from this date of birth when it is given (and then not asked),
    # as on the date answered to `age_on` (default: today).
    derived_from: str | None = None
    age_on: str | None = None

    def short_of(self, answer: str) -> str:
        """How `answer` reads in the subject: its `short` phrase, else the answer itself."""
        return dict(self.short).get(answer, answer)

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
    subject: tuple[str, ...] = ()  # field ids whose answers make the email's subject

    def with_identity(self, identity: str) -> Form:
        """The form as asked under form.identify_child = `identity`: the other mode's fields out."""
        sections = []
        for section in self.sections:
            kept = tuple(f for f in section.fields if f.identity in (None, identity))
            if kept:
                sections.append(Section(section.id, section.title, kept))
        return Form(self.title, self.intro, tuple(sections), self.subject)

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
        """Whether `field` is asked, given the answers so far (every `when` pair must hold, and
        a derived field is asked only when what it is derived from was not given)."""
        if field.derived_from and answers.get(field.derived_from):
            return False
        return all(_matches(answers.get(other), value) for other, value in field.when)

    def may_apply(self, field: Field, answers: Mapping[str, Any]) -> bool:
        """Like `applies`, but an unanswered condition counts as possible (for progress counts)."""
        if field.derived_from and answers.get(field.derived_from):
            return False
        return all(
            other not in answers or _matches(answers[other], value) for other, value in field.when
        )


def _matches(answer: Any, values: tuple[str | None, ...]) -> bool:
    if answer is None or answer == [] or answer == "":
        return None in values
    if isinstance(answer, list):
        return any(v in answer for v in values)
    return answer in values


def _read_when(
    r: EntryReader, earlier: Mapping[str, Field]
) -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    raw = r.raw.get("when")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        r.add("when", 'expected a mapping such as {dsl_consulted: "Yes"}')
        return ()
    pairs = []
    for other, wanted in raw.items():
        target = earlier.get(str(other))
        values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        if target is None:
            r.add("when", f"refers to {other!r}, which is not an earlier field")
            continue
        ok = True
        for value in values:
            if value is None:
                # "Asked only when that question was skipped", e.g. the age when no birth date.
                if target.required:
                    r.add("when", f"{other!r} is required, so it is never skipped (null)")
                    ok = False
            elif not target.options:
                r.add(
                    "when",
                    f"refers to {other!r}, a {target.type} field: use a choice or yes_no, "
                    "or null (skipped)",
                )
                ok = False
            elif value not in target.options:
                r.add(
                    "when",
                    f"{value!r} is not a value of {other!r} (one of: {', '.join(target.options)})",
                )
                ok = False
        if ok:
            pairs.append((str(other), tuple(None if v is None else str(v) for v in values)))
    return tuple(pairs)


def _read_short(r: EntryReader, choices: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    raw = r.raw.get("short")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not choices:
        r.add("short", "expected a mapping of this field's choices to short phrases")
        return ()
    pairs = []
    for choice, phrase in raw.items():
        if choice not in choices:
            r.add("short", f"{choice!r} is not one of the choices")
        elif not isinstance(phrase, str) or not phrase.strip() or len(phrase) > SUBJECT_TEXT_MAX:
            r.add("short", f"{choice!r}: give a phrase of at most {SUBJECT_TEXT_MAX} characters")
        else:
            pairs.append((str(choice), " ".join(phrase.split())))
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


def _read_not_before(r: EntryReader, field_type: str) -> str | None:
    """The raw id; whether it names another date field is checked once every field is read."""
    other = r.text("not_before", required=False)
    if not other:
        return None
    if field_type != "date":
        r.add("not_before", "only date fields have not_before")
        return None
    return other


def _check_age_keys(fields: Mapping[str, Field], problems: Problems) -> None:
    for field in fields.values():
        for key in ("derived_from", "age_on"):
            other = getattr(field, key)
            if other is None:
                continue
            target = fields.get(other)
            if field.type != "age":
                problems.add(FILE, field.id, key, "only age fields have " + key)
            elif target is None or target.type != "date":
                problems.add(FILE, field.id, key, f"{other!r} is not a date field")
        if field.derived_from:
            source = fields.get(field.derived_from)
            order = list(fields)
            if source is not None and order.index(source.id) > order.index(field.id):
                problems.add(FILE, field.id, "derived_from", "must name an earlier field")
            if source is not None and source.required:
                problems.add(
                    FILE,
                    field.id,
                    "derived_from",
                    f"{source.id!r} is required, so this field would never be asked",
                )


def _check_not_before(fields: Mapping[str, Field], problems: Problems) -> None:
    # Any other date field, earlier or later: the rule is checked when the second is answered.
    for field in fields.values():
        if field.not_before is None:
            continue
        target = fields.get(field.not_before)
        if target is None or target.type != "date" or target.id == field.id:
            problems.add(
                FILE, field.id, "not_before", f"{field.not_before!r} is not another date field"
            )


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
    identity = r.text("identity", required=False) or None
    if identity is not None and identity not in IDENTITIES:
        r.add("identity", f"must be one of: {', '.join(IDENTITIES)}")
        identity = None
    choices = _read_choices(r, field_type)
    return Field(
        id=r.id,
        label=r.text("label", required=False, max_length=60) or prompt,
        prompt=prompt,
        help=r.text("help", max_length=600),
        type=field_type,
        required=r.flag("required", False),
        choices=choices,
        when=_read_when(r, earlier),
        not_before=_read_not_before(r, field_type),
        min_length=min_length,
        max_length=max_length,
        identity=identity,
        short=_read_short(r, choices),
        derived_from=r.text("derived_from", required=False) or None,
        age_on=r.text("age_on", required=False) or None,
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


def _read_subject(raw: Any, fields: Mapping[str, Field], problems: Problems) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        problems.add(FILE, "-", "subject", "expected a list of field ids")
        return ()
    ids = []
    for field_id in raw:
        field = fields.get(field_id)
        if field is None:
            problems.add(FILE, "-", "subject", f"{field_id!r} is not a field")
        elif field.identity is not None or field.type not in SUBJECT_TYPES:
            problems.add(
                FILE,
                "-",
                "subject",
                f"{field_id!r} cannot be in the subject: only {', '.join(SUBJECT_TYPES)} fields "
                "that do not identify the child",
            )
        else:
            ids.append(field_id)
    return tuple(ids)


def load_form(directory: Path, problems: Problems, names: Mapping[str, str] | None = None) -> Form:
    """Read and check the form; every problem goes to `problems` and a usable Form comes back."""
    data = load_yaml(directory / FILE, problems, names)
    if not isinstance(data, dict):
        if data is not None:
            problems.add(FILE, "-", "-", "expected a mapping with title, intro and sections")
        return Form("", "", ())
    for key in data:
        if key not in ("title", "intro", "sections", "subject"):
            problems.add(
                FILE, "-", str(key), "unknown field (allowed: intro, sections, subject, title)"
            )
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
    _check_not_before(fields, problems)
    _check_age_keys(fields, problems)
    return Form(
        str(top["title"] or "").strip(),
        str(top["intro"] or "").strip(),
        tuple(sections),
        _read_subject(data.get("subject"), fields, problems),
    )
