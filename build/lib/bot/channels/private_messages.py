"""The chat messages that carry form content, remembered until a submission deletes them.

Channel-neutral bookkeeping for an adapter that can delete messages (Telegram). The core marks
replies `private`; the rule here is mechanical: a reply's messages are private when the reply
is, and so is the user's message when any reply to it is. The refs are kept in the database so a
restart between the first answer and the submit loses none. When a turn's replies include the
"submitted" reply, every remembered ref of the chat is handed back for deletion; the submitted
reply itself is never remembered, so the reference stays in the chat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.core.replies import SUBMITTED, Reply
from bot.storage import Storage


class PrivateMessages:
    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock

    async def after_turn(
        self,
        chat: str,
        user_ref: str | None,
        replies: Sequence[Reply],
        sent: Sequence[Sequence[str]],
    ) -> list[str]:
        """Record one turn; return the refs to delete now (empty unless this turn submitted).

        `sent[i]` holds the refs of the messages that rendered `replies[i]`.
        """
        refs = [
            ref for reply, ids in zip(replies, sent, strict=True) if reply.private for ref in ids
        ]
        if user_ref is not None and any(r.private for r in replies):
            refs.append(user_ref)
        if any(r.kind == SUBMITTED for r in replies):
            return [*await self.storage.private.take_private_messages(chat), *refs]
        if refs:
            await self.storage.private.remember_private_messages(chat, refs, self.clock())
        return []
