"""The notification form as data (knowledge/form.py) and the answer rules (handlers/answers.py):
the shipped form is valid, a bad form is reported field by field, and each kind of answer is
accepted in its usual forms and refused with a message that says what to fix."""

from __future__ import annotations

import shutil
from datetime import date
from email.headerregistry import Address
from pathlib import Path

import pytest
import yaml

from config.settings import ROOT
from handlers.answers import AnswerError, parse_answer, parse_date, show_answer
from knowledge.form import Field, Form, load_form
from knowledge.loader import load_knowledge
from knowledge.validation import KnowledgeError, Problems

TODAY = date(2026, 3, 15)
SHIPPED = ROOT / "knowledge"


def shipped_form() -> Form:
    problems = Problems()
    form = load_form(SHIPPED, problems)
    assert problems.items == []
    return form


def field(field_id: str) -> Field:
    found = shipped_form().field(field_id)
    assert found is not None
    return found


# --- the form file ----------------------------------------------------------------------------


def test_shipped_form_covers_the_issue() -> None:
    form = shipped_form()
    ids = {f.id for f in form.fields}
    assert {
        "agency",
        "slo_name",
        "slo_role",
        "slo_phone",
        "slo_email",
        "dsl_consulted",
        "dsl_name",
        "child_name",
        "child_dob",
        "child_age",
        "child_gender",
        "child_ethnicity",
        "child_address",
        "legal_status",
        "incident_date",
        "aware_date",
        "incident_type",
        "abuse_neglect",
        "summary",
        "other_agencies",
        "reasons",
        "recommended_action",
        "records_secured",
    } <= ids
    assert len(form.sections) == 5
    assert field("dsl_name").when == (("dsl_consulted", "Yes"),)
    assert field("aware_date").not_before == "incident_date"
    assert "Small scale audit such as SILP" in field("recommended_action").options
    assert all(f.help and f.label for f in form.fields)


def broken_knowledge(tmp_path: Path, sections: list[dict[str, object]]) -> list[str]:
    """Load the shipped knowledge with `sections` as the form; returns the problems."""
    directory = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, directory)
    data = yaml.safe_load((SHIPPED / "notification_form.yaml").read_text(encoding="utf-8"))
    data["sections"] = sections
    (directory / "notification_form.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return caught.value.problems


def text_field(field_id: str, **more: object) -> dict[str, object]:
    return {"id": field_id, "prompt": "Q?", "help": "H.", "type": "text", "required": True, **more}


def test_bad_form_names_file_field_and_key(tmp_path: Path) -> None:
    problems = broken_knowledge(
        tmp_path,
        [
            {
                "id": "one",
                "title": "One",
                "fields": [
                    text_field("agency"),
                    text_field("slo_email", type="email"),
                    text_field("kind", type="choice"),
                    text_field("colour", type="colour"),
                    text_field("name", choices=["A", "B"]),
                    text_field("yn", type="yes_no"),
                    text_field("later", when={"after": "Yes"}),
                    text_field("maybe", when={"yn": "Maybe"}),
                    text_field("by_text", when={"name": "x"}),
                    text_field("day", type="date", not_before="name"),
                    text_field("day2", type="text", not_before="day"),
                    text_field("lengths", min_length=50, max_length=10),
                    text_field("huge", max_length=100000),
                    text_field("dated", type="date", max_length=10),
                    text_field("opts", type="multi_choice", choices=["a, b", "Back", "c"]),
                    text_field("twice", type="choice", choices=["Same", "same"]),
                    text_field("name"),
                    text_field("after", type="yes_no"),
                    {"id": "bare", "prompt": "Q?", "help": "H.", "type": "text"},
                ],
            }
        ],
    )
    expected = [
        "notification_form.yaml: kind: choices: missing",
        "notification_form.yaml: colour: type: unknown type 'colour'",
        "notification_form.yaml: name: choices: only choice and multi_choice fields have choices",
        "notification_form.yaml: later: when: refers to 'after', which is not an earlier field",
        "notification_form.yaml: maybe: when: 'Maybe' is not a value of 'yn' (one of: Yes, No)",
        "notification_form.yaml: by_text: when: refers to 'name', a text field",
        "notification_form.yaml: day: not_before: 'name' is not an earlier date field",
        "notification_form.yaml: day2: not_before: only date fields have not_before",
        "notification_form.yaml: lengths: min_length: 50 is more than max_length 10",
        "notification_form.yaml: huge: max_length: must be between 1 and 4000",
        "notification_form.yaml: dated: max_length: only text, long_text, email, phone fields",
        "notification_form.yaml: opts: choices: 'a, b': a multi_choice option cannot contain",
        "notification_form.yaml: opts: choices: 'Back' would be read as a command",
        "notification_form.yaml: twice: choices: 'same' is listed twice",
        "notification_form.yaml: name: id: duplicate id",
        "notification_form.yaml: bare: required: missing",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)


def test_form_needs_agency_and_slo_email(tmp_path: Path) -> None:
    problems = broken_knowledge(
        tmp_path,
        [{"id": "one", "title": "One", "fields": [text_field("agency", required=False)]}],
    )
    assert any(
        p.startswith("notification_form.yaml: agency: type: must be a required") for p in problems
    )
    assert (
        "notification_form.yaml: slo_email: id: missing: the form needs a email field" in problems
    )


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "03/02/2026",
        "3/2/26",
        "3.2.2026",
        "3 Feb 2026",
        "3 February 2026",
        "3rd of feb 2026",
        "2026-02-03",
        "  3  FEB  2026 ",
    ],
)
def test_uk_dates_are_read_day_first(typed: str) -> None:
    assert parse_date(typed, TODAY) == date(2026, 2, 3)


def test_today_yesterday_and_two_digit_years() -> None:
    assert parse_date("today", TODAY) == TODAY
    assert parse_date("Yesterday", TODAY) == date(2026, 3, 14)
    assert parse_date("5/6/98", TODAY) == date(1998, 6, 5)  # not 2098, which is in the future


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("31/02/2026", "There is no 31 February 2026. Please check the day and month."),
        ("02/13/2026", "There is no month 13. Please put the day first: did you mean 13/02/2026?"),
        ("last Tuesday", "Please give a date as day, month and year, for example 03/02/2026"),
        ("3 Smarch 2026", "I don't know the month 'smarch'."),
        ("2026/02/03", "Please give a date as day, month and year"),
    ],
)
def test_bad_dates_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_date(typed, TODAY)
    assert caught.value.message.startswith(message)


def test_date_rules_future_and_not_before() -> None:
    form = shipped_form()
    incident = field("incident_date")
    with pytest.raises(AnswerError, match="16 March 2026 is in the future"):
        parse_answer(incident, "16/03/2026", form, {}, TODAY)
    with pytest.raises(AnswerError, match=r"before the child's date of birth \(1 May 2020\)"):
        parse_answer(incident, "30/04/2020", form, {"child_dob": "2020-05-01"}, TODAY)
    assert parse_answer(incident, "1/5/2020", form, {"child_dob": "2020-05-01"}, TODAY) == (
        "2020-05-01"
    )
    # A skipped date of birth sets no limit.
    assert parse_answer(incident, "1/1/2001", form, {"child_dob": None}, TODAY) == "2001-01-01"


# --- email, phone, lengths, choices -----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("robin tester@example.org", "An email address has no spaces."),
        ("robin.example.org", "An email address has exactly one @."),
        ("robin@@example.org", "An email address has exactly one @."),
        ("@example.org", "The part before the @ can have letters, digits and . _ - +"),
        ("robin,tester@example.org", "The part before the @ can have letters"),
        (".robin@example.org", "The part before the @ can have letters"),
        ("robin@exa_mple.org", "The part after the @ should be a domain"),
        ("robin@localhost", "The part after the @ should be a domain such as agency.gov.uk."),
        ("robin@example..org", "The part after the @ should be a domain"),
        ("x" * 250 + "@example.org", "That's too long: 262 characters, and the limit is 254."),
    ],
)
def test_bad_emails(typed: str, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_answer(field("slo_email"), typed, shipped_form(), {}, TODAY)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    "typed", ["robin.tester@example.org", "o'neill+slo@nhs.net", "A.B-C@sub.council.gov.uk"]
)
def test_plausible_emails_are_accepted_and_fit_an_email_header(typed: str) -> None:
    value = parse_answer(field("slo_email"), typed, shipped_form(), {}, TODAY)
    assert value == typed
    assert Address(addr_spec=value).addr_spec == typed


@pytest.mark.parametrize(
    "typed",
    ["01234 567890", "07700 900123", "+44 7700 900123", "+44 (0)1234 567890", "0207-946-0000"],
)
def test_uk_phone_numbers(typed: str) -> None:
    assert parse_answer(field("slo_phone"), typed, shipped_form(), {}, TODAY) == typed


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("call my mobile", "A phone number can only have digits, spaces and a leading +"),
        ("+33 1 23 45 67 89", "Please give a UK number, starting with 0 or +44."),
        ("1234 567890", "A UK number starts with 0 (or +44)"),
        ("01234 5678", "That number has 9 digits; a UK number has 10 or 11"),
        ("01234 5678901", "That number has 12 digits"),
    ],
)
def test_bad_phone_numbers(typed: str, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_answer(field("slo_phone"), typed, shipped_form(), {}, TODAY)
    assert caught.value.message.startswith(message)


def test_lengths() -> None:
    form = shipped_form()
    with pytest.raises(AnswerError, match=r"too short \(5 characters\). Please give at least 20"):
        parse_answer(field("summary"), "Hurt.", form, {}, TODAY)
    with pytest.raises(AnswerError, match="too long: 121 characters, and the limit is 120"):
        parse_answer(field("child_name"), "N" * 121, form, {}, TODAY)
    # Paragraphs of a long answer are kept; a one-line answer is tidied.
    long_answer = parse_answer(
        field("summary"), "First line here.\n  Second line here. ", form, {}, TODAY
    )
    assert long_answer == "First line here.\nSecond line here."
    assert parse_answer(field("child_name"), "  Sam   Smith ", form, {}, TODAY) == "Sam Smith"


def test_choices_by_label_or_number() -> None:
    form = shipped_form()
    gender = field("child_gender")
    assert parse_answer(gender, "female", form, {}, TODAY) == "Female"
    assert parse_answer(gender, "2", form, {}, TODAY) == "Male"
    with pytest.raises(AnswerError, match="Please choose one of the options: Female, Male"):
        parse_answer(gender, "Banana", form, {}, TODAY)
    assert parse_answer(field("records_secured"), "y", form, {}, TODAY) == "Yes"
    legal = field("legal_status")
    assert parse_answer(legal, "3, 1", form, {}, TODAY) == [
        "Child protection plan now",
        "Child in need",
    ]
    assert parse_answer(legal, "4 1", form, {}, TODAY) == [
        "Child protection plan now",
        "Looked after child",
    ]
    assert parse_answer(legal, "child in need; Looked after child", form, {}, TODAY) == [
        "Child in need",
        "Looked after child",
    ]
    with pytest.raises(AnswerError, match="Please choose one of the options: '9' is not one"):
        parse_answer(legal, "1, 9", form, {}, TODAY)


def test_answers_are_shown_in_words() -> None:
    assert show_answer(field("child_dob"), "2015-02-03") == "3 February 2015"
    assert show_answer(field("legal_status"), ["Child in need", "Looked after child"]) == (
        "Child in need, Looked after child"
    )
    assert show_answer(field("child_age"), None) == "Not given"
