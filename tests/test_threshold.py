"""The threshold guide (/threshold). Its mechanics run on a small fixture tree
(tests/fixtures/threshold.yaml), so the partnership can rewrite knowledge/threshold.yaml without
breaking them: every path in the core, the real console and Telegram; help, definitions, back,
cancel and stale buttons mid-check; and `check` naming the problems of broken trees. One smoke
test walks every path of the shipped tree, and checks the outcomes the law fixes by their ids."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.core.controls import Said
from bot.core.conversation import Context
from bot.core.flow import Turn
from bot.core.replies import Incoming, Reply
from config.settings import Settings
from config.validation import KnowledgeError
from knowledge.loader import load_knowledge
from tests import yaml_support
from tests.cli import run_main
from tests.conftest import Chat
from tests.form_fixture import FIXTURE_THRESHOLD, knowledge_with
from tests.telegram_support import TelegramHarness, buttons_of

ROOT = Path(__file__).resolve().parent.parent
TREE = yaml_support.load(FIXTURE_THRESHOLD.read_text(encoding="utf-8"))
SHIPPED_TREE = yaml_support.load(
    (ROOT / "knowledge" / "threshold.yaml").read_text(encoding="utf-8")
)
LABELS = {"yes": "Yes", "no": "No", "not sure": "Not sure"}
NOTIFY = "Start a significant incident notification"
LEGACY_BUTTON = "Show the 2015 serious case review test"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The assistant of every test here runs on the fixture tree."""
    directory = knowledge_with(tmp_path, threshold=FIXTURE_THRESHOLD)
    return dataclasses.replace(settings, knowledge_dir=str(directory))


def tree_paths(start: str, tree: dict[str, Any] = TREE) -> list[tuple[tuple[str, ...], str]]:
    """Every (answers, outcome id) from `start`, read straight from the YAML.

    Deliberately not through knowledge.threshold, so the walk does not trust the code it tests.
    """
    questions = {q["id"]: q for q in tree["questions"]}
    outcomes = {o["id"] for o in tree["outcomes"]}
    paths: list[tuple[tuple[str, ...], str]] = []

    def walk(node: str, answers: tuple[str, ...]) -> None:
        if node in outcomes:
            paths.append((answers, node))
            return
        for answer in LABELS:
            walk(questions[node]["on_" + answer.replace(" ", "_")], (*answers, answer))

    walk(start, ())
    return paths


# (the command that starts the check, answers, outcome): today's check, and the walk for an
# incident before September 2019, which only /threshold 2015 starts.
def all_paths(tree: dict[str, Any]) -> list[tuple[str, tuple[str, ...], str]]:
    return [("/threshold", *path) for path in tree_paths(tree["start"], tree)] + [
        ("/threshold 2015", *path) for path in tree_paths(tree["legacy_test"]["start"], tree)
    ]


PATHS = all_paths(TREE)
SAFETY_FIRST = "First, the child: if this child"
OUTCOME_TITLES = {o["id"]: o["title"] for o in TREE["outcomes"]}
QUESTION_TEXTS = {q["id"]: " ".join(q["text"].split()) for q in TREE["questions"]}
HELP_TEXTS = {q["id"]: " ".join(q["help"].split()) for q in TREE["questions"]}


async def press(chat: Chat, label: str) -> list[Reply]:
    """Press the button labelled exactly `label` (Chat.press matches substrings: No/Not sure)."""
    for button in chat.buttons:
        if button.label == label:
            incoming = Incoming(chat.chat, button.data, pressed=True)
            chat.replies = await chat.assistant.conversation.handle(incoming)
            return chat.replies
    raise AssertionError(f"no button {label!r} among {[b.label for b in chat.buttons]}")


def data_of(chat: Chat, label: str) -> str:
    return next(b.data for b in chat.buttons if b.label == label)


async def answer_all(chat: Chat, answers: tuple[str, ...] | list[str]) -> None:
    await chat.say("/threshold")
    for answer in answers:
        await press(chat, LABELS[answer])


# --- every path ----------------------------------------------------------------------------------


def test_the_trees_have_paths_to_every_outcome() -> None:
    """Guards the path tests below against a walk that finds (almost) nothing."""
    assert {outcome for _, _, outcome in PATHS} == set(OUTCOME_TITLES)
    assert len(PATHS) == 14
    shipped = {o["id"] for o in SHIPPED_TREE["outcomes"]}
    assert {outcome for _, _, outcome in all_paths(SHIPPED_TREE)} == shipped


async def test_every_path_in_the_core(assistant: Assistant, subtests: Any) -> None:
    await walk_every_path(assistant, TREE, subtests)


async def walk_every_path(assistant: Assistant, tree: dict[str, Any], subtests: Any) -> None:
    """Each path of `tree` from its first question to its outcome, and what every outcome has."""
    titles = {o["id"]: o["title"] for o in tree["outcomes"]}
    for number, (command, answers, outcome) in enumerate(all_paths(tree)):
        with subtests.test(command=command, answers=answers, outcome=outcome):
            chat = Chat(assistant, f"path:{number}")
            await chat.say(command)
            pre_2019 = command == "/threshold 2015"
            assert (tree["legacy_test"]["title"] in chat.text) == pre_2019
            for step, answer in enumerate(answers, 1):
                assert chat.replies[-1].title == f"Question {step}"
                await press(chat, LABELS[answer])
            assert [r.title for r in chat.replies] == [titles[outcome]]
            assert chat.replies[0].id == outcome
            # The child's safety now comes first in every outcome, before any process.
            assert chat.replies[0].text.startswith(SAFETY_FIRST)
            assert "/urgent" in chat.replies[0].text
            assert "safeguarding partners" in chat.text
            assert "Who decides:" in chat.text and "Timescale:" in chat.text
            assert "Source:" not in chat.text, "sources are listed once, as links"
            assert all(link.url.startswith("http") for link in chat.replies[0].links)
            assert chat.replies[0].links, "an outcome cites its sources"
            assert data_of(chat, NOTIFY) == "/notify"
            assert data_of(chat, "Start again") == "/threshold"
            assert any(b.label == LEGACY_BUTTON for b in chat.buttons) != pre_2019
            # The check is over: "yes" is now an ordinary message, not an answer.
            await chat.say("yes")
            assert not any(r.title and r.title.startswith("Question") for r in chat.replies)


async def test_every_path_over_telegram(telegram: TelegramHarness, subtests: Any) -> None:
    for number, (command, answers, outcome) in enumerate(PATHS):
        with subtests.test(command=command, answers=answers, outcome=outcome):
            chat_id = 1000 + number
            sent = await telegram.send_text(chat_id, command)
            for step, answer in enumerate(answers, 1):
                assert sent[-1]["text"].startswith(f"<b>Question {step}</b>")
                buttons = {b["text"]: b for b in buttons_of(sent[-1])}
                sent = await telegram.press(chat_id, buttons[LABELS[answer]]["callback_data"])
            title = html.escape(OUTCOME_TITLES[outcome], quote=False)
            assert sent[0]["text"].startswith(f"<b>{title}</b>")
            assert "safeguarding partners" in sent[0]["text"]
            assert any(b.get("url", "").startswith("http") for b in buttons_of(sent[0]))
            last = {b["text"]: b for b in buttons_of(sent[-1])}
            assert last[NOTIFY]["callback_data"] == "/notify"


def test_a_path_through_the_real_console(tmp_path: Path) -> None:
    """Typed labels pick the buttons; back forgets an answer; the outcome lists its next steps."""
    lines = ["/threshold", "no", "yes", "back", "Yes", "yes", "quit"]
    directory = knowledge_with(tmp_path, threshold=FIXTURE_THRESHOLD)
    result = run_main(
        tmp_path, "chat", stdin="\n".join(lines) + "\n", settings=f"knowledge_dir: {directory}\n"
    )
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("you> ")
    assert f"== Question 1 ==\n{QUESTION_TEXTS['q-died']}" in turns[1]
    assert turns[2].startswith(f"== Question 2 ==\n{QUESTION_TEXTS['q-harmed']}")
    assert turns[4].startswith("== Question 2 ==")  # back from question 3
    outcome = turns[6]
    assert outcome.startswith(f"== {OUTCOME_TITLES['o-notify']} ==")
    assert "Fixture timescale of the notify outcome" in outcome
    assert "Link: Fixture source one: https://www.gov.uk/fixture-one" in outcome
    assert "Source:" not in outcome
    assert f"[1] {NOTIFY}" in outcome
    assert f"[2] {LEGACY_BUTTON}" in outcome


# --- outcomes and the 2015 test ------------------------------------------------------------------


async def test_an_outcome_leads_with_the_child_then_the_route(chat: Chat) -> None:
    await answer_all(chat, ["yes", "yes"])
    assert [r.id for r in chat.replies] == ["o-notify"]
    assert chat.replies[0].title == OUTCOME_TITLES["o-notify"]
    text = chat.replies[0].text
    assert text.startswith(SAFETY_FIRST)
    assert text.index("Fixture text of the notify") < text.index("Who decides: Fixture decider")
    assert text.index("Who decides:") < text.index("Timescale: Fixture timescale of the notify")
    assert "informs the decision; it does not make it" in text
    assert [link.url for link in chat.replies[0].links] == ["https://www.gov.uk/fixture-one"]


async def test_not_sure_ends_at_its_own_outcome(chat: Chat) -> None:
    await answer_all(chat, ["not sure"])
    assert [r.id for r in chat.replies] == ["o-ask"]


async def test_a_live_case_starts_with_the_child_not_the_date(chat: Chat) -> None:
    await chat.say("/threshold")
    assert chat.replies[-1].text == QUESTION_TEXTS["q-died"]
    assert "2015" not in chat.text and "legacy" not in chat.text.lower()


async def test_pre_2019_case_gets_the_2015_test(chat: Chat) -> None:
    await chat.say("/threshold 2015")
    titles = [r.title for r in chat.replies]
    assert titles[0] == TREE["legacy_test"]["title"]
    assert chat.replies[0].text == TREE["legacy_test"]["text"]
    assert titles[-1] == "Question 1"
    assert chat.replies[-1].text == QUESTION_TEXTS["l-abuse"]
    await press(chat, "Yes")
    await press(chat, "Yes")
    assert [r.title for r in chat.replies] == [OUTCOME_TITLES["o-legacy-met"]]
    assert chat.replies[0].buttons, "the next steps go on the outcome"
    assert LEGACY_BUTTON not in [b.label for b in chat.buttons]


async def test_2015_test_on_request(chat: Chat) -> None:
    await answer_all(chat, ["no", "no"])
    assert chat.replies[0].title == OUTCOME_TITLES["o-none"]
    await press(chat, LEGACY_BUTTON)
    assert chat.replies[0].title == TREE["legacy_test"]["title"]
    assert chat.replies[-1].text == QUESTION_TEXTS["l-abuse"]


async def test_2015_test_mid_check_keeps_the_current_question(chat: Chat) -> None:
    await answer_all(chat, ["no"])
    await chat.say("/threshold 2015")
    assert chat.replies[0].title == TREE["legacy_test"]["title"]
    assert chat.replies[-1].text == QUESTION_TEXTS["q-harmed"]
    assert chat.replies[-1].title == "Question 2"


async def test_answers_can_be_typed_in_any_case(chat: Chat) -> None:
    await chat.say("/threshold")
    await chat.say("NO")
    await chat.say("Yes.")
    assert chat.replies[-1].title == "Question 3"
    await chat.say("not sure")
    assert chat.replies[0].title == OUTCOME_TITLES["o-ask"]


# --- the shipped tree: one smoke test ------------------------------------------------------------

# Routes the law fixes, by outcome id (the wording is the partnership's to change): a death with
# abuse or neglect suspected is notified; a looked-after child's death is notified whatever the
# cause; serious harm without abuse but with concerns about working together is local learning.
SHIPPED_ROUTES = {
    ("yes", "yes"): "notify-panel",
    ("yes", "no", "yes"): "looked-after-death",
    ("no", "yes", "yes"): "notify-panel",
    ("no", "yes", "no", "yes"): "below-threshold",
    ("not sure",): "discuss-with-dsl",
}


async def test_shipped_tree_every_path_and_the_routes_the_law_fixes(
    settings: Settings, subtests: Any
) -> None:
    shipped = dataclasses.replace(settings, knowledge_dir=str(ROOT / "knowledge"))
    assistant = await build_assistant(shipped)
    try:
        await walk_every_path(assistant, SHIPPED_TREE, subtests)
        for number, (answers, outcome) in enumerate(SHIPPED_ROUTES.items()):
            chat = Chat(assistant, f"route:{number}")
            await answer_all(chat, answers)
            assert [r.id for r in chat.replies] == [outcome], answers
    finally:
        await assistant.close()


async def test_free_text_starts_the_check(chat: Chat) -> None:
    """Asked for, the check starts; asked about, it is offered with a button (issue 11)."""
    for text in ("start the threshold check", "I want to check the threshold for my case"):
        await chat.say(text)
        assert chat.replies[-1].title == "Question 1", text
        await chat.say("cancel")
    for text in ("does this meet the SCR threshold?", "should we notify?"):
        await chat.say(text)
        await chat.press("Start the threshold check")
        assert chat.replies[-1].title == "Question 1", text
        await chat.say("cancel")


# --- help, definitions, bad input ----------------------------------------------------------------


async def test_definition_asked_mid_check_then_the_question_again(chat: Chat) -> None:
    await chat.say("/threshold")
    await press(chat, "No")
    assert chat.replies[-1].id == "q-harmed"
    await chat.say("what does serious harm mean?")
    assert chat.replies[0].id == "serious-harm"  # the knowledge base's answer
    assert chat.replies[-1].title == "Question 2"
    assert chat.replies[-1].text == QUESTION_TEXTS["q-harmed"]
    assert [b.label for b in chat.buttons][:3] == ["Yes", "No", "Not sure"]
    await press(chat, "Yes")  # the check carries on where it was
    assert chat.replies[-1].text == QUESTION_TEXTS["q-harm-abuse"]


async def test_help_explains_the_current_question(chat: Chat) -> None:
    await chat.say("/threshold")
    for text in ("help", "What does this mean?"):
        await chat.say(text)
        assert chat.replies[0].title == "What this question means"
        assert chat.replies[0].text == HELP_TEXTS["q-died"]
        assert chat.replies[-1].title == "Question 1"
    await press(chat, "What does this mean?")
    assert chat.replies[0].text == HELP_TEXTS["q-died"]


async def test_unclear_answer_asks_again(chat: Chat) -> None:
    await chat.say("/threshold")
    await chat.say("perhaps, it was around then")
    assert (
        chat.replies[0].text == "Please answer yes, no or not sure (or type help, back or cancel)."
    )
    assert chat.replies[-1].title == "Question 1"
    await chat.say("no")
    assert chat.replies[-1].title == "Question 2"


# --- back, cancel, stale buttons, durability -----------------------------------------------------


async def test_back_returns_to_the_previous_question_and_forgets_its_answer(chat: Chat) -> None:
    await chat.say("/threshold")
    await press(chat, "No")
    await press(chat, "Yes")
    assert chat.replies[-1].title == "Question 3"
    await press(chat, "Back")
    assert chat.replies[-1].title == "Question 2"
    await chat.say("/back")
    assert chat.replies[-1].title == "Question 1"
    await press(chat, "Yes")  # now a death: the earlier "No" is forgotten
    assert chat.replies[-1].text == QUESTION_TEXTS["q-abuse"]


async def test_back_at_the_first_question_stays_there(chat: Chat) -> None:
    await chat.say("/threshold")
    assert "Back" not in [b.label for b in chat.buttons]
    await chat.say("back")
    assert "nothing to go back to" in chat.replies[0].text
    assert chat.replies[-1].title == "Question 1"
    await press(chat, "No")
    assert chat.replies[-1].title == "Question 2"


@pytest.mark.parametrize("how", ["button", "typed", "command"])
async def test_cancel_ends_the_check(chat: Chat, how: str) -> None:
    await chat.say("/threshold")
    await press(chat, "No")
    if how == "button":
        await press(chat, "Cancel")
    else:
        await chat.say("cancel" if how == "typed" else "/cancel")
    assert "stopped the threshold check" in chat.text
    await chat.say("no")
    assert not any(r.title and r.title.startswith("Question") for r in chat.replies)


async def test_old_buttons_do_not_answer_the_current_question(chat: Chat) -> None:
    await chat.say("/threshold")
    first_yes = data_of(chat, "Yes")
    await press(chat, "No")
    await chat.say(first_yes)  # pressed again, scrolled back up
    assert "belongs to an earlier question" in chat.replies[0].text
    assert chat.replies[-1].title == "Question 2"
    assert chat.replies[-1].text == QUESTION_TEXTS["q-harmed"]
    await chat.say("cancel")
    await chat.say(first_yes)
    assert "already finished or was cancelled" in chat.replies[0].text
    assert data_of(chat, "Start again") == "/threshold"


async def test_check_survives_a_restart(settings: Settings) -> None:
    """State is saved to SQLite after each answer: a new process carries on at question 3."""
    first = await build_assistant(settings)
    try:
        chat = Chat(first, "restart:1")
        await answer_all(chat, ["no", "yes"])
        assert chat.replies[-1].title == "Question 3"
    finally:
        await first.close()
    second = await build_assistant(settings)
    try:
        chat = Chat(second, "restart:1")
        await chat.say("back")
        assert chat.replies[-1].title == "Question 2"
        await chat.say("yes")
        await chat.say("yes")
        assert [r.id for r in chat.replies] == ["o-notify"]
    finally:
        await second.close()


async def test_guide_changed_mid_check_starts_again(chat: Chat) -> None:
    await chat.say("/threshold")
    await press(chat, "No")
    conversation = chat.assistant.conversation
    guide = conversation.knowledge.threshold
    questions = {k: v for k, v in guide.questions.items() if k != "q-harmed"}
    changed = dataclasses.replace(guide, questions=questions)
    conversation.replace_knowledge(dataclasses.replace(conversation.knowledge, threshold=changed))
    await chat.say("yes")
    assert "has changed" in chat.replies[0].text
    assert chat.replies[-1].title == "Question 1"


class OtherFlow:
    """Stands in for another engineer's flow (the notification form) holding a draft."""

    name = "other"
    command = "/other"
    commands = frozenset[str]()

    async def handle(self, ctx: Context, said: Said) -> Turn:
        return Turn([Reply("other flow got it")], "waiting")


async def test_threshold_does_not_discard_another_flows_draft(chat: Chat) -> None:
    conversation = chat.assistant.conversation
    conversation.add_flow(OtherFlow())

    async def begin(ctx: Context, arg: str) -> list[Reply]:
        ctx.session.flow, ctx.session.data = "other", {"draft": "kept"}
        return [Reply("begun")]

    conversation.add_command("other", begin)
    await chat.say("/other")
    await chat.say("/threshold")
    assert "something else in progress" in chat.text
    await chat.say("next")
    assert chat.text.strip() == "other flow got it"


async def test_threshold_in_the_telegram_menu(telegram: TelegramHarness) -> None:
    channel = telegram.app.bot_data["channel"]
    await channel.post_init(telegram.app)
    commands = telegram.api.method_calls("setMyCommands")[-1]["commands"]
    assert "threshold" in [c["command"] for c in commands]


# --- validation of broken trees ------------------------------------------------------------------


def broken_copy(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of knowledge/ with the fixture tree, changed by `change`."""
    target = knowledge_with(tmp_path, threshold=FIXTURE_THRESHOLD)
    tree = yaml_support.load((target / "threshold.yaml").read_text(encoding="utf-8"))
    change(tree)
    (target / "threshold.yaml").write_text(
        yaml_support.dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return target


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return caught.value.problems


def node(tree: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        n for n in [*tree["questions"], *tree["outcomes"]] if n["id"] == node_id
    )
    return found


def test_shipped_tree_is_valid() -> None:
    guide = load_knowledge(ROOT / "knowledge").threshold
    assert guide.start in guide.questions
    assert set(guide.outcomes) == {o["id"] for o in SHIPPED_TREE["outcomes"]}


def test_loop(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        node(tree, "q-harm-abuse")["on_not_sure"] = "q-died"

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: q-harm-abuse: on_not_sure: leads back to 'q-died', a loop: "
        "q-died -> q-harmed -> q-harm-abuse -> q-died"
    ]


def test_answer_naming_no_node(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        node(tree, "q-harm-abuse")["on_yes"] = "notify-the-panel"

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: q-harm-abuse: on_yes: no question or outcome with id 'notify-the-panel'"
    ]


def test_unreachable_nodes(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        tree["questions"].append(
            {
                "id": "orphan",
                "text": "Is this ever asked?",
                "help": "No answer leads here.",
                "on_yes": "orphan-outcome",
                "on_no": "o-notify",
                "on_not_sure": "o-ask",
            }
        )
        tree["outcomes"].append({**node(tree, "o-notify"), "id": "orphan-outcome"})

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: orphan: id: not reachable from start 'q-died' or legacy_test "
        "start 'l-abuse'",
        "threshold.yaml: orphan-outcome: id: not reachable from start 'q-died' or "
        "legacy_test start 'l-abuse'",
    ]


def test_missing_outcome_field(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        del node(tree, "o-notify")["timescale"]

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: o-notify: timescale: missing"
    ]


def test_outcome_must_name_the_safeguarding_partners(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        node(tree, "o-none")["who_decides"] = "Your agency decides."

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: o-none: who_decides: must say that the decision rests "
        "with the safeguarding partners"
    ]


def test_id_shared_by_a_question_and_an_outcome(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        tree["outcomes"].append({**node(tree, "o-notify"), "id": "q-harmed"})

    assert "threshold.yaml: q-harmed: id: duplicate id" in problems_of(
        broken_copy(tmp_path, change)
    )


def test_malformed_source_and_unknown_start(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        tree["start"] = "first"
        node(tree, "o-notify")["sources"][0]["url"] = "www.gov.uk/report"
        tree["legacy_test"]["start"] = "when"

    assert problems_of(broken_copy(tmp_path, change)) == [
        "threshold.yaml: o-notify: sources[1].url: malformed link 'www.gov.uk/report': "
        "expected an http(s) address",
        "threshold.yaml: -: start: no question with id 'first'",
        "threshold.yaml: legacy_test: start: no question with id 'when'",
    ]


def test_unquoted_no_in_yaml_is_named(tmp_path: Path) -> None:
    """YAML reads a bare `no` as false: the problem names the field instead of crashing."""
    target = broken_copy(tmp_path, lambda tree: None)
    path = target / "threshold.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("on_no: o-review", "on_no: no"), encoding="utf-8")
    problems = problems_of(target)
    assert "threshold.yaml: q-abuse: on_no: expected text, got bool" in problems


def test_check_command_prints_the_problems(tmp_path: Path) -> None:
    def change(tree: dict[str, Any]) -> None:
        node(tree, "q-harm-abuse")["on_not_sure"] = "q-died"
        del node(tree, "o-review")["sources"]

    directory = broken_copy(tmp_path, change)
    result = run_main(tmp_path, "check", settings=f"knowledge_dir: {directory}\n")
    assert result.returncode == 1
    assert "threshold.yaml: o-review: sources: missing: cite at least one source" in (result.stderr)
    assert "threshold.yaml: q-harm-abuse: on_not_sure: leads back to 'q-died'" in result.stderr
    assert "2 problems found." in result.stderr
