"""Unanswered questions are stored without personal data: realistic cases of what people type."""

from __future__ import annotations

import pytest

from bot.core.redaction import redact
from tests.conftest import Chat

# (what was typed, what must not survive, what must survive)
CASES = [
    (
        "Jayden Smith born 03/04/2015 at 12 High St MK40 1AA",
        ["Jayden", "Smith", "03/04/2015", "12 High St", "MK40", "1AA"],
        ["born", "[name]", "[date]", "[postcode]"],
    ),
    ("is Tyler Brown on the child protection register", ["Tyler", "Brown"], ["child protection"]),
    (
        "my pupil Tom (DOB 3rd April 2014) told me his dad hits him",
        ["Tom", "3rd April 2014"],
        ["my pupil", "told me his dad hits him"],
    ),
    ("email mrs.jones@school.org.uk or call 07700 900123", ["jones", "07700", "900123"], []),
    ("her NHS number is 943 476 5919", ["943", "5919"], ["NHS number"]),
    ("nhs no 9434765919 for the baby", ["9434765919"], ["baby"]),
    ("Mrs Okafor at 5 Church Lane, Bedford", ["Okafor", "Church Lane"], ["Bedford"]),
    ("a girl called amira, 14, from Kempston", ["amira"], ["a girl called"]),
    ("child named Leo Smith-Jones", ["Leo", "Smith"], ["child named"]),
    ("Dr. Patel said the baby was fine", ["Patel"], ["said the baby was fine"]),
    ("Jayden told me about his stepdad Gary", ["Jayden", "Gary"], ["told me about his stepdad"]),
    ("phone +44 (0)1234 567890 after 5", ["567890", "1234"], []),
    ("born on 3 April 2015, lives at flat 4b, 22 Harpur Street", ["3 April", "Harpur"], []),
    ("meeting on 2024-05-12 about Olivia", ["2024-05-12", "Olivia"], ["meeting"]),
    ("case ref 12345678 for the Khan family", ["12345678", "Khan"], ["family"]),
    ("Mohammed and Aisha are at St Mary's", ["Mohammed", "Aisha", "Mary"], []),
    ("my son's name is oliver and he is 6", ["oliver"], ["he is 6"]),
    ("what happened at the strategy meeting on 12 May", ["12 May"], ["strategy meeting"]),
    ("May 3rd, 2021 incident at MK41 9RQ", ["May 3rd", "MK41"], ["incident"]),
    ("known as Bobby by his friends", ["Bobby"], ["his friends"]),
]
# Questions without personal data keep their meaning.
KEPT = [
    "what is a SILP",
    "what does LADO stand for",
    "Working Together 2023 changes",
    "how do I apply for a school place",
    "what is the wifi password",
    "Explain the SCR process",
    "send me the report about the new leisure centre",
    "best pizza near the council offices",
    "which reviews did Ofsted look at in Bedford in 2019",
]


@pytest.mark.parametrize(("text", "gone", "kept"), CASES, ids=[c[0][:30] for c in CASES])
def test_personal_data_is_redacted(text: str, gone: list[str], kept: list[str]) -> None:
    redacted = redact(text)
    for part in gone:
        assert part not in redacted, redacted
    for part in kept:
        assert part in redacted, redacted


@pytest.mark.parametrize("text", KEPT)
def test_questions_without_personal_data_are_kept_as_typed(text: str) -> None:
    assert redact(text) == text


async def test_the_stored_question_is_the_redacted_one(chat: Chat) -> None:
    # (a name inside a message is one case's, declined and never kept: knowledge/casework.py)
    await chat.say("Tyler Brown, born 03/04/2015, can he get free school meals?")
    assert chat.replies[0].kind == "fallback"
    stored = [q for q, _ in await chat.assistant.storage.questions.unanswered()]
    assert stored == ["[name], born [date], can he get free school meals?"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my pupil tom told me his dad hits him", "my pupil [name] told me his dad hits him"),
        ("her stepdad gary is violent", "her stepdad [name] is violent"),
        ("my colleague sarah hit a child", "my colleague [name] hit a child"),
        ("what should a teacher do", "what should a teacher do"),
        ("the child protection register", "the child protection register"),
    ],
)
def test_names_in_lowercase_after_a_people_word(text: str, expected: str) -> None:
    assert redact(text) == expected
