"""Board administrators' commands: /unanswered and /reload.

Only a chat signed in with an address in the registry's `administrators` list may use them;
anyone else is told so, and how to sign in. /reload re-reads and validates the knowledge base and
the registry together: if either has a problem, neither is replaced and the problems are shown.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.conversation import Command, Context
from bot.replies import Reply
from config.registry import load_registry
from handlers.notification import FLOW_NAME as NOTIFY_FLOW
from handlers.signin import Access
from knowledge.loader import load_knowledge
from knowledge.validation import KnowledgeError

log = logging.getLogger(__name__)

UNANSWERED_LIMIT = 30
PROBLEMS_SHOWN = 40  # enough to fix a bad edit; a long list would be split into many messages


class Admin:
    def __init__(self, access: Access) -> None:
        self.access = access

    def only(self, command: Command, name: str) -> Command:
        """`command`, for board administrators only."""

        async def guarded(ctx: Context, arg: str) -> list[Reply]:
            if await self.access.is_admin(ctx):
                return await command(ctx, arg)
            return [
                Reply(
                    f"Only board administrators can use /{name}. If you are one, sign in first "
                    "with /signin, using the address the board registered for you.",
                    kind="not_allowed",
                )
            ]

        return guarded

    async def unanswered(self, ctx: Context, arg: str) -> list[Reply]:
        """/unanswered: the latest questions the knowledge base could not answer."""
        questions = await ctx.storage.unanswered(UNANSWERED_LIMIT)
        if not questions:
            return [Reply("No unanswered questions so far.", kind="unanswered")]
        lines = [
            f"- {time.strftime('%d %b %Y %H:%M', time.localtime(at))}: {question}"
            for question, at in questions
        ]
        return [
            Reply(
                "\n".join(lines),
                kind="unanswered",
                title=f"The last {len(questions)} question(s) I could not answer, newest first",
            )
        ]

    async def reload(self, ctx: Context, arg: str) -> list[Reply]:
        """/reload: re-read knowledge and registry; keep the old ones if either is invalid."""
        settings = ctx.settings
        problems: list[str] = []
        try:
            # Parsing and indexing take seconds for a large catalogue: off the event loop, so
            # other chats are answered meanwhile.
            knowledge = await asyncio.to_thread(
                load_knowledge, settings.path(settings.knowledge_dir)
            )
        except KnowledgeError as exc:
            problems += exc.problems
        try:
            registry = await asyncio.to_thread(load_registry, settings.path(settings.registry_file))
        except KnowledgeError as exc:
            problems += exc.problems
        if problems:
            log.warning("reload refused: %d problem(s)", len(problems))
            shown = problems[:PROBLEMS_SHOWN]
            more = len(problems) - len(shown)
            return [
                Reply(
                    "\n".join(shown) + (f"\n...and {more} more (run `check`)." if more else ""),
                    kind="reload_failed",
                    title=f"Nothing reloaded: {len(problems)} problem(s). The previous version "
                    "stays in use.",
                )
            ]
        ctx.conversation.replace_knowledge(knowledge)
        signed_out = await self.access.use_registry(registry, ctx.storage)
        # This chat's own session is saved after we return: clear its draft here too, or the save
        # would bring it back.
        if ctx.session.flow == NOTIFY_FLOW and await self.access.officer(ctx) is None:
            ctx.session.reset()
        await ctx.storage.audit("reload", ctx.chat, at=self.access.clock())
        log.info("chat %s reloaded knowledge and registry", ctx.chat)
        return [
            Reply(
                f"Reloaded: {len(knowledge.topics)} topics, {len(knowledge.reports)} reports; "
                f"{len(registry.officers)} liaison officer(s), {len(registry.administrators)} "
                f"administrator(s). Chats signed out because their address is no longer "
                f"registered: {len(signed_out)}.",
                kind="reloaded",
            )
        ]
