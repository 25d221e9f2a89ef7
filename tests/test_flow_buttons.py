"""One way to write a flow: each flow's buttons send `/<command> <action> [arg]`, its own
command, handled by the flow; the button data of the previous release, still in users' chats,
keeps working; every button's data fits what Telegram carries; and each flow sets
`session.step` in one place. Also what "submit" means once a form has been submitted, and what
"in progress" says.

The form is the small fixture form (tests/fixtures/notification_form.yaml)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.core.flow import fits
from bot.core.replies import Button, Incoming, Reply
from config.settings import ROOT, Settings
from tests.conftest import Chat
from tests.form_fixture import with_fixture_form
from tests.test_notification import answer_until, reach, signed_in, start_form

SIGNIN_ADDRESS = "robin.tester@example.org"
FIRST_QUESTION = "child-died"  # knowledge/threshold.yaml's start


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_fixture_form(settings, tmp_path)


class Recording(Chat):
    """A chat that keeps every button it was shown."""

    def __init__(self, assistant: Assistant, chat: str = "test:1") -> None:
        super().__init__(assistant, chat)
        self.seen: list[Button] = []

    async def say(self, text: str) -> list[Reply]:
        replies = await super().say(text)
        self.seen += self.buttons
        return replies

    async def press(self, label: str) -> list[Reply]:
        replies = await super().press(label)
        self.seen += self.buttons
        return replies


async def send(chat: Chat, data: str) -> list[Reply]:
    """Press a button whose data is `data` (one of an earlier release, say)."""
    chat.replies = await chat.assistant.conversation.handle(Incoming(chat.chat, data, True))
    return chat.replies


async def slo_chat(assistant: Assistant, name: str) -> Chat:
    await signed_in(assistant, name)
    return Chat(assistant, name)


@pytest.fixture
async def slo(assistant: Assistant) -> Chat:
    """A chat signed in as the registry's SLO."""
    return await slo_chat(assistant, "test:1")


def data_of(chat: Chat, label: str) -> str:
    return next(b.data for b in chat.buttons if b.label == label)


# --- the scheme -------------------------------------------------------------------------------


async def test_every_form_button_is_a_form_command_that_fits(assistant: Assistant) -> None:
    await signed_in(assistant, "test:1")
    chat = Recording(assistant)
    await start_form(chat)
    await chat.say("/notify")  # the resume offer
    await chat.press("Continue")
    await answer_until(chat)
    await chat.press("Edit the summary")
    await chat.say("cancel")  # the cancel question
    data = {b.data for b in chat.seen}
    assert len(data) > 20
    assert [d for d in data if not d.startswith("/form ")] == []
    assert [d for d in data if not fits(d)] == []
    # A choice button names its question, so a press from an earlier message is recognised.
    assert "/form choose 1 dsl_consulted" in data


async def test_threshold_buttons_are_threshold_commands(chat: Chat) -> None:
    await chat.say("/threshold")
    assert [b.data for b in chat.buttons] == [
        f"/threshold yes {FIRST_QUESTION}",
        f"/threshold no {FIRST_QUESTION}",
        f"/threshold not-sure {FIRST_QUESTION}",
        f"/threshold help {FIRST_QUESTION}",
        f"/threshold cancel {FIRST_QUESTION}",
    ]


async def test_signin_buttons_are_signin_commands(chat: Chat) -> None:
    await chat.say("/signin")
    assert [b.data for b in chat.buttons] == ["/signin cancel"]
    await chat.say(SIGNIN_ADDRESS)
    assert [b.data for b in chat.buttons] == ["/signin back", "/signin cancel"]


# --- buttons of the previous release ----------------------------------------------------------


async def test_old_choice_button_answers_like_the_new_one(assistant: Assistant) -> None:
    """Until this release a choice button sent the option's text."""
    new, old = await slo_chat(assistant, "test:new"), await slo_chat(assistant, "test:old")
    for chat in (new, old):
        await reach(chat, "dsl_consulted")
    await new.press("Yes")
    await send(old, "Yes")
    assert new.replies[-1].id == old.replies[-1].id == "dsl_name"
    assert new.text == old.text


async def test_a_choice_button_of_an_earlier_question_is_not_used(slo: Chat) -> None:
    await reach(slo, "dsl_consulted")
    yes = data_of(slo, "Yes")
    await slo.press("Yes")
    assert slo.replies[-1].id == "dsl_name"
    await send(slo, yes)
    assert "That button belongs to another question." in slo.text
    assert slo.replies[-1].id == "dsl_name", "still at the question it was at"


async def test_old_tick_button_ticks_like_the_new_one(assistant: Assistant) -> None:
    """Until this release a multi_choice option sent "/form pick <n>", without its question."""
    new, old = await slo_chat(assistant, "test:new"), await slo_chat(assistant, "test:old")
    for chat in (new, old):
        await reach(chat, "legal_status")
    assert data_of(new, "Child in need") == "/form pick 3 legal_status"
    await new.press("Child in need")
    await send(old, "/form pick 3")
    assert [b.label for b in new.buttons] == [b.label for b in old.buttons]
    assert "✓ Child in need" in [b.label for b in old.buttons]


async def test_a_tick_button_of_an_earlier_question_is_not_used(slo: Chat) -> None:
    await reach(slo, "legal_status")
    tick = data_of(slo, "Child in need")
    await answer_until(slo, "reasons")
    await send(slo, tick)
    assert "That button belongs to another question." in slo.text
    assert not any(b.label.startswith("✓") for b in slo.buttons), "nothing ticked"


async def test_old_threshold_not_sure_button_answers_like_the_new_one(
    assistant: Assistant,
) -> None:
    """Until this release "Not sure" sent "/threshold not sure <id>" (two words)."""
    new, old = Chat(assistant, "test:new"), Chat(assistant, "test:old")
    for chat in (new, old):
        await chat.say("/threshold")
    await new.press("Not sure")
    await send(old, f"/threshold not sure {FIRST_QUESTION}")
    assert new.replies[-1].kind == old.replies[-1].kind
    assert new.replies[-1].id == old.replies[-1].id != FIRST_QUESTION
    assert new.text == old.text


@pytest.mark.parametrize(
    ("old", "label", "kind"),
    [("/back", "Back", "signin_email"), ("/cancel", "Cancel", "cancelled")],
)
async def test_old_signin_buttons_act_like_the_new_ones(
    assistant: Assistant, old: str, label: str, kind: str
) -> None:
    """Until this release sign-in's buttons sent the bare /back and /cancel."""
    replies = []
    for chat, press in ((Chat(assistant, "test:new"), label), (Chat(assistant, "test:old"), "")):
        await chat.say("/signin")
        await chat.say(SIGNIN_ADDRESS)
        assert chat.replies[-1].kind == "signin_code"
        await (chat.press(press) if press else send(chat, old))
        replies.append((chat.replies[-1].kind, chat.text))
    assert replies[0] == replies[1]
    assert replies[0][0] == kind


async def test_old_form_buttons_still_work(slo: Chat) -> None:
    """The form's other buttons keep their "/form <action>" data, and bare /back works too."""
    await reach(slo, "dsl_consulted")
    await send(slo, "/form back")
    assert slo.replies[-1].id == "slo_email"
    await slo.say("/back")
    assert slo.replies[-1].id == "slo_phone"


# --- buttons of a flow that has ended ---------------------------------------------------------


async def test_a_signin_button_after_signin_ended_says_so(chat: Chat) -> None:
    await chat.say("/signin")
    cancel = data_of(chat, "Cancel")
    await chat.press("Cancel")
    await send(chat, cancel)
    assert chat.replies[-1].kind == "signin_closed"
    await chat.say(SIGNIN_ADDRESS)  # no sign-in was started by the button
    assert chat.replies[-1].kind != "signin_code"


async def test_a_threshold_button_after_the_check_ended_says_so(chat: Chat) -> None:
    await chat.say("/threshold")
    await chat.press("Cancel")
    await send(chat, f"/threshold not-sure {FIRST_QUESTION}")
    assert chat.replies[-1].kind == "threshold-stale"
    assert "already finished or was cancelled" in chat.text


# --- "submit" after a submission --------------------------------------------------------------


async def test_submit_typed_after_another_flow_names_the_reference(slo: Chat) -> None:
    await start_form(slo)
    await answer_until(slo)
    await slo.press("Submit")
    reference = slo.replies[-1].id
    assert reference and reference.startswith("SIN-")
    await slo.say("/threshold")  # replaces the session the reference was remembered in
    await slo.say("cancel")
    for typed in ("submit", "Submit it!", "submit the form"):
        await slo.say(typed)
        assert f"already submitted. Its reference is {reference}" in slo.text, typed
        assert slo.replies[-1].kind == "already_submitted"


async def test_submit_typed_in_a_chat_that_never_submitted_is_a_question(chat: Chat) -> None:
    await chat.say("submit")
    assert chat.replies[-1].kind != "already_submitted"


# --- "in progress", and a flow's own command typed mid-flow -------------------------------------


async def test_threshold_during_signin_names_it_and_asks_again(chat: Chat) -> None:
    await chat.say("/signin")
    await chat.say(SIGNIN_ADDRESS)
    await chat.say("/threshold")
    assert "You have a sign-in in progress" in chat.text
    assert "Please type the code from the email" in chat.text  # the step, asked again
    await chat.say("/cancel")
    assert chat.replies[-1].kind == "cancelled", "still in sign-in"


async def test_threshold_typed_mid_check_starts_it_again(chat: Chat) -> None:
    await chat.say("/threshold")
    await chat.say("yes")
    question = chat.replies[-1].text
    await chat.say("/threshold")  # the flow's own command: starts the check again
    assert "Starting the check again" in chat.text
    await chat.say("yes")
    assert chat.replies[-1].text == question


# --- one place sets the step ------------------------------------------------------------------


def step_assignments(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of each assignment to a `.step` attribute in `path`."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for target in targets:
                    for part in ast.walk(target):
                        if isinstance(part, ast.Attribute) and part.attr == "step":
                            found.append((name, child.lineno))
            visit(child, name)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def test_no_flow_sets_its_own_step() -> None:
    # Flows return a Turn; the core applies it.
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        assert step_assignments(path) == [], path.relative_to(ROOT)


def test_the_core_sets_a_flows_step_in_one_place() -> None:
    found = step_assignments(ROOT / "bot" / "core" / "conversation.py")
    assert [f[0] for f in found] == ["apply"]


def test_the_rule_sees_a_step_set_anywhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def _ask(ctx):\n    ctx.session.flow, ctx.session.step = 'a', 'b'\n", encoding="utf-8"
    )
    assert step_assignments(module) == [("_ask", 2)]


# --- which replies are private: one rule ------------------------------------------------------


async def test_what_is_said_while_the_form_or_signin_is_open_is_private(
    assistant: Assistant, slo: Chat
) -> None:
    chat = Chat(assistant, "test:2")
    await chat.say("/signin")
    assert not any(r.private for r in chat.replies), "opening sign-in only explains"
    await chat.say(SIGNIN_ADDRESS)
    assert chat.replies and all(r.private for r in chat.replies), "the address's reply"
    await chat.say("/status")  # a command typed while sign-in is open
    assert all(r.private for r in chat.replies)

    await slo.say("/notify")
    assert all(r.private for r in slo.replies), "opening the form"
    await slo.say("/status")
    assert all(r.private for r in slo.replies)
    await slo.say("cancel")
    await slo.say("/status")
    assert not any(r.private for r in slo.replies), "the form is closed"
