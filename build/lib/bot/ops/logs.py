"""Logging set-up that keeps secrets and personal data out of the logs.

Libraries would otherwise leak: httpx logs every request URL, and Bot API URLs contain the bot
token; aiohttp (the Bot API client) can name a URL at DEBUG; python-telegram-bot logs message
texts at DEBUG; the Teams SDK names conversations and Teams ids; uvicorn names each WebSocket's
network address. Their loggers are held at WARNING (uvicorn's lines about connections are
dropped), and a filter on the handler masks any configured secret that slips through anyway.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from config.settings import Secret, Settings

# bm25s sets its own logger to DEBUG and announces every index it builds.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "aiohttp",
    "telegram",
    "aiosqlite",
    "mail.log",
    "asyncio",
    "bm25s",
    "websockets",
    # the Teams SDK names conversations and people's Teams ids at INFO, and a refused call's
    # response at ERROR; the channel logs what matters itself, by type
    "microsoft_agents",
)


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__()
        self._values = [s.reveal() for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            message = record.getMessage()
            if any(v in message for v in self._values):
                for value in self._values:
                    message = message.replace(value, "**********")
                record.msg, record.args = message, None
        return True


class NoConnectionLines(logging.Filter):
    """uvicorn logs every WebSocket with the browser's network address (personal data) and
    every connection opening and closing (a line per page view), and at DEBUG each socket's
    handshake, cookie included (the key to a web conversation): none of it goes in our logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("uvicorn"):
            return True
        if record.levelno <= logging.DEBUG:
            return False
        return not isinstance(record.msg, str) or not (
            record.msg.startswith('%s - "WebSocket')
            or record.msg in ("connection open", "connection closed")
        )


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    # sys.stderr as it is at the call, not at import: a caller may have redirected it.
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(
        RedactSecrets(
            [settings.telegram_token, settings.smtp_password, settings.teams_app_password]
        )
    )
    handler.addFilter(NoConnectionLines())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
