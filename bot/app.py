"""Builds the assistant: settings -> knowledge, storage and the wired conversation.

`wire` is the one place where commands and flows are connected to the conversation core.
Channels (console, Telegram) receive a ready `Assistant` and only translate messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversation import Conversation
from bot.storage import Storage
from config.settings import Settings
from handlers import general, questions, reports
from knowledge.loader import Knowledge, load_knowledge


@dataclass
class Assistant:
    settings: Settings
    knowledge: Knowledge
    storage: Storage
    conversation: Conversation

    async def close(self) -> None:
        await self.storage.close()


def wire(conversation: Conversation) -> None:
    """Connect every command and flow. The order of described commands is the menu's order."""
    add = conversation.add_command
    add("start", general.start, "who I am and what I can do")
    add("help", general.help_, "how to ask, and the commands")
    add("reviews", general.reviews, "the types of review")
    add("reports", reports.list_reports, "browse the board's reports and briefings")
    add("cancel", general.cancel, "stop what is in progress")
    # Hidden commands: the data behind buttons.
    add("topic", questions.show_topic)
    add("report", reports.show_report)


async def build_assistant(settings: Settings, database: str | None = None) -> Assistant:
    """Load and validate knowledge (raises KnowledgeError), open storage, wire the conversation."""
    knowledge = load_knowledge(settings.path(settings.knowledge_dir))
    storage = await Storage.open(database or settings.path(settings.database))
    conversation = Conversation(
        knowledge, storage, settings, free_text=questions.respond, answerer=questions.answer_in_flow
    )
    wire(conversation)
    return Assistant(settings, knowledge, storage, conversation)
