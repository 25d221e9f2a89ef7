"""The web chat in a real browser: Debian's headless Chromium (/usr/bin/chromium), driven by
Playwright, on the demo page that `python main.py serve` gives without a Telegram token.

What a user sees is compared with what the conversation core itself answers to the same
message (never with the knowledge's wording), the form is the small fixture form, and the
emails arrive at a real SMTP server (aiosmtpd). axe-core (npm, in node_modules/) checks the
page and the panel for WCAG 2.2 AA. One browser and one server serve the module's tests; each
test has a browser context of its own (its own cookie, so its own conversation). A failing
test leaves a screenshot of each of its pages in test-artifacts/.

Without Chromium or axe-core these tests are skipped, except under CI=true, where they fail:
.ci/run installs both.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from bot.assistant import Assistant
from bot.core.replies import Incoming, Reply
from config.settings import Settings, default_settings
from tests.form_fixture import with_fixture_form
from tests.signin_support import SLO, sample_answer
from tests.test_mailer import Recorder, smtp_server
from tests.web_support import ThreadedServer

pytestmark = pytest.mark.slow  # a real Chromium

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
# Flags that work on this machine and in CI (root, no GPU, no network beyond loopback).
# Playwright gives every launch a fresh temporary profile (--user-data-dir) of its own.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LIVE_CONCERN = "a 7 year old just told me her stepdad hits her"
WAIT_MS = 15_000


def needed(path: Path, what: str) -> None:
    if path.exists():
        return
    message = f"{what} is missing ({path}); .ci/run installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser for the module's tests. Not for the session: Playwright's blocking API
    marks an event loop running in this thread while it is open, which the async tests of
    other modules (pytest-asyncio) must not find."""
    needed(CHROMIUM, "Chromium (Debian's chromium package)")
    needed(AXE, "axe-core (npm ci)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def mail() -> Iterator[Recorder]:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        recorder.port = port  # type: ignore[attr-defined]
        yield recorder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mail: Recorder) -> Iterator[ThreadedServer]:
    """`serve` with no Telegram token: the web chat and its demo page, the fixture form and
    the test registry, and email through the SMTP server above."""
    running = ThreadedServer(served_settings(tmp_path_factory.mktemp("webchat"), mail)).start()
    yield running
    running.stop()


def served_settings(tmp: Path, mail: Recorder) -> Settings:
    """The settings a served test runs on: a database and an outbox in `tmp`, email through
    the SMTP server `mail`, the fixture form and the test registry."""
    base = default_settings()
    settings = dataclasses.replace(
        base,
        database=str(tmp / "assistant.db"),
        mail=dataclasses.replace(base.mail, outbox_dir=str(tmp / "outbox")),
        smtp=dataclasses.replace(
            base.smtp,
            host="127.0.0.1",
            port=mail.port,  # type: ignore[attr-defined]
            security="none",
            timeout_seconds=5,
        ),
    )
    return with_fixture_form(settings, tmp)


def watched(browser: Any, **options: Any) -> Any:
    """A new browser context whose pages' script errors (CSP refusals among them) are noted
    in its `errors`."""
    opened = browser.new_context(**options)
    errors: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )

    opened.on("page", watch)
    opened.errors = errors
    return opened


def no_errors(context: Any) -> None:
    assert context.errors == [], context.errors


def keep_screenshots(context: Any, request: pytest.FixtureRequest) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for number, page in enumerate(context.pages):
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{number}.png"))


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A browser context of the test's own; a failing test leaves a screenshot of each page.
    Reduced motion: Playwright waits for a button to stop moving before it presses it, and
    a new message slides in otherwise (the narrow test checks the setting is followed)."""
    opened = watched(browser, viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    yield opened
    keep_screenshots(opened, request)
    opened.close()


# --- what the core answers, and what the page shows --------------------------------------


def expected(server: ThreadedServer, text: str, pressed: bool = False) -> list[Reply]:
    """The core's own replies to `text`, in a chat of their own."""
    chat = f"expected:{time.monotonic_ns()}"

    async def ask(assistant: Assistant) -> list[Reply]:
        return await assistant.conversation.handle(Incoming(chat, text, pressed=pressed))

    return server.call(ask)


# The text a bubble shows, without what only screen readers hear.
BUBBLE_TEXT = """bubble => {
    const copy = bubble.cloneNode(true);
    copy.querySelectorAll('.visually-hidden, .message-buttons, .message-links')
        .forEach(n => n.remove());
    const title = copy.querySelector('.message-title');
    const texts = [...copy.querySelectorAll('.message-text')].map(p => p.textContent);
    return {title: title ? title.textContent : null, text: texts.join('\\n\\n')};
}"""


# The replies of one turn (the number-th, counting from 0), each as BUBBLE_TEXT gives it.
TURN_TEXT = (
    """(log, number) => {
    const show = """
    + BUBBLE_TEXT
    + """;
    const bubbles = [...log.querySelectorAll('.message-assistant')];
    const ends = bubbles.flatMap((b, i) => b.hasAttribute('data-last') ? [i] : []);
    const first = number ? ends[number - 1] + 1 : 0;
    return bubbles.slice(first, ends[number] + 1).map(show);
}"""
)


def shown_as(reply: Reply) -> dict[str, Any]:
    paragraphs = [p for p in re.split(r"\n{2,}", reply.text) if p.strip()]
    return {"title": reply.title, "text": "\n\n".join(paragraphs)}


class Panel:
    """The chat as a user meets it on the demo page: the launcher, then the panel's frame."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.frame: Any = page.frame_locator("iframe.sa-frame")

    def open(self) -> Panel:
        self.page.goto(f"{self.base}/")
        self.page.locator("#sa-launcher").click()
        self.wait_for_turns(1)
        return self

    @property
    def turns(self) -> Any:
        return self.frame.locator(".message-assistant[data-last]")

    def wait_for_turns(self, count: int) -> None:
        self.turns.nth(count - 1).wait_for(timeout=WAIT_MS)

    def say(self, text: str) -> list[dict[str, Any]]:
        """Type `text`, press Enter, and return the turn's replies as shown."""
        before = self.turns.count()
        box = self.frame.locator("#message")
        box.fill(text)
        box.press("Enter")
        return self.replies_after(before)

    def press(self, label: str) -> list[dict[str, Any]]:
        """Press the last button labelled `label`, and return the turn's replies as shown."""
        before = self.turns.count()
        self.frame.locator(".button-choice", has_text=label).last.click()
        return self.replies_after(before)

    def replies_after(self, turns: int) -> list[dict[str, Any]]:
        """The replies of the turn after the first `turns`, as shown (once it has come)."""
        self.wait_for_turns(turns + 1)
        log = self.frame.locator("#log")
        return list(log.evaluate(TURN_TEXT, turns))

    def last(self) -> Any:
        return self.frame.locator(".message-assistant").last

    def buttons(self) -> dict[str, str]:
        return {
            b.text_content(): b.text_content() for b in self.last().locator(".button-choice").all()
        }

    def log_text(self) -> str:
        return str(self.frame.locator("#log").text_content())

    def axe(self) -> None:
        """axe-core on the page and inside the panel: no WCAG 2.2 AA violation."""
        source = AXE.read_text(encoding="utf-8")
        for name, target in (("page", self.page.main_frame), ("panel", self.panel_frame())):
            target.evaluate(source)  # the DevTools protocol runs it whatever the page's CSP
            violations = target.evaluate(
                "async tags => (await axe.run(document, "
                "{runOnly: {type: 'tag', values: tags}, iframes: false})).violations"
                ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))",
                WCAG,
            )
            assert violations == [], f"axe, {name}: {violations}"

    def panel_frame(self) -> Any:
        frame = self.page.frame(url=re.compile(r"/chat$"))
        assert frame is not None, "the panel's frame is not open"
        return frame


def open_panel(context: Any, server: ThreadedServer) -> Panel:
    return Panel(context.new_page(), server.base).open()


# --- the tests ---------------------------------------------------------------------------


def test_a_question_with_the_keyboard_alone_and_axe_finds_nothing(
    context: Any, server: ThreadedServer
) -> None:
    page = context.new_page()
    page.goto(f"{server.base}/")
    page.keyboard.press("Shift+Tab")  # from the top of the page back to its last control
    assert page.evaluate("document.activeElement.id") == "sa-launcher"
    page.keyboard.press("Enter")
    panel = Panel(page, server.base)
    panel.wait_for_turns(1)
    # The panel took the focus: typing goes into its message box.
    focused = panel.panel_frame().evaluate("document.activeElement.id")
    assert focused == "message"
    page.keyboard.type("what is an SCR")
    page.keyboard.press("Enter")
    replies = panel.replies_after(1)
    assert replies == [shown_as(r) for r in expected(server, "what is an SCR")]
    # The focus order: from the message box, Send; from the top, the safety route first.
    frame = panel.panel_frame()
    page.keyboard.press("Tab")
    assert frame.evaluate("document.activeElement.id") == "send"
    outline = frame.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "the focused control shows no focus"
    frame.evaluate("document.getElementById('urgent').focus()")
    page.keyboard.press("Tab")
    assert frame.evaluate("document.activeElement.id") == "close"
    page.keyboard.press("Tab")
    assert frame.evaluate("document.activeElement.id") == "log"
    # New messages are announced, and every control has a name.
    assert frame.evaluate("document.getElementById('log').getAttribute('aria-live')") == "polite"
    panel.axe()
    # Escape closes the panel and gives the focus back to the button that opened it.
    page.keyboard.press("Escape")
    page.locator("#sa-chat").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "sa-launcher"
    no_errors(context)


def test_a_button_is_a_button_and_a_report_is_a_link(context: Any, server: ThreadedServer) -> None:
    panel = open_panel(context, server)
    first = panel.say("what is an SCR")
    assert first == [shown_as(r) for r in expected(server, "what is an SCR")]
    button = expected(server, "what is an SCR")[0].buttons[0]
    after_press = panel.press(button.label)
    assert after_press == [shown_as(r) for r in expected(server, button.data, pressed=True)]

    report = expected(server, "pelka")
    assert panel.say("pelka") == [shown_as(r) for r in report]
    links = [link for reply in report for link in reply.links]
    assert links, "the core gave the report no link"
    shown = panel.last().locator(".message-links a").first
    assert shown.get_attribute("href") == links[0].url
    assert shown.get_attribute("target") == "_blank"
    assert "noopener" in str(shown.get_attribute("rel"))
    assert links[0].label in str(shown.text_content())
    no_errors(context)


def test_a_live_concern_gets_the_safety_route_in_full(context: Any, server: ThreadedServer) -> None:
    panel = open_panel(context, server)
    route = expected(server, LIVE_CONCERN)
    assert panel.say(LIVE_CONCERN)[0] == shown_as(route[0])
    assert panel.frame.locator(".message-urgent").count() == 1
    # The button in the panel's header: /urgent, every contact in full.
    before = panel.turns.count()
    panel.frame.locator("#urgent").click()
    full = panel.replies_after(before)
    assert full == [shown_as(r) for r in expected(server, "/urgent")]
    contacts = server.settings.contacts
    for key in ("emergency", "front_door", "out_of_hours", "police", "lado"):
        contact = contacts.get(key)
        assert contact.phone in full[0]["text"], key
    # Another tab of the conversation: the concern's words were not kept.
    other = Panel(context.new_page(), server.base).open()
    log = other.log_text()
    assert "stepdad" not in log
    assert "It is not kept here." in log
    no_errors(context)


def code_from(mail: Recorder, address: str, before: int) -> str:
    """The sign-in code in the newest email to `address` since `before` messages."""
    deadline = time.monotonic() + 15
    while True:
        fresh = [m for m in mail.received[before:] if address in m.rcpt_tos]
        if fresh:
            body = fresh[-1].message.get_body(("plain",))
            assert body is not None
            return str(re.findall(r"\b\d{6}\b", body.get_content())[0])
        assert time.monotonic() < deadline, "no sign-in email arrived"
        time.sleep(0.05)


def sign_in(panel: Panel, mail: Recorder) -> None:
    panel.say("/notify")
    before = len(mail.received)
    panel.say(SLO)
    replies = panel.say(code_from(mail, SLO, before))
    assert any("signed in" in r["text"] for r in replies), replies


# The last message's text and its buttons' labels, in one look.
LAST_STEP = """log => {
    const last = [...log.querySelectorAll('.message-assistant')].pop();
    return {
        text: [...last.querySelectorAll('.message-text')].map(p => p.textContent).join('\\n\\n'),
        labels: [...last.querySelectorAll('.button-choice')].map(b => b.textContent),
    };
}"""


def answer_step(panel: Panel, form: Any, answers: dict[str, str]) -> bool:
    """Answer the form's current step as a user would; False once the summary is reached."""
    step = panel.frame.locator("#log").evaluate(LAST_STEP)
    text, labels = step["text"], step["labels"]
    if "Submit" in labels:
        return False
    if "Start" in labels:
        panel.press("Start")
    elif "Is this right?" in text:
        panel.press("Yes")
    else:
        asked = [f for f in form.fields if f.prompt in text]
        assert asked, f"not a question of the form: {text!r}"
        field = max(asked, key=lambda f: len(f.prompt))
        panel.say(answers.get(field.id) or sample_answer(field))
    return True


async def _form(assistant: Assistant) -> Any:
    return assistant.conversation.knowledge.form


def test_sign_in_and_the_whole_form_through_a_reload_and_a_second_tab_end_in_one_email(
    context: Any, server: ThreadedServer, mail: Recorder
) -> None:
    """The notification as an SLO meets it on the web: sign in with the code from the email,
    answer, reload the page mid-form (the step is kept), answer one step in a second tab (both
    tabs show it), finish, submit: exactly one email reaches the partnership."""
    panel = open_panel(context, server)
    form = server.call(_form)
    sign_in(panel, mail)
    agency = "Browser Test Agency"
    answers = {"agency": agency}
    for _ in range(3):
        answer_step(panel, form, answers)
    step = panel.last().evaluate(BUBBLE_TEXT)
    # Reload mid-form: the panel opens again by itself, at the same step.
    turns = panel.turns.count()
    panel.page.reload()
    panel.wait_for_turns(turns)
    assert panel.last().evaluate(BUBBLE_TEXT) == step
    # A second tab shows the same conversation, and what is answered there shows here too.
    tab = Panel(context.new_page(), server.base).open()
    tab.wait_for_turns(turns)  # the whole history, not only its first turn
    assert tab.last().evaluate(BUBBLE_TEXT) == step
    answer_step(tab, form, answers)
    panel.wait_for_turns(turns + 1)
    assert panel.last().evaluate(BUBBLE_TEXT) == tab.last().evaluate(BUBBLE_TEXT)
    tab.page.close()

    for _ in range(80):
        if not answer_step(panel, form, answers):
            break
    before = len(mail.received)
    submitted = panel.press("Submit")
    reference = re.findall(r"SIN-\d{4}-\d{4}", " ".join(r["text"] for r in submitted))[0]
    board = server.settings.mail.board_addresses

    def notifications() -> list[Any]:
        return [
            m
            for m in mail.received[before:]
            if reference.encode() in m.raw and any(address in m.rcpt_tos for address in board)
        ]

    deadline = time.monotonic() + 15
    while not notifications():
        assert time.monotonic() < deadline, "the notification email did not arrive"
        time.sleep(0.05)
    time.sleep(0.5)  # time for a second copy to arrive, if one were sent
    assert len(notifications()) == 1
    # After the submission the form's questions and answers are gone from the page's history;
    # the reference stays.
    panel.page.reload()
    panel.wait_for_turns(1)
    panel.page.wait_for_function(
        "ref => document.querySelector('iframe.sa-frame').contentDocument.body"
        ".textContent.includes(ref)",
        arg=reference,
    )
    assert agency not in panel.log_text()
    no_errors(context)


def test_html_in_a_message_is_shown_and_never_run(context: Any, server: ThreadedServer) -> None:
    panel = open_panel(context, server)
    attack = '<img src=x onerror="window.parent.pwned=1"><b>bold</b><script>pwned=2</script>'
    panel.say(attack)
    own = panel.frame.locator(".message-user").last
    assert own.locator(".message-text").text_content() == attack
    assert panel.frame.locator("#log img, #log b, #log script").count() == 0
    assert panel.page.evaluate("window.pwned") is None
    assert panel.panel_frame().evaluate("window.pwned") is None
    no_errors(context)


def test_a_page_of_another_site_gets_no_chat(context: Any, server: ThreadedServer) -> None:
    """A site not in web.origins: the widget is refused, the panel will not show in its
    frame, and its socket is refused."""
    page = context.new_page()
    evil = "http://evil.example"
    page.route(
        f"{evil}/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<!doctype html><html lang="en"><title>x</title>'
            f'<script src="{server.base}/widget.js"></script>'
            f'<iframe id="framed" src="{server.base}/chat" title="x"></iframe></html>',
        ),
    )
    page.goto(f"{evil}/")
    assert page.locator("#sa-launcher").count() == 0, "the widget was served to another site"
    framed = page.frame(url=re.compile(r"/chat$"))
    assert framed is None or framed.evaluate("document.getElementById('log')") is None
    opened = page.evaluate(
        """address => new Promise(done => {
            const socket = new WebSocket(address);
            socket.onopen = () => done('open');
            socket.onerror = () => done('refused');
        })""",
        server.base.replace("http://", "ws://") + "/chat/socket",
    )
    assert opened == "refused"


def test_narrow_zoomed_and_with_reduced_motion(
    browser: Any, server: ThreadedServer, request: pytest.FixtureRequest
) -> None:
    """320 CSS pixels wide (a phone, or 1280 pixels at 400%) and 640 x 360 (200% zoom):
    the panel fills the window without sideways scrolling; motion follows the setting."""
    for width, height in ((320, 640), (640, 360)):
        context = watched(
            browser, viewport={"width": width, "height": height}, reduced_motion="reduce"
        )
        try:
            panel = open_panel(context, server)
            panel.say("what is an SCR")
            frame = panel.panel_frame()
            box = panel.page.locator("#sa-chat").bounding_box()
            assert box == {"x": 0, "y": 0, "width": width, "height": height}
            assert frame.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            ), "the panel scrolls sideways"
            assert panel.frame.locator("#message").is_visible()
            assert panel.frame.locator("#send").is_visible()
            styles = frame.evaluate(
                "[getComputedStyle(document.getElementById('log')).scrollBehavior,"
                " getComputedStyle(document.querySelector('.message')).animationName]"
            )
            assert styles == ["auto", "none"]
            if width == 320:
                panel.axe()
            no_errors(context)
        finally:
            keep_screenshots(context, request)
            context.close()


def test_the_chat_works_where_sockets_do_not(context: Any, server: ThreadedServer) -> None:
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(f"{server.base}/chat?transport=http")
    panel = Panel(page, server.base)
    panel.frame = page.main_frame  # the panel on its own, not in the widget's frame
    panel.wait_for_turns(1)
    assert panel.say("what is an SCR") == [shown_as(r) for r in expected(server, "what is an SCR")]
    assert sockets == []
    no_errors(context)
