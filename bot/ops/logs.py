"""Logging set-up that keeps secrets and personal data out of the logs.

Libraries would otherwise leak: httpx logs every request URL, and Bot API URLs contain the
bot token; aiohttp (the Bot API client) can name a URL at DEBUG; python-telegram-bot logs
message texts at DEBUG. Their loggers are held at
WARNING, and a filter on the handler masks any configured secret that slips through anyway.
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


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    # sys.stderr as it is at the call, not at import: a caller may have redirected it.
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([settings.telegram_token, settings.smtp_password]))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
