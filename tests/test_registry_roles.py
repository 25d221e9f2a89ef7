"""The partnership's staff in its registry, each with a role: `staff` may sign in, `admin` may also
run the assistant (/unanswered, /outbox, /reload); the older `administrators:` list still works."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.core.loading import load_all
from config.registry import load_registry
from config.settings import Settings
from config.validation import KnowledgeError
from tests.conftest import Chat
from tests.signin_support import Mailbox, sign_in

ROOT = Path(__file__).resolve().parent.parent

REGISTRY = """
liaison_officers:
  - id: council
    name: Robin Tester
    agency: Testshire Council
    email: robin.tester@example.org
staff:
  - email: Boss.Person@example.org
    role: admin
    name: Boss Person
  - email: helper.person@example.org
    role: staff
administrators:
  - old.admin@example.org
"""


def test_roles_from_staff_and_the_older_administrators_list(tmp_path: Path) -> None:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(path)
    assert registry.role("boss.person@example.org") == "admin"
    assert registry.role("HELPER.person@example.org") == "staff"
    assert registry.role("old.admin@example.org") == "admin"
    assert registry.role("robin.tester@example.org") is None
    assert registry.administrators == {"boss.person@example.org", "old.admin@example.org"}
    assert registry.is_staff("helper.person@example.org")
    assert not registry.is_admin("helper.person@example.org")
    assert registry.knows("helper.person@example.org")
    assert registry.member("boss.person@example.org").name == "Boss Person"  # type: ignore[union-attr]


def test_a_wrong_role_or_two_roles_are_named(tmp_path: Path) -> None:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(
        "liaison_officers: []\n"
        "staff:\n"
        "  - {email: a@example.org, role: boss}\n"
        "  - {email: b@example.org, role: staff, colour: blue}\n"
        "  - {email: b@example.org, role: admin}\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as caught:
        load_registry(path)
    assert caught.value.problems == [
        "liaison_officers.yaml: staff[1]: role: must be staff or admin, not 'boss'",
        "liaison_officers.yaml: staff[2]: colour: unknown field (allowed: email, name, role)",
        "liaison_officers.yaml: b@example.org: role: listed as both staff and admin",
    ]


async def test_staff_sign_in_but_only_admins_run_the_assistant(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    assistant = await build_assistant(dataclasses.replace(settings, registry_file=str(path)))
    try:
        mailbox = Mailbox(assistant)
        helper = Chat(assistant, "test:staff")
        await sign_in(helper, mailbox, "helper.person@example.org")
        assert "member of the partnership's staff" in helper.text
        await helper.say("/unanswered")
        assert helper.replies[0].kind == "not_allowed"
        boss = Chat(assistant, "test:admin")
        await sign_in(boss, mailbox, "boss.person@example.org")
        await boss.say("/unanswered")
        assert boss.replies[0].kind == "unanswered"
    finally:
        await assistant.close()


def test_a_registry_that_passed_is_read_again_the_same_and_an_edit_is_checked_in_full(
    settings: Settings, tmp_path: Path
) -> None:
    # The cache keeps that this very file passed (bot/core/loading.py): its addresses are not
    # checked again at the next start, but any edit to it is.
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    settings = dataclasses.replace(
        settings, registry_file=str(path), cache_dir=str(tmp_path / "cache")
    )
    first = load_all(settings, semantic=False).registry
    assert list((tmp_path / "cache").glob("registry-*.passed"))
    again = load_all(settings, semantic=False).registry
    assert again == first == load_registry(path)
    path.write_text(REGISTRY.replace("helper.person@example.org", "helper.person@"), "utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_all(settings, semantic=False)
    assert caught.value.problems == [
        "liaison_officers.yaml: staff[2]: email: not an email address: 'helper.person@'"
    ]
    path.write_text(REGISTRY, encoding="utf-8")
    assert load_all(settings, semantic=False).registry == first
    # That a second `ask` then does not import the address checker at all: tests/
    # test_lean_imports.py, with the other libraries a warm start leaves out.
