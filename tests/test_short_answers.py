"""Lead with today, keep it short, and say what a link is: the first reply of a topic and its
"More" button, the report reply for each kind of link, the threshold check starting with a live
case, and `check` refusing knowledge that breaks these rules.

The mechanics run against a small fixture knowledge base (tests/fixtures/small_knowledge), so
that edits to the shipped content cannot change what they check; one smoke test covers the
shipped content.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from config.settings import Settings
from config.validation import KnowledgeError
from knowledge.loader import FIRST_REPLY_MAX, load_knowledge
from tests import yaml_support
from tests.cli import run_main
from tests.conftest import Chat, fixture_settings_file
from tests.packs_support import FIXTURE_PACKS, VALE, pack_settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "small_knowledge"


def fixture_copy(tmp_path: Path, file: str, change: Callable[[Any], None]) -> Path:
    """A copy of the fixture knowledge whose `file` has been changed by `change`."""
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, target)
    data = yaml_support.load((target / file).read_text(encoding="utf-8"))
    change(data)
    (target / file).write_text(yaml_support.dump(data, sort_keys=False), encoding="utf-8")
    return target


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return caught.value.problems


def entry(items: list[dict[str, Any]], entry_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in items if i["id"] == entry_id)
    return found


@pytest.fixture
async def small(settings: Settings, tmp_path: Path) -> AsyncIterator[Assistant]:
    # A fixture partnership (its pack's documents refer to no group the small base lacks).
    assistant = await build_assistant(pack_settings(settings, tmp_path, knowledge=FIXTURE))
    yield assistant
    await assistant.close()


# --- validation ----------------------------------------------------------------------------------


def test_fixture_is_valid() -> None:
    knowledge = load_knowledge(FIXTURE)
    assert knowledge.reports["gamma-coverage"].link == "coverage"
    assert knowledge.topics["widget-review"].more


def test_first_reply_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        entry(data["topics"], "widget-review")["answer"] = "x" * (FIRST_REPLY_MAX + 1)

    assert problems_of(fixture_copy(tmp_path, "topics.yaml", change)) == [
        f"topics.yaml: widget-review: answer: too long: {FIRST_REPLY_MAX + 1} characters, "
        f"at most {FIRST_REPLY_MAX}"
    ]


def test_first_reply_at_the_limit_is_accepted(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        entry(data["topics"], "widget-review")["answer"] = "x" * FIRST_REPLY_MAX

    load_knowledge(fixture_copy(tmp_path, "topics.yaml", change))


def test_report_link_kind_is_required_and_checked(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del entry(data["reports"], "alpha-official")["link"]
        entry(data["reports"], "beta-archive")["link"] = "mirror"
        entry(data["reports"], "delta-unknown")["link"] = "official"

    assert problems_of(fixture_copy(tmp_path, "reports.yaml", change)) == [
        "reports.yaml: alpha-official: link: missing: say what the url is "
        "(official, archive, coverage)",
        "reports.yaml: beta-archive: link: unknown link kind 'mirror' "
        "(one of: official, archive, coverage)",
        "reports.yaml: delta-unknown: link: given without a url: remove it, or give the url",
    ]


def test_full_report_whose_only_link_is_coverage_is_refused(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        entry(data["reports"], "alpha-official")["link"] = "coverage"

    assert problems_of(fixture_copy(tmp_path, "reports.yaml", change)) == [
        "reports.yaml: alpha-official: link: a full report whose only link is news coverage: "
        "link an official or archive copy, or set url: null so the reply says to ask for a copy"
    ]


def test_check_command_refuses_a_coverage_only_full_report(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        entry(data["reports"], "beta-archive")["link"] = "coverage"

    directory = fixture_copy(tmp_path, "reports.yaml", change)
    result = run_main(tmp_path, "check", settings=fixture_settings_file(directory, tmp_path))
    assert result.returncode == 1
    assert "reports.yaml: beta-archive: link: a full report whose only link is news" in (
        result.stderr
    )


def test_a_live_case_may_not_start_on_the_walk_for_old_incidents(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["start"] = "old-abuse"
        entry(data["questions"], "old-abuse")["on_no"] = "harmed"

    assert problems_of(fixture_copy(tmp_path, "threshold.yaml", change)) == [
        "threshold.yaml: -: start: 'old-abuse' is on the walk for incidents before 2019 "
        "(legacy_test start 'old-abuse'): a live case must start with today's questions"
    ]


# --- the first reply and "More" ------------------------------------------------------------------


async def test_first_reply_then_more(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("what is a widget review")
    first = chat.replies[0]
    assert (first.kind, first.id) == ("answer", "widget-review")
    assert first.text == (
        "A widget review is done today by the widget partners within 15 working days."
    )
    assert "gadget" not in first.text, "history waits behind More"
    assert [link.url for link in first.links] == ["https://example.org/widget-guidance"]
    assert "Source:" not in first.text, "sources are listed once, as links"
    assert [(b.label, b.data) for b in chat.buttons] == [
        ("More", "/topic widget-review more"),
        ("Sprocket audit", "/topic sprocket-audit"),
    ]
    await chat.press("More")
    assert chat.replies[0].kind == "answer-more"
    assert chat.replies[0].title == "Widget review: more"
    assert "gadget board" in chat.replies[0].text
    assert [b.data for b in chat.buttons] == ["/topic sprocket-audit"]


async def test_no_more_button_when_the_first_reply_says_it_all(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("what is a sprocket audit")
    assert chat.replies[0].id == "sprocket-audit"
    assert "More" not in [b.label for b in chat.buttons]


async def test_more_of_an_unknown_topic_is_answered_plainly(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/topic no-such-topic more")
    assert chat.replies[0].kind in ("fallback", "choices")
    assert "More" not in [b.label for b in chat.buttons]


def test_more_in_the_console_is_a_numbered_option(tmp_path: Path) -> None:
    settings = f"knowledge_dir: {FIXTURE}\npartnership: {VALE}\npartnerships_dir: {FIXTURE_PACKS}\n"
    result = run_main(
        tmp_path, "chat", stdin="what is a widget review\n1\nquit\n", settings=settings
    )
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("you> ")
    assert "[1] More" in turns[1]
    assert "Link: Widget guidance (example): https://example.org/widget-guidance" in turns[1]
    assert turns[2].startswith("== Widget review: more ==")


# --- report replies by kind of link --------------------------------------------------------------


async def test_official_link_is_offered_as_the_document(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/report alpha-official")
    reply = chat.replies[0]
    assert "publisher's own copy. Open it with the link below." in reply.text
    assert [(link.label, link.url) for link in reply.links] == [
        ("Open: Alpha review", "https://example.org/alpha.pdf")
    ]


async def test_archive_link_names_who_keeps_the_copy(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/report beta-archive")
    reply = chat.replies[0]
    assert "a copy kept by archive.example.net, not the publisher's own site" in reply.text
    assert [link.label for link in reply.links] == ["Open (copy): Beta review"]


async def test_coverage_is_never_offered_as_the_document(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/report gamma-coverage")
    reply = chat.replies[0]
    assert "news coverage of it (news.example.com), not the document itself" in reply.text
    assert "The document itself is not linked here" in reply.text
    assert small.settings.partnership_email in reply.text
    assert "Open it with the link below" not in reply.text
    assert [link.label for link in reply.links] == ["News coverage: Gamma review executive summary"]


async def test_no_known_copy_says_whom_to_ask(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/report delta-unknown")
    reply = chat.replies[0]
    assert reply.links == ()
    assert "ask the partnership (EVSCP) for a copy" in reply.text


# --- threshold order -----------------------------------------------------------------------------


async def test_live_case_starts_with_todays_question(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/threshold")
    assert chat.replies[-1].id == "harmed"
    assert chat.replies[-1].title == "Question 1"
    assert "2015" not in chat.text and "old test" not in chat.text.lower()


async def test_old_walk_only_on_request(small: Assistant) -> None:
    chat = Chat(small)
    await chat.say("/threshold 2015")
    assert chat.replies[0].title == "The old test"
    assert chat.replies[-1].id == "old-abuse"
    await chat.say("yes")
    assert chat.replies[0].title == "Would have met the old test"
    assert "Show the 2015 serious case review test" not in [b.label for b in chat.buttons]


async def test_every_outcome_starts_with_the_child(small: Assistant) -> None:
    for answers, title in ((["yes", "yes"], "Notify"), (["no"], "Nothing statutory")):
        chat = Chat(small, f"order:{title}")
        await chat.say("/threshold")
        for answer in answers:
            await chat.say(answer)
        assert chat.replies[0].title == title
        assert chat.replies[0].text.startswith("First, the child: if this child")
        assert "Type /urgent for who to call." in chat.replies[0].text
        assert "Show the 2015 serious case review test" in [b.label for b in chat.buttons]


# --- the shipped content: a smoke test -----------------------------------------------------------


def test_shipped_content_follows_the_rules() -> None:
    knowledge = load_knowledge(ROOT / "knowledge")
    assert all(len(t.answer) <= FIRST_REPLY_MAX for t in knowledge.topics.values())
    new_topics = {
        "escalation",
        "information-sharing",
        "taking-part-in-a-review",
        "early-help",
        "child-exploitation",
        "neglect",
        "domestic-abuse",
        "missing-children",
        "other-statutory-reviews",
        "deaths-in-settings",
    }
    assert new_topics <= set(knowledge.topics)
    assert all(r.link for r in knowledge.reports.values() if r.url)
    assert not [
        r.id for r in knowledge.reports.values() if r.kind == "full report" and r.link == "coverage"
    ]
    assert knowledge.reports["working-together-2015"].url.startswith(  # type: ignore[union-attr]
        "https://webarchive.nationalarchives.gov.uk/"
    )
    guide = knowledge.threshold
    assert guide.questions[guide.start].text == "Has a child (under 18) died?"
    assert "caused or contributed to" in guide.questions["harm-abuse"].text
    assert "must" not in knowledge.topics["rapid-review"].answer
