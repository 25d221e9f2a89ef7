"""Learning from case reviews (knowledge/learning.py, handlers/learning.py, knowledge/briefing.py):
mechanics on an invented catalogue (tests/fixtures/decision/learning.yaml), then one smoke test
of the shipped records.

- what a review found: what happened, the key learning, More for every point with its source;
  a review whose findings are not held says so and guesses nothing;
- the reviews on a theme, those most on it first, narrowed to national or local;
- what recurs across them, each point naming its review, the points in the theme's words first;
- a 7-minute briefing as a Word document: its seven parts, every point cited, reflection
  questions from the theme, in the console (a saved file) and in Telegram (a document);
- `check` refuses a point without a source and lists records resting on others' summaries."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docx
import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.console import run_console
from bot.core.replies import Reply
from config.settings import Settings, default_settings
from config.validation import KnowledgeError
from handlers.learning import FIRST_MAX
from knowledge.layers import Layers
from knowledge.learning import load_learning
from knowledge.loader import load_knowledge
from tests import yaml_support
from tests.conftest import Chat, on_fixture_knowledge
from tests.telegram_support import FakeBotApi, start_harness
from tests.test_decision import decision_knowledge

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def assistant(settings: Settings, tmp_path: Path) -> AsyncIterator[Assistant]:
    knowledge = decision_knowledge(tmp_path)
    built = await build_assistant(on_fixture_knowledge(settings, knowledge, tmp_path))
    yield built
    await built.close()


def docx_of(reply: Reply) -> Any:
    [file] = reply.files
    assert file.filename.endswith(".docx")
    return docx.Document(io.BytesIO(file.data))


def headings(document: Any) -> list[str]:
    return [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]


def bullets(document: Any, heading: str) -> list[str]:
    found, inside = [], False
    for paragraph in document.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            inside = paragraph.text == heading
        elif inside and paragraph.text:
            found.append(paragraph.text)
    return found


# --- what a review found --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "what did the flange testing at the northern plant review find",
        "lessons from the northern plant review",
        "key findings of the harbour works review",
        "what were the failings in the northern plant review",
        "northern plant review, what did they learn",
    ],
)
async def test_what_a_review_found(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    learning = chat.assistant.knowledge.learning
    review = learning.reviews[replies[0].id or ""]
    assert replies[0].kind == "learning"
    assert replies[0].text.startswith(review.happened.split(". ")[0])
    assert review.learning[0].text in replies[0].text
    assert "record checked 2026-12-07" in replies[0].text
    if review.url:
        assert [link.url for link in replies[0].links] == [review.url]


async def test_a_long_story_gives_way_to_the_learning_and_is_whole_under_more(chat: Chat) -> None:
    replies = await chat.say("key findings of the harbour works review")
    review = chat.assistant.knowledge.learning.reviews["sprocket-failure-2022"]
    assert "2 cranes were damaged" not in replies[0].text  # its second sentence, begun by a digit
    assert review.learning[0].text in replies[0].text
    await chat.press("More")
    assert chat.replies[0].text.startswith(review.happened)


async def test_the_points_on_what_was_asked_come_first(chat: Chat) -> None:
    replies = await chat.say("what did the northern plant review find about the supplier")
    key = replies[0].text.split("Key learning:\n- ", 1)[1]
    assert key.startswith("The supplier was never told of earlier near misses.")
    replies = await chat.say("what did the northern plant review find")
    key = replies[0].text.split("Key learning:\n- ", 1)[1]
    assert key.startswith("The lab tested flanges below the load")  # as recorded


async def test_more_gives_every_point_with_where_it_comes_from(chat: Chat) -> None:
    await chat.say("what did the northern plant review find")
    await chat.press("More")
    text = chat.replies[0].text
    review = chat.assistant.knowledge.learning.reviews["flange-review-2020"]
    for point in (*review.learning, *review.recommendations):
        assert f"{point.text} ({point.where})" in text
    assert "Main recommendations:" in text


async def test_what_a_review_recommended(chat: Chat) -> None:
    replies = await chat.say("what did the northern plant review recommend")
    assert "Test every batch at the load it will carry" in replies[0].text


async def test_what_a_review_led_to_asked_in_other_words(chat: Chat) -> None:
    for asked in (
        "what is the board going to do after the northern plant review",
        "the areas for improvement after the northern plant review",
        "what changed nationally after the northern plant review",
    ):
        replies = await chat.say(asked)
        assert "Test every batch at the load it will carry" in replies[0].text, asked


async def test_a_presentation_gives_the_learning_of_the_reviews_it_carries(chat: Chat) -> None:
    replies = await chat.say("main messages of the failures presentation")
    text = replies[0].text
    assert "Flange testing at the northern plant" in text
    assert "Sprocket failure at the harbour works" in text
    assert "no record was kept" in text and "below the load they carried" in text


async def test_a_briefing_names_its_review_before_its_audience(chat: Chat) -> None:
    # "sprocket audit" is a topic's name: the review is the one named before "for"
    replies = await chat.say(
        "7 minute briefing on the harbour works review for our sprocket audit team"
    )
    assert replies[0].kind == "briefing" and replies[0].files
    assert "Sprocket failure at the harbour works" in replies[0].text


async def test_a_briefing_for_an_audience_on_a_review_is_composed(chat: Chat) -> None:
    for asked in (
        "briefing for suppliers on the northern plant review",
        "briefing on the northern plant review for our lab team",
        "can you put together a short briefing on the northern plant review",
    ):
        replies = await chat.say(asked)
        assert replies[0].kind == "briefing" and replies[0].files, asked


async def test_findings_not_held_are_said_never_guessed(chat: Chat) -> None:
    replies = await chat.say("what did the east workshop review find")
    assert replies[0].id == "gadget-review-2015"
    assert "I don't hold the findings of that review" in replies[0].text
    assert "Key learning" not in replies[0].text


async def test_a_review_described_not_named_is_asked_about(chat: Chat) -> None:
    replies = await chat.say("the review about the sprockets that failed in a storm")
    assert replies[0].kind == "confirm" and replies[0].links == ()
    assert "Sprocket failure at the harbour works" in replies[0].text
    await chat.press("Yes")
    assert chat.replies[0].id == "sprocket-failure-2022"


async def test_words_no_record_has_do_not_hide_the_review_described(chat: Chat) -> None:
    # "boss", "always", "went on": in no record, so they tell no review from another
    replies = await chat.say(
        "the review where the flanges broke under load at the plant, my old boss always went on"
    )
    assert replies[0].kind == "confirm"
    assert "Flange testing at the northern plant" in replies[0].text
    # too few words that any record has is no description
    assert (await chat.say("the one about the boss who went on"))[0].kind != "confirm"


async def test_a_review_told_by_its_story_is_answered_naming_it_first(chat: Chat) -> None:
    # No "the review about": a year and words no topic has ("storm", "overloaded") tell it.
    replies = await chat.say(
        "2022 storm, parts overloaded at the harbour and failed - what was learnt"
    )
    review = chat.assistant.knowledge.learning.reviews["sprocket-failure-2022"]
    assert replies[0].kind == "learning" and replies[0].id == review.id
    assert replies[0].text.startswith("This sounds like Sprocket failure at the harbour works")
    assert review.learning[0].text in replies[0].text
    assert "Not this one" in [b.label for b in replies[0].buttons]
    body = replies[0].text.rsplit("\n\n", 1)[0]  # without the line on its sources
    assert len(body) <= FIRST_MAX  # the line naming it counts against a first reply's length


async def test_a_review_told_beyond_doubt_is_answered_though_no_learning_is_asked(
    chat: Chat,
) -> None:
    replies = await chat.say("the 2022 one where parts were overloaded at the harbour in a storm")
    assert replies[0].kind == "learning" and replies[0].id == "sprocket-failure-2022"
    assert replies[0].text.startswith("This sounds like Sprocket failure at the harbour works")


async def test_a_document_asked_for_by_its_story_is_asked_then_linked(chat: Chat) -> None:
    replies = await chat.say("can I have the 2022 one on the overloaded parts in the storm")
    assert replies[0].kind == "confirm" and replies[0].links == ()
    assert "Sprocket failure at the harbour works" in replies[0].text
    replies = await chat.say("panel review of parts overloaded in a storm")
    assert replies[0].kind == "confirm" and replies[0].links == ()
    assert "Sprocket failure at the harbour works" in replies[0].text
    await chat.press("Yes")
    report = chat.assistant.knowledge.reports["sprocket-failure-2022"]
    assert [link.url for link in chat.replies[0].links] == [report.url]


async def test_a_question_about_a_process_is_no_review_s_story(chat: Chat) -> None:
    # A review's words, but none particular to its story and no "the review about": a topic
    # or nothing answers it, never a guessed review.
    for asked in (
        "do flanges that failed under load need a review",
        "who reviews sprockets overloaded in a storm at the harbour works",
        "what was learnt when flanges failed under load at a plant",
    ):
        replies = await chat.say(asked)
        assert replies[0].kind != "confirm", asked
        assert not replies[0].text.startswith("This sounds like"), asked


async def test_a_review_is_named_by_one_proper_name_of_its_title_or_area(chat: Chat) -> None:
    # "Northern" is in one review's area only: the whole name need not fit.
    replies = await chat.say("what should suppliers take from the northern folk's batch report")
    assert replies[0].kind == "learning" and replies[0].id == "flange-review-2020"
    # a word a topic is called by names no review ("sprocket audit" is a topic); one in a
    # topic's example question still does ("has the gizmo panel read the northern plant review")
    assert "sprocket" not in chat.assistant.knowledge.learning.names
    assert "northern" in chat.assistant.knowledge.learning.names


async def test_reviews_named_together_are_answered_side_by_side(chat: Chat) -> None:
    replies = await chat.say("what did the gadget and the northern reviews find for suppliers")
    assert replies[0].id not in ("gadget-review-2015", "flange-review-2020")  # not one of them
    # the reviews whose findings are held, their points on what was asked first
    assert replies[0].ids == ("flange-review-2020",)
    lines = replies[0].text.splitlines()
    assert "Gadget review of the east workshop" in lines[0]
    assert lines[1].startswith("- The supplier was never told of earlier near misses.")


async def test_reviews_sharing_a_name_are_told_apart_by_their_own_words(chat: Chat) -> None:
    # "Quayside" names both phases: their recommendations side by side ...
    replies = await chat.say("what did the quayside audits recommend")
    assert replies[0].title == "What the reviews recommended"
    assert set(replies[0].ids) == {"weld-audit-phase-1", "weld-audit-phase-2"}
    assert "Check every night-shift weld the next morning." in replies[0].text
    assert "Tell the inspectors of every shift the yard runs." in replies[0].text
    # ... unless a word only one of them has says which
    replies = await chat.say("what did the quayside audit phase 2 find")
    assert replies[0].kind == "learning" and replies[0].id == "weld-audit-phase-2"
    assert "Inspectors were never told" in replies[0].text
    # names of different reviews each count: nothing is told apart
    replies = await chat.say("what did the quayside phase 2 and the northern plant reviews find")
    assert replies[0].id != "weld-audit-phase-2"
    assert "flange-review-2020" in replies[0].ids


# --- themes and sectors ---------------------------------------------------------------------


async def test_reviews_on_a_theme_newest_first_and_narrowed(chat: Chat) -> None:
    replies = await chat.say("which reviews are about overloaded parts")
    assert replies[0].kind == "learning-list"
    # the one most on overloading first (its words in what happened and was learnt)
    assert replies[0].ids == ("sprocket-failure-2022", "flange-review-2020")
    # one short line each, to scan: a name and the start of what happened
    learning = chat.assistant.knowledge.learning
    for review_id in replies[0].ids:
        review = learning.reviews[review_id]
        [line] = [x for x in replies[0].text.splitlines() if review.title in x]
        assert len(line) <= len(review.title) + 110
    await chat.press("National only")
    assert chat.replies[0].ids == ("sprocket-failure-2022",)
    await chat.say("/learning reviews load-limits local")
    assert chat.replies[0].ids == ("flange-review-2020",)


async def test_what_recurs_names_each_review_and_the_themes_words_come_first(
    chat: Chat,
) -> None:
    replies = await chat.say("what do reviews say about record keeping")
    text = replies[0].text
    # The harbour review's only point is about records; the northern plant's second point is.
    assert "no record was kept. (Sprocket failure at the harbour works, 2022: Review, chapter 2)" \
        in text  # fmt: skip
    assert "Test records did not say which batch" in text


async def test_a_theme_across_the_reviews_asked_in_other_words(chat: Chat) -> None:
    for asked in (
        "logbook failures across the reviews",
        "what have reviews said about overload",
        "overload reviews - what are the common lessons",
    ):
        replies = await chat.say(asked)
        assert replies[0].kind == "learning-recurring", asked
    # the reviews as the subject, not where something is found, ask nothing of them
    replies = await chat.say("do we still keep logbooks of reviews")
    assert replies[0].kind != "learning-recurring"


async def test_reviews_on_a_theme_put_the_one_most_on_it_first_not_the_newest(
    chat: Chat,
) -> None:
    # The older northern plant review names two of the theme's words (logbook, records), the
    # newer harbour one only one.
    replies = await chat.say("which reviews are about record keeping")
    assert replies[0].ids[0] == "flange-review-2020"


async def test_a_theme_s_phrase_counts_in_its_words_other_forms(chat: Chat) -> None:
    # "night working" in "nights worked"; a single word does not (SEND is not "sending")
    replies = await chat.say("which reviews are about nights worked unchecked")
    assert replies[0].kind == "learning-list"
    assert set(replies[0].ids) == {"weld-audit-phase-1", "weld-audit-phase-2"}


async def test_learning_from_national_reviews_and_key_messages_for_a_team(chat: Chat) -> None:
    replies = await chat.say("overload - learning from national reviews")
    assert replies[0].kind == "learning-recurring"
    assert replies[0].ids == ("sprocket-failure-2022",)
    replies = await chat.say("key messages for my team about overload")
    assert replies[0].kind == "briefing" and replies[0].files


async def test_learning_asked_in_more_everyday_ways(chat: Chat) -> None:
    asked = {
        "northern plant review - what happened there": ("learning", "flange-review-2020"),
        "overload - has the national panel said anything": ("learning-recurring", None),
        "what have the overload reviews found in common": ("learning-recurring", None),
        "logbook - what do the case reviews keep saying": ("learning-recurring", None),
        "overload - is there a national review": ("learning-list", None),
    }
    for text, (kind, review) in asked.items():
        replies = await chat.say(text)
        assert replies[0].kind == kind, text
        if review:
            assert replies[0].id == review, text
    replies = await chat.say("what is the plant improving after the northern plant review")
    assert (replies[0].title or "").startswith("What the review recommended"), replies[0].title


async def test_lessons_for_a_sector(chat: Chat) -> None:
    replies = await chat.say("lessons for suppliers from reviews")
    assert replies[0].kind == "learning-recurring"
    assert set(replies[0].ids) == {"sprocket-failure-2022", "flange-review-2020"}


# --- the 7-minute briefing ------------------------------------------------------------------


async def test_a_briefing_on_a_theme_has_its_seven_parts_all_cited(chat: Chat) -> None:
    replies = await chat.say("7 minute briefing on load limits")
    assert replies[0].kind == "briefing"
    document = docx_of(replies[0])
    assert headings(document)[1:] == [
        "1. Background",
        "2. Why it matters",
        "3. What happened",
        "4. Key learning",
        "5. What should change",
        "6. Questions for reflection",
        "7. Find out more",
        "Record of use",
    ]
    titles = ("Flange testing at the northern plant", "Sprocket failure at the harbour works")
    key = bullets(document, "4. Key learning")
    assert key and all(any(t in line for t in titles) for line in key)
    assert bullets(document, "6. Questions for reflection")[0] == (
        "How do we know the load a part carries in daily use?"
    )
    assert "record checked 2026-12-07" in " ".join(bullets(document, "7. Find out more"))
    assert document.tables[0].rows[0].cells[0].text == "Team"


async def test_a_briefing_on_a_named_review(chat: Chat) -> None:
    replies = await chat.say("/briefing flange-review-2020")
    document = docx_of(replies[0])
    assert bullets(document, "5. What should change") == [
        "Test every batch at the load it will carry, not the catalogue load. (Flange testing at "
        "the northern plant, 2020: Report, recommendation 1)"
    ]
    [file] = replies[0].files
    assert file.filename == "7-minute-briefing-flange-testing-at-the-northern-plant.docx"
    # the chat's summary: the key points in short, their sources in the document
    review = chat.assistant.knowledge.learning.reviews["flange-review-2020"]
    for point in review.learning:
        assert f"- {point.text}\n" in replies[0].text or replies[0].text.endswith(point.text)
        assert point.where not in replies[0].text


async def test_briefing_without_a_subject_offers_themes(chat: Chat) -> None:
    replies = await chat.say("/briefing")
    assert [b.data for b in replies[0].buttons] == [
        "/briefing load-limits",
        "/briefing night-working",
        "/briefing record-keeping",
    ]
    replies = await chat.say("/briefing gardening")
    assert "I can't find a review or a theme called 'gardening'" in replies[0].text


async def test_the_console_saves_the_briefing_privately(
    assistant: Assistant, tmp_path: Path
) -> None:
    out = io.StringIO()
    await run_console(
        assistant.conversation, stdin=io.StringIO("/briefing load-limits\nquit\n"), stdout=out
    )
    saved = [line.removeprefix("Saved: ") for line in out.getvalue().splitlines()
             if line.startswith("Saved: ")]  # fmt: skip
    [path] = saved
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "4. Key learning" in [p.text for p in docx.Document(path).paragraphs]


async def test_telegram_sends_the_briefing_as_a_document(assistant: Assistant) -> None:
    api = FakeBotApi()
    await api.start()
    harness = await start_harness(assistant, api)
    try:
        await harness.send_text(42, "/briefing load-limits")
        [sent] = api.method_calls("sendDocument")
        assert sent["document"]["filename"].endswith(".docx")
        document = docx.Document(io.BytesIO(sent["document"]["data"]))
        assert "6. Questions for reflection" in [p.text for p in document.paragraphs]
    finally:
        await harness.app.shutdown()
        await api.stop()


# --- validation -----------------------------------------------------------------------------


def learning_copy(tmp_path: Path, change: Any) -> Layers:
    folder = tmp_path / "k"
    folder.mkdir()
    data = yaml_support.load((ROOT / "tests/fixtures/decision/learning.yaml").read_text())
    change(data)
    (folder / "learning.yaml").write_text(yaml_support.dump(data), encoding="utf-8")
    return Layers(folder)


def test_a_point_without_a_source_is_refused(tmp_path: Path) -> None:
    from config.validation import Problems

    def change(data: dict[str, Any]) -> None:
        del data["reviews"][0]["learning"][0]["where"]
        data["reviews"][1]["themes"] = ["gardening"]

    problems = Problems()
    load_learning(learning_copy(tmp_path, change), problems)
    assert problems.items == [
        "learning.yaml: flange-review-2020: learning.1.where: missing: say where in the source "
        "this comes from",
        "learning.yaml: sprocket-failure-2022: themes: unknown theme 'gardening' (add it to the "
        "list first)",
    ]


def test_records_resting_on_others_summaries_are_listed(tmp_path: Path) -> None:
    knowledge = load_knowledge(decision_knowledge(tmp_path), semantic=False)
    assert [r.id for r in knowledge.learning.unchecked()] == ["flange-review-2020"]


def test_a_catalogue_record_must_name_a_report(tmp_path: Path) -> None:
    directory = decision_knowledge(tmp_path)
    path = directory / "learning.yaml"
    path.write_text(path.read_text().replace("id: gadget-review-2015", "id: gadget-2016"))
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory, semantic=False)
    assert caught.value.problems == [
        "learning.yaml: gadget-2016: catalogue: no report with this id"
    ]


# --- the shipped records (smoke) ------------------------------------------------------------


def test_every_review_of_the_catalogue_has_a_record() -> None:
    settings = default_settings()
    knowledge = load_knowledge(settings.knowledge_path, settings.pack_path, semantic=False)
    reviews = {
        r.id
        for r in knowledge.reports.values()
        if r.kind not in ("form", "campaign material", "repository", "guidance")
    }
    assert reviews <= set(knowledge.learning.reviews)
    panel = [r for r in knowledge.learning.reviews.values() if r.kind == "national-review"]
    assert len(panel) >= 6 and all(r.findings for r in panel)


async def test_shipped_briefing_smoke(settings: Settings) -> None:
    assistant = await build_assistant(settings)
    try:
        chat = Chat(assistant)
        await chat.say("7 minute briefing on neglect")
        assert chat.replies[0].kind == "briefing" and chat.replies[0].files
    finally:
        await assistant.close()
