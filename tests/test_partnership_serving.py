"""One process serving several partnerships: each Telegram bot, and each web chat, answers as
its own partnership behind one HTTP server; an installation administrator's /reload starts a
partnership newly listed (and stops one no longer listed) with no restart; each partnership's
retention is its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.installation import Installation, PollingBots, Workers
from bot.ops.retention import apply_retention
from bot.server import SECRET_HEADER, Service, server_for
from config.settings import InstallationSettings, Secret, SettingsError, load_installation
from tests.conftest import Chat
from tests.packs_support import BEDFORD, SMALL_KNOWLEDGE, VALE, two_packs
from tests.signin_support import Mailbox, sign_in
from tests.telegram_support import FakeBotApi
from tests.test_concurrency import wait_for
from tests.test_web import message
from tests.web_support import new_page

BEDFORD_ADMIN = "board.admin@example.org"


def write_settings(
    tmp_path: Path, listed: list[str], extra: str = "", entry: dict[str, str] | None = None
) -> Path:
    """The settings file listing these partnerships; `entry` adds lines to a partnership's
    entry (indented as its keys)."""
    path = tmp_path / "settings.yaml"
    entries = "".join(f"  - id: {p}\n{(entry or {}).get(p, '')}" for p in listed)
    path.write_text(
        f"partnership: {BEDFORD}\n"
        f"partnerships_dir: {tmp_path / 'packs'}\n"
        f"knowledge_dir: {SMALL_KNOWLEDGE}\n"
        f"database: {tmp_path / 'assistant.db'}\n"
        f"installation_admins: [{BEDFORD_ADMIN}]\n"
        f"mail:\n  outbox_dir: {tmp_path / 'outbox'}\n"
        f"{extra}partnerships:\n{entries}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def installation(tmp_path: Path) -> AsyncIterator[Installation]:
    two_packs(tmp_path)
    path = write_settings(tmp_path, [BEDFORD])
    opened = await Installation.open(
        load_installation(path, environ={}), reread=lambda: load_installation(path, environ={})
    )
    await opened.start(Workers())
    yield opened
    await opened.close()


async def test_an_installation_administrators_reload_starts_a_new_partnership(
    installation: Installation, tmp_path: Path
) -> None:
    bedford = installation.assistants[BEDFORD]
    admin = Chat(bedford, "telegram:1")
    await sign_in(admin, Mailbox(bedford), BEDFORD_ADMIN)
    write_settings(tmp_path, [BEDFORD, VALE])
    await admin.say("/reload")
    assert "example-vale: started" in admin.text
    vale = installation.assistants[VALE]
    assert vale.outbox._task is not None, "its outbox worker runs"
    user = Chat(vale, "telegram:2")
    await user.say("/contact")
    assert "evscp@example-vale.org" in user.text
    # No longer listed: stopped once the reply is given; its data stays.
    await user.say("a question nobody can answer about the allotments")
    write_settings(tmp_path, [BEDFORD])
    await admin.say("/reload")
    assert "example-vale: no longer listed; stopped" in admin.text
    assert VALE not in installation.assistants
    await wait_for(lambda: vale.outbox._task is None, "its outbox worker to stop")
    rows = await installation.storage.db.fetch(
        "SELECT question FROM unanswered WHERE partnership = ?", (VALE,)
    )
    assert len(rows) == 1


async def test_a_partnership_administrators_reload_leaves_the_installation_alone(
    installation: Installation, tmp_path: Path
) -> None:
    bedford = installation.assistants[BEDFORD]
    installation.assistants[BEDFORD].settings = dataclasses.replace(
        bedford.settings, installation_admins=()
    )
    admin = Chat(bedford, "telegram:1")
    await sign_in(admin, Mailbox(bedford), BEDFORD_ADMIN)
    write_settings(tmp_path, [BEDFORD, VALE])
    await admin.say("/reload")
    assert "Reloaded" in admin.text and "example-vale" not in admin.text
    assert list(installation.assistants) == [BEDFORD]


async def test_a_reload_that_finds_a_problem_changes_nothing(
    installation: Installation, tmp_path: Path
) -> None:
    bedford = installation.assistants[BEDFORD]
    admin = Chat(bedford, "telegram:1")
    await sign_in(admin, Mailbox(bedford), BEDFORD_ADMIN)
    write_settings(tmp_path, [BEDFORD, VALE, "nowhere"])
    await admin.say("/reload")
    assert "The partnerships were not re-read" in admin.text
    assert "no pack at" in admin.text and "nowhere" in admin.text
    assert list(installation.assistants) == [BEDFORD]


async def test_each_partnership_keeps_its_data_as_long_as_its_own_settings_say(
    installation: Installation, tmp_path: Path
) -> None:
    write_settings(tmp_path, [BEDFORD, VALE])
    await installation.reload()
    bedford, vale = installation.assistants[BEDFORD], installation.assistants[VALE]
    assert (
        vale.settings.retention.unanswered_days,
        bedford.settings.retention.unanswered_days,
    ) == (
        30.0,
        90.0,
    )
    # A question asked 60 days ago in each partnership.
    for assistant in (bedford, vale):
        await assistant.storage.questions.record_unanswered("telegram:5", "an old question")
    await installation.storage.db.execute(
        "UPDATE unanswered SET asked_at = ?", (time.time() - 60 * 86400,)
    )
    for assistant in (bedford, vale):
        await apply_retention(assistant.storage, assistant.settings, time.time())
    assert await vale.storage.questions.unanswered() == []
    assert [q for q, _ in await bedford.storage.questions.unanswered()] == ["an old question"]
    # /privacy says so, each its own.
    for assistant, days in ((vale, "30 days"), (bedford, "90 days")):
        chat = Chat(assistant, "telegram:6")
        await chat.say("/privacy")
        assert days in chat.text


def two_bots(tmp_path: Path, apis: dict[str, FakeBotApi]) -> InstallationSettings:
    """Bedford and Example Vale, each with its own bot on its own fake Bot API."""
    two_packs(tmp_path)
    extra = "telegram:\n  rate_limit: false\n  poll_timeout_seconds: 1\n"
    path = write_settings(tmp_path, [BEDFORD, VALE], extra=extra)
    environ = {
        "TELEGRAM_BOT_TOKEN__BEDFORD_BOROUGH": "1:bedford",
        "TELEGRAM_BOT_TOKEN__EXAMPLE_VALE": "2:vale",
        "TELEGRAM_WEBHOOK_SECRET__BEDFORD_BOROUGH": "bedford-secret",
        "TELEGRAM_WEBHOOK_SECRET__EXAMPLE_VALE": "vale-secret",
    }
    settings = load_installation(path, environ=environ)
    return dataclasses.replace(
        settings,
        partnerships=tuple(
            dataclasses.replace(
                s,
                telegram=dataclasses.replace(
                    s.telegram,
                    base_url=apis[s.partnership].base_url,
                    base_file_url=f"http://127.0.0.1:{apis[s.partnership].port}/file/bot",
                ),
            )
            for s in settings.partnerships
        ),
    )


async def test_two_bots_polled_from_one_process_each_answer_as_their_partnership(
    tmp_path: Path,
) -> None:
    apis = {BEDFORD: FakeBotApi(), VALE: FakeBotApi()}
    for api in apis.values():
        await api.start()
    installation = await Installation.open(two_bots(tmp_path, apis))
    try:
        await installation.start(PollingBots())
        for api in apis.values():
            update = message(80, "/contact")
            del update["update_id"]
            api.queue_update(update)
        for api in apis.values():
            await wait_for(lambda a=api: a.method_calls("sendMessage"), "the reply")
    finally:
        await installation.close()
        for api in apis.values():
            await api.stop()
    assert "lscb@bedford.gov.uk" in apis[BEDFORD].method_calls("sendMessage")[0]["text"]
    assert "evscp@example-vale.org" in apis[VALE].method_calls("sendMessage")[0]["text"]


async def test_two_bots_behind_one_http_server_each_answer_as_their_partnership(
    tmp_path: Path,
) -> None:
    apis = {BEDFORD: FakeBotApi(), VALE: FakeBotApi()}
    for api in apis.values():
        await api.start()
    settings = two_bots(tmp_path, apis)
    assert [s.webhook_secret for s in settings.partnerships] == [
        Secret("bedford-secret"),
        Secret("vale-secret"),
    ]
    installation = await Installation.open(settings)
    service = Service(installation.assistants[BEDFORD], webhook=True)
    await installation.start(service)
    server = server_for(service, "127.0.0.1", 0)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), "the server to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for pid, secret, path_ in (
                (BEDFORD, "bedford-secret", "/telegram"),
                (VALE, "vale-secret", "/telegram/example-vale"),
            ):
                update = message(77, "/contact")
                response = await http.post(path_, json=update, headers={SECRET_HEADER: secret})
                assert response.status_code == 200
                await wait_for(lambda p=pid: apis[p].method_calls("sendMessage"), "the reply")
            # One partnership's secret opens no other's webhook.
            refused = await http.post(
                "/telegram/example-vale",
                json=message(78, "/contact"),
                headers={SECRET_HEADER: "bedford-secret"},
            )
            assert refused.status_code == 403
            ready = (await http.get("/readyz")).json()
            assert set(ready["partnerships"]) == {BEDFORD, VALE}
    finally:
        server.should_exit = True
        await task
        await installation.close()
        for api in apis.values():
            await api.stop()
    bedford_text = apis[BEDFORD].method_calls("sendMessage")[0]["text"]
    vale_text = apis[VALE].method_calls("sendMessage")[0]["text"]
    assert "lscb@bedford.gov.uk" in bedford_text and "vale" not in bedford_text.lower()
    assert "evscp@example-vale.org" in vale_text and "bedford" not in vale_text.lower()
    assert len(apis[VALE].method_calls("sendMessage")) == 1, "the refused update was not handled"


async def test_each_partnerships_web_chat_is_its_own_behind_one_server(tmp_path: Path) -> None:
    two_packs(tmp_path)
    path = write_settings(
        tmp_path,
        [BEDFORD, VALE],
        entry={VALE: "    endpoints:\n      web_site_key: vale-chat\n"},
    )
    installation = await Installation.open(load_installation(path, environ={}))
    service = Service(installation.assistants[BEDFORD], webhook=False)
    await installation.start(service)
    server = server_for(service, "127.0.0.1", 0)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), "the server to start")
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base) as http:
            vale_panel = await http.get("/site/vale-chat/chat")
            assert vale_panel.status_code == 200
            # The panel's files and its cookie are the partnership's own.
            assert 'src="/site/vale-chat/chat/static/panel.js"' in vale_panel.text
            assert "Path=/site/vale-chat/chat;" in vale_panel.headers["set-cookie"]
            assert (await http.get("/site/vale-chat/widget.js")).status_code == 200
            assert (await http.get("/site/no-such-key/widget.js")).status_code == 404
            assert "Path=/chat;" in (await http.get("/chat")).headers["set-cookie"]
        replies = {}
        for pid, where in ((BEDFORD, base), (VALE, f"{base}/site/vale-chat")):
            page = new_page(where)
            await page.connect()
            try:
                replies[pid] = " ".join(r["text"] for r in await page.ask("/contact"))
            finally:
                await page.close()
    finally:
        server.should_exit = True
        await task
        await installation.close()
    assert "lscb@bedford.gov.uk" in replies[BEDFORD] and "vale" not in replies[BEDFORD].lower()
    assert "evscp@example-vale.org" in replies[VALE] and "bedford" not in replies[VALE].lower()


def test_a_site_key_must_fit_in_an_address(tmp_path: Path) -> None:
    two_packs(tmp_path)
    path = write_settings(
        tmp_path,
        [BEDFORD, VALE],
        entry={VALE: "    endpoints:\n      web_site_key: vale/../chat\n"},
    )
    with pytest.raises(SettingsError, match=r"endpoints\.web_site_key"):
        load_installation(path, environ={})
