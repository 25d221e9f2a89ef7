"""A reply as the JSON a page of the web chat draws.

The page builds every element itself and sets text with textContent, so nothing here is HTML
and nothing needs escaping: a message that contains markup is shown as typed. A link keeps
only the schemes a page may follow (a `javascript:` address would run in the panel).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.core.replies import Reply

LINK_SCHEMES = frozenset(("http", "https", "mailto", "tel"))


def safe_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in LINK_SCHEMES


def reply_body(reply: Reply, reply_to: str | None, last: bool = True) -> dict[str, Any]:
    """One reply: its kind (the safety route is drawn apart), title, text, buttons, links, the
    client id of the message it answers, and whether it is the turn's last (the page stops
    showing "waiting")."""
    return {
        "kind": reply.kind,
        "title": reply.title,
        "text": reply.text,
        "buttons": [{"label": b.label, "data": b.data} for b in reply.buttons],
        "links": [{"label": k.label, "url": k.url} for k in reply.links if safe_url(k.url)],
        "reply_to": reply_to,
        "last": last,
    }


def user_body(text: str, client_id: str, kept: bool) -> dict[str, Any]:
    """The user's own message, as every page of the conversation shows it. Not kept (a live
    concern, a message about one child): the pages show that it was sent, not what it said."""
    return {"text": text if kept else None, "client_id": client_id}
