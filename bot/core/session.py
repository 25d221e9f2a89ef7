"""One chat's place in the conversation: which flow, which step, and the flow's own data.

The core loads it before a message and saves it after (bot/core/conversation.py); storage
(bot/storage/sessions.py) reads and writes it, and a flow changes it only through a `Turn`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Session:
    """One chat's place in a conversation: which flow, which step, and the flow's own data."""

    chat: str
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    # (flow, step, data as JSON) as last loaded or saved: a save that would write the same
    # is skipped (most messages, questions answered outside any flow, change nothing).
    # A Session built by hand (or copied with dataclasses.replace) has none: it is written.
    stored: tuple[str | None, str | None, str] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def snapshot(self) -> tuple[str | None, str | None, str]:
        return (self.flow, self.step, json.dumps(self.data))

    def reset(self) -> None:
        self.flow, self.step, self.data = None, None, {}
