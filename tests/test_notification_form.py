"""The notification form as data (knowledge/form.py), the answer rules
(handlers/notification/answers.py) and the rules between answers (handlers/notification/rules.py): a
bad form is reported field by field, each kind of answer is accepted in its usual forms and refused
with a message that says what to fix, and no order of answers can store a contradiction. The
mechanics use the small fixture form (tests/fixtures/notification_form.yaml); one smoke test checks
the shipped form's content."""

from __future__ import annotations

import re
import shutil
from datetime import date
from email.headerregistry import Address
from pathlib import Path

import pytest

from config.settings import ROOT, SettingsError, load_settings
from config.validation import KnowledgeError, Problems
from handlers.notification.answers import AnswerError, parse_answer, parse_date, show_answer
from handlers.notification.rules import parse, parse_age, problems, shown_by_section
from knowledge.form import Field, Form, load_form
from knowledge.loader import load_knowledge
from tests import yaml_support
from tests.form_fixture import FIXTURE_FORM

TODAY = date(2026, 3, 15)
SHIPPED = ROOT / "knowledge"


def load(directory: Path) -> Form:
    found = Problems()
    form = load_form(directory, found)
    assert found.items == []
    return form


def fixture_form() -> Form:
    return load(FIXTURE_FORM.parent)


def field(field_id: str, form: Form | None = None) -> Field:
    found = (form or fixture_form()).field(field_id)
    assert found is not None
    return found


# --- the shipped form: one smoke test of its content ------------------------------------------


def test_shipped_form_has_what_the_review_asked_for() -> None:
    form = load(SHIPPED)
    # The introduction says first what the form is, and that it is no urgent referral.
    first = form.intro.split(". ")[0]
    assert "notification for agency liaison officers" in first
    assert "does not replace an urgent referral" in form.intro.split(". ")[1]
    assert "/urgent" in form.intro
    raw = (SHIPPED / "notification_form.yaml").read_text(encoding="utf-8")
    # Local numbers live in the settings (the safety route), never in the form: no run of 10
    # or more digits, however spaced. (999 is the one number the intro may name.)
    assert not re.search(r"\d(?:[ -]?\d){9,}", raw), "no phone numbers in the form"
    # Current choices: no serious case reviews, SILP a review method, not an audit.
    actions = field("recommended_action", form).options
    assert not any("Serious case review" in a or "audit such as SILP" in a for a in actions)
    assert "Local learning review (for example SILP)" in actions
    categories = field("incident_type", form).options
    assert {"Death of a care leaver", "Near miss"} <= set(categories)
    for missing in ("referral_made", "other_children", "la_aware", "panel_notified", "setting"):
        assert form.field(missing) is not None, missing
    for missing in ("police_investigation", "coroner", "area", "suspected_suicide"):
        assert form.field(missing) is not None, missing
    # Data minimisation by default: initials, date of birth, a number; no name or address.
    asked = {f.id for f in form.with_identity("initials").fields}
    assert {"child_initials", "child_dob", "child_number"} <= asked
    assert not {"child_name", "child_address"} & asked
    assert {"child_name", "child_address"} <= {f.id for f in form.with_identity("full").fields}
    assert field("child_age", form).derived_from == "child_dob"
    assert form.subject == ("incident_type", "abuse_neglect", "agency")
    assert all(f.help and f.label for f in form.fields)


def broken_knowledge(tmp_path: Path, sections: list[dict[str, object]]) -> list[str]:
    """Load the shipped knowledge with `sections` as the form; returns the problems."""
    directory = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, directory)
    data = yaml_support.load((SHIPPED / "notification_form.yaml").read_text(encoding="utf-8"))
    data["sections"] = sections
    (directory / "notification_form.yaml").write_text(yaml_support.dump(data), encoding="utf-8")
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
        "notification_form.yaml: day: not_before: 'name' is not another date field",
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


def test_form_needs_agency(tmp_path: Path) -> None:
    found = broken_knowledge(
        tmp_path,
        [{"id": "one", "title": "One", "fields": [text_field("agency", required=False)]}],
    )
    assert any(
        p.startswith("notification_form.yaml: agency: type: must be a required") for p in found
    )
    assert not any("slo_email" in p for p in found), "the copy never goes to a typed address"


def test_new_keys_are_checked(tmp_path: Path) -> None:
    found = broken_knowledge(
        tmp_path,
        [
            {
                "id": "one",
                "title": "One",
                "fields": [
                    text_field("agency"),
                    text_field("kind", type="choice", choices=["A", "B"], short={"C": "c"}),
                    text_field("who", identity="nickname"),
                    text_field("dob", type="date", required=True),
                    text_field("age", type="age", derived_from="dob", age_on="kind"),
                    text_field("size", derived_from="dob"),
                    text_field("skipped", when={"kind": None}),
                    text_field("listed", when={"kind": ["A", "Z"]}),
                ],
            }
        ],
    )
    expected = [
        "notification_form.yaml: kind: short: 'C' is not one of the choices",
        "notification_form.yaml: who: identity: must be one of: initials, full",
        "notification_form.yaml: age: age_on: 'kind' is not a date field",
        "notification_form.yaml: age: derived_from: 'dob' is required, so this field would never",
        "notification_form.yaml: size: derived_from: only age fields have derived_from",
        "notification_form.yaml: skipped: when: 'kind' is required, so it is never skipped (null)",
        "notification_form.yaml: listed: when: 'Z' is not a value of 'kind'",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in found), (line, found)


def test_subject_may_not_name_the_child(tmp_path: Path) -> None:
    directory = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, directory)
    data = yaml_support.load(FIXTURE_FORM.read_text(encoding="utf-8"))
    data["subject"] = ["child_initials", "summary", "nothing", "agency"]
    (directory / "notification_form.yaml").write_text(yaml_support.dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    found = caught.value.problems
    assert any("subject: 'child_initials' cannot be in the subject" in p for p in found)
    assert any("subject: 'summary' cannot be in the subject" in p for p in found)
    assert any("subject: 'nothing' is not a field" in p for p in found)


def test_when_any_of_and_when_skipped() -> None:
    form = fixture_form()
    age = field("child_age", form)
    assert form.applies(age, {"child_dob": None}), "asked when the date of birth was skipped"
    assert not form.applies(age, {"child_dob": "2015-01-01"}), "derived, not asked"
    dsl = field("dsl_name", form)
    assert form.applies(dsl, {"dsl_consulted": "Yes"})
    assert not form.applies(dsl, {"dsl_consulted": "No"})


def test_identity_setting_selects_the_fields() -> None:
    form = fixture_form()
    initials = [f.id for f in form.with_identity("initials").fields]
    full = [f.id for f in form.with_identity("full").fields]
    assert "child_initials" in initials and "child_name" not in initials
    assert "child_address" not in initials
    assert "child_name" in full and "child_address" in full and "child_initials" not in full


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
    form = fixture_form()
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
        parse_answer(field("slo_email"), typed, fixture_form(), {}, TODAY)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    "typed", ["robin.tester@example.org", "o'neill+slo@nhs.net", "A.B-C@sub.council.gov.uk"]
)
def test_plausible_emails_are_accepted_and_fit_an_email_header(typed: str) -> None:
    value = parse_answer(field("slo_email"), typed, fixture_form(), {}, TODAY)
    assert value == typed
    assert Address(addr_spec=value).addr_spec == typed


@pytest.mark.parametrize(
    "typed",
    ["01234 567890", "07700 900123", "+44 7700 900123", "+44 (0)1234 567890", "0207-946-0000"],
)
def test_uk_phone_numbers(typed: str) -> None:
    assert parse_answer(field("slo_phone"), typed, fixture_form(), {}, TODAY) == typed


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
        parse_answer(field("slo_phone"), typed, fixture_form(), {}, TODAY)
    assert caught.value.message.startswith(message)


def test_lengths() -> None:
    form = fixture_form()
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
    form = fixture_form()
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
    assert parse_answer(legal, "5", form, {}, TODAY) == ["Care leaver"]
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


# --- rules between answers: handlers/notification/rules.py ----------------------------------------


def test_birth_after_incident_refused_in_either_order() -> None:
    form = fixture_form()
    dob, incident = field("child_dob", form), field("incident_date", form)
    # The date of birth first, then an incident before it.
    with pytest.raises(AnswerError, match=r"1 January 2020 is before the child's date of birth"):
        parse(incident, "1/1/2020", form, {"child_dob": "2020-05-01"}, TODAY)
    # The incident first (or edited later): a birth date after it names the incident date.
    with pytest.raises(AnswerError) as caught:
        parse(dob, "2/1/2020", form, {"incident_date": "2020-01-01"}, TODAY)
    assert caught.value.message.startswith(
        "2 January 2020 is after the date of the incident (1 January 2020). The child's date of "
        "birth cannot be later."
    )
    assert parse(dob, "1/1/2020", form, {"incident_date": "2020-01-01"}, TODAY) == "2020-01-01"


def test_date_rules_from_a_later_field_too(tmp_path: Path) -> None:
    """not_before may name a field asked later: the rule holds whichever is answered last."""
    data = yaml_support.load(FIXTURE_FORM.read_text(encoding="utf-8"))
    fields = data["sections"][2]["fields"]
    dob = next(f for f in fields if f["id"] == "child_dob")
    dob["not_before"] = "child_dob"  # itself: refused
    (tmp_path / "notification_form.yaml").write_text(yaml_support.dump(data), encoding="utf-8")
    found = Problems()
    load_form(tmp_path, found)
    assert (
        "notification_form.yaml: child_dob: not_before: 'child_dob' is not another date field"
        in (found.items)
    )


def test_every_rule_again_at_submit() -> None:
    form = fixture_form()
    answers = {
        "child_dob": "2020-05-01",
        "incident_date": "2020-04-01",
        "aware_date": "2020-03-01",
    }
    found = problems(form, answers, TODAY)
    assert [p.field_id for p in found] == ["incident_date", "aware_date"]
    assert found[0].message == (
        "1 April 2020 is before the child's date of birth (1 May 2020). Please check the date."
    )
    future = problems(form, {"incident_date": "2026-03-16"}, TODAY)
    assert future[0].message.startswith("16 March 2026 (the date of the incident) is in the future")


def test_age_from_date_of_birth_is_derived_and_bounded() -> None:
    form = fixture_form()
    answers = {"child_dob": "2015-02-03", "incident_date": "2026-02-02"}
    rows = dict(
        (f.id, shown)
        for _, section in shown_by_section(form, answers, TODAY)
        for f, shown in section
    )
    assert rows["child_age"] == "10 years (worked out from the child's date of birth)"
    baby = {"child_dob": "2025-11-20", "incident_date": "2026-03-01"}
    rows = dict((f.id, shown) for _, s in shown_by_section(form, baby, TODAY) for f, shown in s)
    assert rows["child_age"] == "3 months (worked out from the child's date of birth)"
    # Older than a care leaver can be on the date of the incident: refused, naming the dates.
    with pytest.raises(AnswerError, match="the child was 30 on the date of the incident"):
        parse(field("child_dob", form), "1/1/1990", form, {"incident_date": "2020-06-01"}, TODAY)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("4", "4 years"),
        ("4 years", "4 years"),
        ("1 year old", "1 year"),
        ("about 15", "about 15 years"),
        ("6 months", "6 months"),
        ("3 wks", "3 weeks"),
    ],
)
def test_ages(typed: str, stored: str) -> None:
    assert parse_age(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("03/02/2015", "That looks like a date. Please give the child's age in years"),
        ("3 Feb 2015", "That looks like a date."),
        ("teenager", "Please give the child's age as a number"),
        ("30", "30 years is older than this form covers"),
    ],
)
def test_bad_ages(typed: str, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_age(typed)
    assert caught.value.message.startswith(message)


def test_identify_child_setting(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("form:\n  identify_child: full\n", encoding="utf-8")
    assert load_settings(path, {}).form.identify_child == "full"
    assert load_settings(None, {}).form.identify_child == "initials"
    path.write_text("form:\n  identify_child: nickname\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"form\.identify_child: must be initials or full"):
        load_settings(path, {})
    example = yaml_support.load((ROOT / "config" / "settings.example.yaml").read_text("utf-8"))
    assert example["form"] == {"identify_child": "initials"}
