"""Builds the assistant: settings -> knowledge, storage and the wired conversation.

`wire` is the one place where commands and flows are connected to the conversation core.
Channels (console, Telegram) receive a ready `Assistant` and only translate messages.
"""

from __future__ import annotations

from bot.assistant import Assistant
from bot.core.conversation import Conversation
from bot.core.loading import load_all
from bot.mail.outbox import Outbox
from bot.mail.transport import make_transport
from bot.ops.retention import RetentionJob
from bot.storage import Storage
from config.registry import Registry, load_registry
from config.settings import Settings
from handlers import (
    admin,
    general,
    handoff,
    learning,
    privacy,
    questions,
    reports,
    safety,
    threshold,
)
from handlers.notification import flow as notification
from handlers.signin import Access, SignIn


def wire(conversation: Conversation, access: Access) -> None:
    """Connect every command and flow. The order of described commands is the menu's order."""
    add = conversation.add_command
    sign_in = SignIn(access)
    board = admin.Admin(access)
    # Safety first: a live concern gets the safety route before commands' flows or matching
    # (bot/core/conversation.py `_screen`), and /urgent heads the menu.
    conversation.safety = questions.screen
    # What is said while the form or sign-in is open is private: the one rule, for every turn.
    conversation.privacy = privacy.private_turn
    add("urgent", safety.urgent, "a child may be at risk: who to call")
    add("start", general.start, "who I am and what I can do")
    add("help", general.help_, "how to ask, and the commands")
    add("reviews", general.reviews, "the types of review")
    add("reports", reports.list_reports, "browse the partnership's reports and briefings")
    add("threshold", threshold.threshold, "does this case need a notification or a review?")
    add("briefing", learning.briefing_command, "a 7-minute briefing on a review or a theme")
    # Sign-in goes in front of the form: only a registered SLO gets in, with their details.
    add(
        "notify",
        sign_in.gate(notification.start),
        "notify the partnership of a significant incident",
    )
    add("status", notification.status, "the notifications you have submitted")
    add("signin", sign_in.signin, "sign in (agency Liaison Officers and partnership staff)")
    add("signout", sign_in.signout, "sign out of this chat")
    add("contact", general.contact, "how to reach the partnership's staff")
    add("privacy", privacy.privacy, "what I keep, where, for how long, and who receives it")
    add("cancel", general.cancel, "stop what is in progress")
    # Board administrators only; not in the menu.
    add("unanswered", board.only(board.unanswered, "unanswered"))
    add("reload", board.only(board.reload, "reload"))
    add("outbox", board.only(board.outbox, "outbox"))
    # Hidden commands: the data behind buttons.
    add("topic", questions.show_topic)
    add("learning", learning.learning_command)  # a review's findings, reviews on a theme
    add("others", questions.show_others)  # "Not what you meant?" after an uncertain answer
    add("report", reports.show_report)
    add("narrow", reports.narrow)  # a question narrowing a choice among many documents
    add("form", notification.form_closed)  # a notification form's button, once the form is closed
    add("handoff", handoff.start)  # "Ask the partnership", offered by the fallback
    conversation.add_flow(threshold.ThresholdFlow())
    conversation.add_flow(notification.FLOW)
    conversation.add_flow(sign_in.flow)
    conversation.add_flow(handoff.HandoffFlow())


async def build_assistant(
    settings: Settings, database: str | None = None, storage: Storage | None = None
) -> Assistant:
    """Load and validate knowledge and the registry (raise KnowledgeError), open storage (or use
    `storage`, this partnership's view of an installation's database), wire the conversation.
    The registry must be the one in use on the database for this partnership (else
    RegistryChanged: `apply_registry` or /reload changes it, deliberately)."""
    loaded = load_all(settings)
    knowledge, registry = loaded.knowledge, loaded.registry
    opened = storage is None
    if storage is None:
        storage = await open_storage(settings, database)
    access = Access(registry)
    try:
        await access.start_with(registry, storage, settings.registry_path)
    except BaseException:
        if opened:
            await storage.close()
        raise
    conversation = Conversation(
        knowledge,
        storage,
        settings,
        # The fallback offers the hand-off to the partnership when email is configured.
        free_text=notification.with_submitted(handoff.with_offer(questions.respond)),
        answerer=questions.answer_in_flow,
    )
    wire(conversation, access)
    outbox = Outbox(storage, make_transport(settings), settings, conversation)
    conversation.outbox_waker = outbox.wake
    outbox.admin_chats = lambda: access.admin_chats(storage)
    retention = RetentionJob(storage, settings)
    return Assistant(storage, conversation, outbox, access, retention)


async def apply_registry(settings: Settings) -> tuple[Registry, list[str]]:
    """`python main.py registry apply`: put the registry file in use on the database (chats
    whose address it no longer lists are signed out); returns it and the chats signed out.
    Raises KnowledgeError if the file is invalid (nothing changes then)."""
    registry = load_registry(settings.registry_path)
    storage = await open_storage(settings)
    try:
        return registry, await Access(registry).use_registry(registry, storage)
    finally:
        await storage.close()


async def open_storage(settings: Settings, database: str | None = None) -> Storage:
    """The database of `settings` (or `database`), as its partnership's storage."""
    return await Storage.open(
        database or settings.database_target(),
        settings.partnership,
        default_partnership=settings.default_partnership,
    )
