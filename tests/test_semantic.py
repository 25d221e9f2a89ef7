"""The semantic model loads from the installed package, never from the network, and the
decisions it feeds give what a user should see: answers by meaning, comparisons, no menus of
one, and questions about a conversation answered rather than started."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from knowledge.semantic import SemanticIndex, load_model, prepare
from tests import yaml_support
from tests.conftest import Chat
from tests.test_check import knowledge_copy, problems_of

ROOT = Path(__file__).resolve().parent.parent


def test_model_loads_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any attempt to reach the network (a socket, or wordllama's own download) fails the test."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("the semantic model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import requests

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setenv("HOME", str(tmp_path))  # no cache of an earlier download to fall back on
    model = load_model()
    index = SemanticIndex([("scr", ["what is a serious case review"]), ("bus", ["bus times"])])
    index._build_from(model)
    scores = index.scores("purpose of serious case reviews")
    assert list(scores) == ["scr", "bus"]
    assert attempts == []


async def test_paraphrase_without_shared_words_is_answered(chat: Chat) -> None:
    replies = await chat.say("purpose of serious case reviews")
    assert (replies[0].kind, replies[0].id) == ("answer", "serious-case-review")


async def test_typo_is_corrected_before_meaning_is_looked_up(chat: Chat) -> None:
    replies = await chat.say("what does a liason oficer do")
    assert (replies[0].kind, replies[0].id) == ("answer", "liaison-officer")


SILP, IMR = "significant-incident-learning-process", "individual-management-review"


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("difference between an SCR and a rapid review", ("serious-case-review", "rapid-review")),
        ("is a SILP the same as an IMR?", (SILP, IMR)),
        ("LSCB vs safeguarding partners", ("lscb", "safeguarding-partners")),
    ],
)
async def test_comparison_answers_both_and_the_difference(
    chat: Chat, text: str, pair: tuple[str, str]
) -> None:
    replies = await chat.say(text)
    topics = chat.assistant.knowledge.topics
    assert replies[0].ids == pair
    assert topics[pair[0]].title in replies[0].text and topics[pair[1]].title in replies[0].text
    note = chat.assistant.knowledge.comparison(*pair)
    assert note is not None and f"The difference: {note}" in replies[0].text
    await chat.press(topics[pair[1]].title)
    assert chat.replies[0].id == pair[1]


@pytest.mark.parametrize(
    "text",
    [
        "difference between a rapid review, an lcspr and a silp??",
        "rapid review vs lcspr vs silp",
        "whats the difference between rapid review, lcspr and silp, thanks",
    ],
)
async def test_three_topics_compared_answer_each_and_each_known_difference(
    chat: Chat, text: str
) -> None:
    compared = ("rapid-review", "safeguarding-practice-review", SILP)
    replies = await chat.say(text)
    knowledge = chat.assistant.knowledge
    assert replies[0].ids == compared
    assert all(knowledge.topics[i].title in replies[0].text for i in compared)
    note = knowledge.comparison("rapid-review", "safeguarding-practice-review")
    assert note is not None and note in replies[0].text
    assert [b.data for b in replies[0].buttons] == [f"/topic {i}" for i in compared]


@pytest.mark.parametrize(
    "text",
    [
        "difference between an scr and a rapid review, please",  # a comma after the last "and"
        "what's the difference, between an scr and a rapid review",
    ],
)
async def test_a_comma_outside_the_list_leaves_two_compared(chat: Chat, text: str) -> None:
    replies = await chat.say(text)
    assert replies[0].ids == ("serious-case-review", "rapid-review")


async def test_no_reply_is_a_menu_of_one(assistant: Assistant) -> None:
    """Every practice question, and every "Not what you meant?" behind its answer."""
    data = yaml_support.load((ROOT / "tests/eval/questions.yaml").read_text(encoding="utf-8"))
    questions = [item["q"] for items in data.values() for item in items]
    for number, question in enumerate(questions):
        chat = Chat(assistant, f"menu:{number}")
        await chat.say(question)
        for reply in chat.replies:
            assert reply.kind != "choices" or len(reply.buttons) >= 2, question
        if any("Not what you meant?" in b.label for b in chat.buttons):
            await chat.press("Not what you meant?")
            for reply in chat.replies:
                assert reply.kind != "choices" or len(reply.buttons) >= 2, question


async def test_not_what_you_meant_with_nothing_else_says_who_to_ask(chat: Chat) -> None:
    replies = await chat.say("/others")
    assert replies[0].kind == "help"
    assert chat.assistant.settings.partnership_email in replies[0].text


async def test_not_what_you_meant_offers_the_runners_up(chat: Chat) -> None:
    replies = await chat.say("/others rapid-review lscb")
    assert replies[0].kind == "choices"
    assert [b.data for b in replies[0].buttons] == ["/topic rapid-review", "/topic lscb"]


async def test_one_uncertain_document_is_asked_about_not_linked(chat: Chat) -> None:
    replies = await chat.say("the little boy in coventry who starved")
    assert replies[0].kind == "confirm"
    assert "Daniel Pelka" in replies[0].text
    assert not replies[0].links
    await chat.press("Yes")
    assert (chat.replies[0].kind, chat.replies[0].id) == ("report", "daniel-pelka")


def test_compare_notes_are_validated(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    path = directory / "topics.yaml"
    data = yaml_support.load(path.read_text(encoding="utf-8"))
    by_id = {t["id"]: t for t in data["topics"]}
    by_id["wood-review"]["compare"] = {
        "no-such-topic": "A line.",
        "wood-review": "Itself.",
        "lscb": "x" * 500,
    }
    by_id["rapid-review"]["compare"] = {"serious-case-review": "Written twice."}
    by_id["practice-audit"]["compare"] = ["not", "a", "mapping"]
    path.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")
    problems = problems_of(directory)
    assert (
        "topics.yaml: wood-review: compare.no-such-topic: no topic with id 'no-such-topic'"
        in problems
    )
    assert (
        "topics.yaml: wood-review: compare.wood-review: a topic cannot be compared with itself"
        in problems
    )
    assert (
        "topics.yaml: wood-review: compare.lscb: too long: 500 characters, at most 400" in problems
    )
    assert any(
        p.startswith("topics.yaml: rapid-review: compare.serious-case-review: this pair")
        or p.startswith("topics.yaml: serious-case-review: compare.rapid-review: this pair")
        for p in problems
    )
    assert (
        "topics.yaml: practice-audit: compare: expected a mapping of topic id -> "
        "a line on how they differ" in problems
    )


async def test_without_the_model_questions_are_matched_by_words(chat: Chat) -> None:
    """A broken install must not break every question: words alone still answer."""
    from concurrent.futures import Future

    broken: Future = Future()
    broken.set_exception(OSError("weights missing"))
    knowledge = chat.assistant.conversation.knowledge
    entries = [(t.id, (t.title, *t.questions)) for t in knowledge.topics.values()]
    semantic = SemanticIndex(entries, model=lambda: broken)
    chat.assistant.conversation.replace_knowledge(dataclasses.replace(knowledge, semantic=semantic))
    replies = await chat.say("what is an SCR")
    assert (replies[0].kind, replies[0].id) == ("answer", "serious-case-review")


def test_action_about_needs_a_start_label(tmp_path: Path) -> None:
    directory = knowledge_copy(tmp_path)
    path = directory / "actions.yaml"
    data = yaml_support.load(path.read_text(encoding="utf-8"))
    del data["actions"][0]["start"]
    path.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")
    first = data["actions"][0]["id"]
    assert f"actions.yaml: {first}: start: missing" in problems_of(directory)


async def test_report_command_never_offers_a_menu_of_one(chat: Chat) -> None:
    replies = await chat.say("/report somerset briefing")
    assert replies[0].kind == "confirm"
    assert [b.label for b in replies[0].buttons] == ["Yes, show it", "No"]
    await chat.press("No")
    assert chat.assistant.settings.partnership_email in chat.replies[0].text


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("can you tell me what an SCR is please", "what an serious case review is"),
        ("hi i need to know about lado thanks", "lado local authority designated officer"),
        ("thanks", "thanks"),  # courtesy alone is left as it is
    ],
)
def test_courtesy_is_dropped_before_embedding(text: str, seen: str) -> None:
    assert prepare(text) == seen


def test_support_counts_several_near_lines_above_one() -> None:
    """Both entries have a line as near as can be; only one has more lines near the question."""
    index = SemanticIndex(
        [
            ("board", ["local safeguarding board", "what was the lscb", "the old children board"]),
            ("stray", ["local safeguarding board", "bus times", "weather tomorrow"]),
        ]
    )
    index._build_from(load_model())
    scores = index.scores("local safeguarding board")
    assert abs(scores["board"] - scores["stray"]) < 1e-6  # tied on the nearest line
    support = index.support("local safeguarding board", ["board", "stray"])
    assert support["board"] > support["stray"] + 0.05


def with_reports(tmp_path: Path, *reports: dict[str, object]) -> Path:
    """The shipped knowledge with `reports` (id, title, kind, related) added to the catalogue."""
    directory = knowledge_copy(tmp_path)
    path = directory / "reports.yaml"
    data = yaml_support.load(path.read_text(encoding="utf-8"))
    for report in reports:
        data["reports"].append(
            {
                "group": data["groups"][0]["id"],
                "area": "Bedford Borough Safeguarding Children Partnership",
                "year": 2024,
                "aliases": [],
                "summary": "A document for the test.",
                "related": [],
                "url": f"https://example.org/{report['id']}.pdf",
                "link": "official",
                **report,
            }
        )
    path.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")
    return directory


def with_presentations(tmp_path: Path, *titles: str) -> Path:
    """The shipped knowledge with one presentation per title added to the catalogue."""
    decks: list[dict[str, object]] = [
        {"id": f"deck-{n}", "title": title, "kind": "presentation"}
        for n, title in enumerate(titles)
    ]
    return with_reports(tmp_path, *decks)


async def first_reply(settings, directory: Path, text: str):
    assistant = await build_assistant(dataclasses.replace(settings, knowledge_dir=str(directory)))
    try:
        [reply] = await Chat(assistant, "t:1").say(text)
    finally:
        await assistant.close()
    return reply


@pytest.mark.parametrize(
    ("titles", "linked"),
    [
        # "neglect" also names a topic, so the words alone do not settle it; but one
        # presentation has it in its name, so "slides" + "neglect" can mean only that one.
        (
            ("What we learned about neglect - presentation", "Working with fathers - presentation"),
            True,
        ),
        # Two have it: which one is a guess, so the user is asked.
        (
            ("What we learned about neglect - presentation", "Neglect of teenagers - presentation"),
            False,
        ),
    ],
)
async def test_a_document_named_by_kind_and_name_is_linked_only_when_it_is_the_only_one(
    settings, tmp_path: Path, titles: tuple[str, ...], linked: bool
) -> None:
    reply = await first_reply(
        settings, with_presentations(tmp_path, *titles), "the slides on neglect"
    )
    if linked:
        assert (reply.kind, reply.id) == ("report", "deck-0")
        assert reply.links and reply.links[0].url == "https://example.org/deck-0.pdf"
    else:
        assert reply.kind in ("choices", "confirm") and not reply.links
