"""A Teams activity as the conversation reads it, and a Reply as Teams shows it.

In: a typed message (in a group chat or a channel, only one that @mentions the bot, the
mention removed) or a pressed button (its data, sent back by the card). Out: the reply's text
as escaped HTML (Teams' "xml" format: nobody's text is ever read as markup), its buttons and
links as an Adaptive Card below it: a button is an Action.Submit whose messageBack shows the
label in the chat and sends the data; a link is an Action.OpenUrl.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from microsoft_agents.activity import Activity, ActivityTypes, Attachment

from bot.core.replies import Reply

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
# Teams shows at most this many actions in a row: longer lists take several rows.
ACTIONS_PER_ROW = 5
PERSONAL = "personal"
# The key of a pressed button's data in the card's submitted value.
BUTTON_KEY = "button"


@dataclass(frozen=True)
class Said:
    """What the person said: typed text, or a pressed button's data."""

    text: str
    pressed: bool = False


def is_personal(activity: Activity) -> bool:
    kind = activity.conversation.conversation_type if activity.conversation else None
    return kind in (None, PERSONAL)


def read(activity: Activity) -> Said | None:
    """The message in `activity` for the conversation, or None (not a message, or in a group
    chat or channel one that does not @mention the bot)."""
    if activity.type == ActivityTypes.conversation_update:
        return _installed(activity)
    if activity.type != ActivityTypes.message:
        return None
    value = activity.value
    if isinstance(value, dict) and isinstance(value.get(BUTTON_KEY), str):
        return Said(value[BUTTON_KEY], pressed=True)
    if not is_personal(activity) and not activity.is_recipient_mentioned():
        return None
    text = activity.remove_recipient_mention() if not is_personal(activity) else activity.text
    text = (text or "").strip()
    return Said(text) if text else None


def _installed(activity: Activity) -> Said | None:
    """The bot added to a personal chat: it says hello, as /start does elsewhere."""
    bot = activity.recipient.id if activity.recipient else None
    added = {member.id for member in activity.members_added or ()}
    return Said("/start") if is_personal(activity) and bot in added else None


def personal_chat_link(app_id: str) -> str:
    """A link that opens a personal chat with the bot in Teams."""
    return f"https://teams.microsoft.com/l/chat/0/0?users={quote('28:' + app_id)}"


def to_html(reply: Reply) -> str:
    body = html.escape(reply.text, quote=False).replace("\n", "<br>")
    if reply.title:
        return f"<b>{html.escape(reply.title, quote=False)}</b><br>{body}"
    return body


def card(reply: Reply) -> dict[str, Any] | None:
    """The reply's links and buttons as an Adaptive Card, or None when it has neither."""
    actions: list[dict[str, Any]] = [
        {"type": "Action.OpenUrl", "title": link.label, "url": link.url} for link in reply.links
    ]
    actions += [
        {
            "type": "Action.Submit",
            "title": button.label,
            "data": {
                "msteams": {
                    "type": "messageBack",
                    "displayText": button.label,
                    "text": button.data,
                },
                BUTTON_KEY: button.data,
            },
        }
        for button in reply.buttons
    ]
    if not actions:
        return None
    rows = [
        {"type": "ActionSet", "actions": actions[i : i + ACTIONS_PER_ROW]}
        for i in range(0, len(actions), ACTIONS_PER_ROW)
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": rows,
    }


def to_activity(reply: Reply) -> Activity:
    """One reply as a message activity: its text, and its card if it has buttons or links. A
    document (a briefing's .docx) cannot go to a bot's chat without Teams' file consent: the
    text says where to get it."""
    text = to_html(reply)
    for file in reply.files:
        text += "<br><br>" + html.escape(
            f"The Word document ({file.filename}) cannot be sent in Teams: the web chat, "
            "Telegram or email give it.",
            quote=False,
        )
    activity = Activity(type=ActivityTypes.message, text=text, text_format="xml")
    content = card(reply)
    if content is not None:
        activity.attachments = [Attachment(content_type=CARD_TYPE, content=content)]
    return activity


def typing() -> Activity:
    return Activity(type=ActivityTypes.typing)
