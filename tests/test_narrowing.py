"""More documents fit a name than the buttons hold: the assistant asks what tells them apart
(area, then year, then kind of document) instead of offering four chosen by their order."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from config.settings import Settings
from knowledge.narrowing import OTHER, answered, keep, narrow_to, next_question
from knowledge.search import MAX_CHOICES, SearchEntry
from tests.conftest import Chat
from tests.test_semantic import with_reports


async def on_reports(
    settings: Settings, tmp_path: Path, reports: list[dict[str, object]]
) -> AsyncIterator[Assistant]:
    """An assistant on the fixture knowledge with these reports added, closed after."""
    knowledge = with_reports(tmp_path, *reports)
    built = await build_assistant(dataclasses.replace(settings, knowledge_dir=str(knowledge)))
    yield built
    await built.close()


# Seven documents share the alias "zanzibar": five in Northshire (three of 2019, two of 2021),
# one in Southshire and one in Westshire.
PLACES = [
    ("Northshire", 2019),
    ("Northshire", 2019),
    ("Northshire", 2019),
    ("Northshire", 2021),
    ("Northshire", 2021),
    ("Southshire", 2018),
    ("Westshire", 2020),
]


@pytest.fixture
async def assistant(settings: Settings, tmp_path: Path) -> AsyncIterator[Assistant]:
    reports = [
        {
            "id": f"zanzibar-{n}",
            "title": f"Case review {n + 1} ({area})",
            "kind": "full report",
            "area": area,
            "year": year,
            "aliases": ["zanzibar"],
        }
        for n, (area, year) in enumerate(PLACES)
    ]
    async for built in on_reports(settings, tmp_path, reports):
        yield built


async def test_many_documents_of_one_name_are_narrowed_by_area_then_year(chat: Chat) -> None:
    await chat.say("the zanzibar report")
    assert chat.replies[0].kind == "narrow"
    assert chat.replies[0].text == "Several documents match: which area?"
    assert [b.label for b in chat.buttons] == ["Northshire", "Southshire", "Westshire"]
    await chat.press("Northshire")  # five left: more than the buttons hold
    assert chat.replies[0].text == "Several documents match: which year?"
    assert [b.label for b in chat.buttons] == ["2019", "2021"]
    await chat.press("2021")
    assert chat.replies[0].kind == "choices"
    assert [b.label for b in chat.buttons] == [
        "Case review 4 (Northshire)",
        "Case review 5 (Northshire)",
    ]
    await chat.press("Case review 5")
    assert chat.replies[0].kind == "report" and chat.replies[0].id == "zanzibar-4"


async def test_an_area_with_one_document_asks_about_that_one(chat: Chat) -> None:
    await chat.say("zanzibar report")
    await chat.press("Westshire")
    assert chat.replies[0].kind == "confirm" and chat.replies[0].ids == ("zanzibar-6",)


async def test_a_narrowing_button_of_another_chat_or_an_old_question_is_refused(
    chat: Chat, assistant: Assistant
) -> None:
    other = Chat(assistant, "test:2")
    await other.say("/narrow area 0")
    assert other.replies[0].kind == "narrow-closed"
    await chat.say("zanzibar report")
    await chat.press("Northshire")
    await chat.say("/narrow area 1")  # the area question's button, pressed again later
    assert chat.replies[0].text == "Several documents match: which year?"


def entry(n: int, area: str, year: str, kind: str = "full report") -> SearchEntry:
    return SearchEntry(f"doc-{n}", kind, ("baby t",), (("area", area), ("year", year)))


def test_each_document_is_reached_with_at_most_one_question_per_facet() -> None:
    entries = [
        entry(n, f"Area {n % 12}", str(2010 + n % 5), ("full report", "executive summary")[n % 2])
        for n in range(60)
    ]
    for wanted in entries:
        left, asked = narrow_to(entries, wanted)
        assert wanted in left and len(left) <= MAX_CHOICES and asked <= 3


def test_more_areas_than_buttons_put_the_rarest_under_other() -> None:
    entries = [entry(n, f"Area {n}", "2020") for n in range(12)]
    question = next_question(entries)
    assert question is not None and question.facet == "area"
    assert len(question.values) == 8 and question.values[-1] == OTHER
    left, _ = narrow_to(entries, entries[11])
    assert entries[11] in left and len(left) <= MAX_CHOICES


def test_documents_alike_in_every_facet_are_not_asked_about() -> None:
    same = [entry(n, "Leeds", "2020") for n in range(6)]
    assert next_question(same) is None


def test_other_offers_the_rarer_areas_once_the_other_facets_are_asked() -> None:
    # Twenty areas, every document of one year and kind: after "Other", the area is asked
    # again over the areas not yet offered, until the one wanted is on a button.
    entries = [entry(n, f"Area {n:02d}", "2020") for n in range(20)]
    first = next_question(entries)
    assert first is not None and first.facet == "area" and first.values[-1] == OTHER
    rest = keep(entries, first, OTHER)
    again = next_question(rest, [answered("area", OTHER)])
    assert again is not None and again.facet == "area"
    assert not set(again.values) - {OTHER} & set(first.values)
    for wanted in entries:
        left, asked = narrow_to(entries, wanted)
        assert left == [wanted] and asked <= 3


def test_a_facet_answered_with_a_value_is_not_asked_again() -> None:
    entries = [entry(n, f"Area {n % 3}", str(2000 + n)) for n in range(30)]
    question = next_question(entries, [answered("area", "Area 1")])
    assert question is not None and question.facet == "year"


@pytest.fixture
async def many_areas(settings: Settings, tmp_path: Path) -> AsyncIterator[Assistant]:
    reports = [
        {
            "id": f"quokka-{n}",
            "title": f"Quokka review {n + 1}",
            "kind": "full report",
            "area": f"Shire {n:02d}",
            "year": 2020,
            "aliases": ["quokka"],
        }
        for n in range(12)
    ]
    async for built in on_reports(settings, tmp_path, reports):
        yield built


async def test_other_asks_the_area_again_with_the_rest(many_areas: Assistant) -> None:
    chat = Chat(many_areas, "test:1")
    await chat.say("the quokka report")
    assert chat.replies[0].text == "Several documents match: which area?"
    assert [b.label for b in chat.buttons][-1] == "Other"
    first = {b.label for b in chat.buttons} - {"Other"}
    await chat.press("Other")
    assert chat.replies[0].text == "Several documents match: which area?"
    labels = [b.label for b in chat.buttons]
    assert labels == sorted(f"Shire {n:02d}" for n in range(12) if f"Shire {n:02d}" not in first)
    await chat.press(labels[-1])
    assert chat.replies[0].kind == "confirm"
