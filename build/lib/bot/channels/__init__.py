"""Channel adapters: each turns its channel's input into an `Incoming` and renders the `Reply`s.
Telegram (telegram.py over telegram_http.py), the console, and email (email/)."""

from __future__ import annotations

import sys


def import_telegram() -> None:
    """Import python-telegram-bot without Telegram Passport's cryptography.

    PTB imports `cryptography` whenever it is installed (the Teams channel's token checks need
    it installed), to decrypt Telegram Passport data, which the assistant never asks for: 10 MB
    resident in every bot process. Hidden while PTB is imported, PTB simply leaves Passport
    off; afterwards anything that needs cryptography (Teams) imports it as usual. Call it
    before the first import of `telegram`; once either is imported, it does nothing."""
    if "telegram" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # importing it fails
    try:
        import telegram  # noqa: F401
    finally:
        del sys.modules["cryptography"]
